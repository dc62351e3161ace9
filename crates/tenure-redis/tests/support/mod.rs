//! Where the tests find Redis: `TENURE_REDIS_URL` (one server) and
//! `TENURE_REDIS_CLUSTER_URL` (a cluster), defaulting to the local server on 6379 for
//! the first. Without a reachable server a test prints "skipped", unless
//! `TENURE_REQUIRE_BACKENDS=1` (as in `scripts/test`), which makes it a failure.
#![allow(dead_code, unreachable_pub)]

use tenure_redis::{RedisConfig, RedisStore};

fn required() -> bool {
    std::env::var("TENURE_REQUIRE_BACKENDS").is_ok_and(|v| v == "1")
}

fn url(var: &str, default: Option<&str>) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            let url = default.map(str::to_string);
            if url.is_none() && required() {
                panic!("{var} is not set, and TENURE_REQUIRE_BACKENDS=1");
            }
            url
        }
    }
}

/// The single-server URL, if tests should run against one.
pub fn single_url() -> Option<String> {
    url("TENURE_REDIS_URL", Some("redis://127.0.0.1:6379"))
}

/// The cluster URL, if tests should run against one.
pub fn cluster_url() -> Option<String> {
    url("TENURE_REDIS_CLUSTER_URL", None)
}

/// True if a server answers at `url` (checked once per test: cheap on loopback).
pub fn reachable(url: Option<String>) -> bool {
    let Some(url) = url else { return false };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let ok = rt.block_on(async {
        match RedisStore::connect(RedisConfig::new(url.clone()).prefix("tenure-test")).await {
            Ok(store) => {
                store.quit().await;
                true
            }
            Err(e) => {
                if required() {
                    panic!("Redis at {url} is required (TENURE_REQUIRE_BACKENDS=1): {e}");
                }
                false
            }
        }
    });
    if !ok {
        eprintln!("skipped: no Redis at {url}");
    }
    ok
}

/// A store on `url` with the tests' key prefix.
pub async fn connect(url: Option<String>) -> RedisStore {
    let url = url.expect("checked by `reachable`");
    RedisStore::connect(RedisConfig::new(url).prefix("tenure-test"))
        .await
        .expect("connect to Redis")
}

/// Same, with every arriving hint discarded.
pub async fn connect_lossy(url: Option<String>) -> RedisStore {
    let store = connect(url).await;
    store.set_drop_hints(true);
    store
}
