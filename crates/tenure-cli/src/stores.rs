//! The `--store` option: the embedded store, or Redis / Redis Cluster by URL.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use tenure_redis::{RedisConfig, RedisStore};
use tenure_store::{MemoryStore, Store};

/// Where sessions live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// The embedded store, in this process (`memory`).
    Memory,
    /// Redis (`redis://host:port`, `rediss://...`) or Redis Cluster
    /// (`redis-cluster://host:port?node=host:port`).
    Redis(String),
}

impl FromStr for StoreUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "memory" {
            return Ok(Self::Memory);
        }
        let scheme = s.split_once("://").map(|(scheme, _)| scheme);
        match scheme {
            Some("redis" | "rediss" | "redis-cluster" | "rediss-cluster") => {
                Ok(Self::Redis(s.to_string()))
            }
            _ => Err(format!(
                "`{s}`: use `memory`, `redis://host:port` or `redis-cluster://host:port`"
            )),
        }
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory => f.write_str("memory"),
            Self::Redis(url) => f.write_str(url),
        }
    }
}

/// An opened store.
#[derive(Debug, Clone)]
pub enum Backend {
    /// The embedded store.
    Memory(MemoryStore),
    /// Redis or Redis Cluster.
    Redis(RedisStore),
}

impl Backend {
    /// Opens the store `url` names; `prefix` is the Redis key prefix.
    pub async fn open(url: &StoreUrl, prefix: &str) -> Result<Self, tenure_redis::ConnectError> {
        Ok(match url {
            StoreUrl::Memory => Self::Memory(MemoryStore::new()),
            StoreUrl::Redis(url) => Self::Redis(
                RedisStore::connect(RedisConfig::new(url.clone()).prefix(prefix)).await?,
            ),
        })
    }

    /// The store, shareable by nodes.
    pub fn shared(&self) -> Arc<dyn Store> {
        match self {
            Self::Memory(s) => Arc::new(s.clone()),
            Self::Redis(s) => Arc::new(s.clone()),
        }
    }

    /// The Redis store, if that is what this is.
    pub fn redis(&self) -> Option<&RedisStore> {
        match self {
            Self::Memory(_) => None,
            Self::Redis(s) => Some(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls_parse() {
        assert_eq!("memory".parse(), Ok(StoreUrl::Memory));
        assert_eq!(
            "redis://127.0.0.1:6379".parse(),
            Ok(StoreUrl::Redis("redis://127.0.0.1:6379".into()))
        );
        assert!(matches!(
            "redis-cluster://127.0.0.1:7000?node=127.0.0.1:7001".parse::<StoreUrl>(),
            Ok(StoreUrl::Redis(_))
        ));
        assert!("postgres://x".parse::<StoreUrl>().is_err());
        assert!("".parse::<StoreUrl>().is_err());
    }
}
