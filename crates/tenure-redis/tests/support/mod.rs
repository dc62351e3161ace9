//! Where the tests find Redis: `TENURE_REDIS_URL` (one server, default the local one
//! on 6379) and `TENURE_REDIS_CLUSTER_URL` (a cluster). Without a reachable server a
//! test prints "skipped", unless `TENURE_REQUIRE_BACKENDS=1` (as in `scripts/test`),
//! which makes it a failure.
#![allow(dead_code, unreachable_pub)]

use tenure_redis::{RedisConfig, RedisStore};
use tenure_test::backend::{backend_url, backends_required};

/// The single-server URL, if tests should run against one.
pub fn single_url() -> Option<String> {
    backend_url("TENURE_REDIS_URL", Some("redis://127.0.0.1:6379"))
}

/// The cluster URL, if tests should run against one.
pub fn cluster_url() -> Option<String> {
    backend_url("TENURE_REDIS_CLUSTER_URL", None)
}

/// True if a server answers at `url`.
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
                assert!(
                    !backends_required(),
                    "Redis at {url} is required (TENURE_REQUIRE_BACKENDS=1): {e}"
                );
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

/// A runtime with two workers, for tests that run tasks side by side.
pub fn multi_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Every key matching `pattern`, on one server or over a cluster.
pub async fn keys_matching(store: &RedisStore, pattern: &str) -> Vec<String> {
    use futures::StreamExt;
    use tenure_redis::fred::interfaces::ClientLike;
    let client = store.client();
    let mut scan = if client.is_clustered() {
        client
            .scan_cluster_buffered(pattern.to_string(), Some(1000), None)
            .boxed()
    } else {
        client
            .scan_buffered(pattern.to_string(), Some(1000), None)
            .boxed()
    };
    let mut out = Vec::new();
    while let Some(key) = scan.next().await {
        if let Some(k) = key.expect("scan").as_str() {
            out.push(k.to_string());
        }
    }
    out
}

/// Deletes every key under `prefix`.
pub async fn remove_all(store: &RedisStore, prefix: &str) {
    use tenure_redis::fred::interfaces::KeysInterface;
    for key in keys_matching(store, &format!("{prefix}:*")).await {
        let _: i64 = store.client().del(&key).await.expect("del");
    }
}

/// The server's clock in ms (`TIME`).
pub async fn server_ms(store: &RedisStore) -> i64 {
    use tenure_redis::fred::interfaces::ClientLike;
    let (secs, micros): (i64, i64) = store
        .client()
        .custom(
            tenure_redis::fred::cmd!("TIME"),
            Vec::<tenure_redis::fred::types::Value>::new(),
        )
        .await
        .expect("TIME");
    secs * 1000 + micros / 1000
}
