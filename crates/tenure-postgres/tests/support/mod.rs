//! Where the tests find PostgreSQL: `TENURE_POSTGRES_URL` (default the local server's
//! `test` database). Without a reachable server a test prints "skipped", unless
//! `TENURE_REQUIRE_BACKENDS=1` (as in `scripts/test`), which makes it a failure.
//!
//! Every test process works in a schema of its own, `tenure_test_<unix time>_<pid>`;
//! the first test of a process drops such schemas left by processes more than an
//! hour old.
#![allow(dead_code, unreachable_pub)]

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tenure_postgres::{PostgresConfig, PostgresStore};
use tenure_test::backend::{backend_url, backends_required};
use tenure_test::FaultyStore;

/// The URL, if tests should run against a server.
pub fn url() -> Option<String> {
    backend_url(
        "TENURE_POSTGRES_URL",
        Some("postgres://postgres@127.0.0.1:5432/test"),
    )
}

/// This process's schema.
pub fn schema() -> &'static str {
    static SCHEMA: OnceLock<String> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        format!("tenure_test_{now}_{}", std::process::id())
    })
}

/// True if a server answers at the URL; drops schemas of old test processes.
pub fn reachable() -> bool {
    static REACHABLE: OnceLock<bool> = OnceLock::new();
    *REACHABLE.get_or_init(|| {
        let Some(url) = url() else { return false };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let ok = rt.block_on(async {
            match tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
                Ok((client, connection)) => {
                    tokio::spawn(connection);
                    drop_old_schemas(&client).await;
                    true
                }
                Err(e) => {
                    assert!(
                        !backends_required(),
                        "PostgreSQL at {url} is required (TENURE_REQUIRE_BACKENDS=1): {e}"
                    );
                    false
                }
            }
        });
        if !ok {
            eprintln!("skipped: no PostgreSQL at {url}");
        }
        ok
    })
}

async fn drop_old_schemas(client: &tokio_postgres::Client) {
    let rows = client
        .query(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenure\\_test\\_%'",
            &[],
        )
        .await
        .expect("list test schemas");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    for row in rows {
        let name: String = row.get(0);
        let born = name
            .split('_')
            .nth(2)
            .and_then(|t| t.parse::<u64>().ok())
            .map(Duration::from_secs);
        if born.is_some_and(|b| now.saturating_sub(b) > Duration::from_secs(3600)) {
            let _ = client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                .await;
        }
    }
}

/// The tests' settings: this process's schema, a short sweep.
pub fn config() -> PostgresConfig {
    PostgresConfig::new(url().expect("checked by `reachable`"))
        .schema(schema())
        .pool_size(4)
        .sweep_interval(Duration::from_millis(200))
}

/// A store in this process's schema.
pub async fn connect() -> PostgresStore {
    PostgresStore::connect(config())
        .await
        .expect("connect to PostgreSQL")
}

/// Same, with every hint discarded on arrival.
pub async fn connect_lossy() -> FaultyStore<PostgresStore> {
    let store = FaultyStore::new(connect().await);
    store.drop_hints(true);
    store
}
