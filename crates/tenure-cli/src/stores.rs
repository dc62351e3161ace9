//! The `--store` option: the embedded store, Redis / Redis Cluster or PostgreSQL by
//! URL.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use tenure_postgres::{PostgresConfig, PostgresStore};
use tenure_redis::{RedisConfig, RedisStore};
use tenure_store::{Inspect, MemoryStore, Store};

/// Where sessions live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// The embedded store, in this process (`memory`).
    Memory,
    /// Redis (`redis://host:port`, `rediss://...`) or Redis Cluster
    /// (`redis-cluster://host:port?node=host:port`).
    Redis(String),
    /// PostgreSQL (`postgres://user@host:port/database`, `postgresql://...`).
    Postgres(String),
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
            Some("postgres" | "postgresql") => Ok(Self::Postgres(s.to_string())),
            _ => Err(format!(
                "`{s}`: use `memory`, `redis://host:port`, `redis-cluster://host:port` \
                 or `postgres://user@host:port/database`"
            )),
        }
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory => f.write_str("memory"),
            Self::Redis(url) | Self::Postgres(url) => f.write_str(url),
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
    /// PostgreSQL.
    Postgres(PostgresStore),
}

/// Why a store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Redis or Redis Cluster.
    #[error(transparent)]
    Redis(#[from] tenure_redis::ConnectError),
    /// PostgreSQL.
    #[error(transparent)]
    Postgres(#[from] tenure_postgres::ConnectError),
}

impl Backend {
    /// Opens the store `url` names; `prefix` is the Redis key prefix, or on
    /// PostgreSQL the schema ([`schema_for`]).
    pub async fn open(url: &StoreUrl, prefix: &str) -> Result<Self, OpenError> {
        Ok(match url {
            StoreUrl::Memory => Self::Memory(MemoryStore::new()),
            StoreUrl::Redis(url) => Self::Redis(
                RedisStore::connect(RedisConfig::new(url.clone()).prefix(prefix)).await?,
            ),
            StoreUrl::Postgres(url) => Self::Postgres(
                PostgresStore::connect(PostgresConfig::new(url.clone()).schema(schema_for(prefix)))
                    .await?,
            ),
        })
    }

    /// The store, shareable by nodes.
    pub fn shared(&self) -> Arc<dyn Store> {
        match self {
            Self::Memory(s) => Arc::new(s.clone()),
            Self::Redis(s) => Arc::new(s.clone()),
            Self::Postgres(s) => Arc::new(s.clone()),
        }
    }

    /// The Redis store, if that is what this is.
    pub fn redis(&self) -> Option<&RedisStore> {
        match self {
            Self::Redis(s) => Some(s),
            Self::Memory(_) | Self::Postgres(_) => None,
        }
    }

    /// What operators see of the store; `None` for the embedded store, which lives
    /// inside its own process.
    pub fn inspector(&self) -> Option<Box<dyn Inspect>> {
        match self {
            Self::Memory(_) => None,
            Self::Redis(s) => Some(Box::new(tenure_redis::Inspector::new(s.clone()))),
            Self::Postgres(s) => Some(Box::new(s.clone())),
        }
    }

    /// Closes the store's connections (Redis says goodbye; the others close on drop).
    pub async fn quit(&self) {
        if let Self::Redis(s) = self {
            s.quit().await;
        }
    }
}

/// The PostgreSQL schema for a key prefix: lower case, every character but `a-z`,
/// `0-9` and `_` made `_`, a leading digit prefixed with `t_`, at most 63 bytes. So
/// `--prefix tenure-demo-1` uses the schema `tenure_demo_1`.
pub fn schema_for(prefix: &str) -> String {
    let mut schema: String = prefix
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '_') => c,
            _ => '_',
        })
        .collect();
    if schema.is_empty() || schema.starts_with(|c: char| c.is_ascii_digit()) {
        schema.insert_str(0, "t_");
    }
    schema.truncate(63);
    schema
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
        assert_eq!(
            "postgres://app@127.0.0.1/app".parse(),
            Ok(StoreUrl::Postgres("postgres://app@127.0.0.1/app".into()))
        );
        assert!("postgresql://x".parse::<StoreUrl>().is_ok());
        assert!("mysql://x".parse::<StoreUrl>().is_err());
        assert!("".parse::<StoreUrl>().is_err());
    }

    #[test]
    fn prefixes_become_plain_schema_names() {
        assert_eq!(schema_for("tenure"), "tenure");
        assert_eq!(schema_for("tenure-demo-1"), "tenure_demo_1");
        assert_eq!(schema_for("Shop.Sessions"), "shop_sessions");
        assert_eq!(schema_for("1st"), "t_1st");
        assert_eq!(schema_for(""), "t_");
        assert_eq!(schema_for(&"x".repeat(100)).len(), 63);
    }
}
