//! The principal index on PostgreSQL (issue 15): the attribute rows of 10,000 expired
//! sessions of one principal are never listed, and are gone after a bounded number of
//! sweeps (each removes at most its batch); the reserved names (principal, expiry)
//! survive the trip through `text`. Works in a schema of its own and drops it.

mod support;

use std::time::Duration;

use futures::future::join_all;
use tenure_core::{Bytes, SessionId, PRINCIPAL_ATTR};
use tenure_postgres::PostgresStore;
use tenure_store::{Expiry, Store};

const SESSIONS: usize = 10_000;
const BATCH: u32 = 1000;

async fn principal_rows(store: &PostgresStore, schema: &str, principal: &str) -> i64 {
    let client = store.pool().get().await.unwrap();
    client
        .query_one(
            &format!(
                "SELECT count(*) FROM {schema}.attributes \
                 WHERE name = E'\\uFFFE0tenure.principal' AND value = $1"
            ),
            &[&principal.as_bytes()],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_sessions_of_a_principal_go_in_bounded_sweeps() {
    if !tokio::task::spawn_blocking(support::reachable)
        .await
        .unwrap()
    {
        return;
    }
    let schema = format!("{}_principal", support::schema());
    let config = support::config()
        .schema(schema.clone())
        .sweep_batch(BATCH)
        .sweep_interval(Duration::from_secs(3600));
    let store = PostgresStore::connect(config).await.unwrap();
    let p = "user-42";
    let attrs = vec![(PRINCIPAL_ATTR.to_string(), Bytes::from_static(b"user-42"))];
    let short = Expiry::idle(Duration::from_millis(300));
    for _ in 0..SESSIONS / 100 {
        join_all((0..100).map(|_| {
            let attrs = attrs.clone();
            let store = &store;
            async move {
                let sid = SessionId::generate().unwrap();
                store.create(&sid, attrs, short, None).await.unwrap();
            }
        }))
        .await;
    }
    let keep = SessionId::generate().unwrap();
    let mut kept = attrs.clone();
    kept.push(("\0tenure.expiry".into(), Bytes::from_static(b"reserved")));
    store
        .create(&keep, kept, Expiry::default(), None)
        .await
        .unwrap();
    let snap = store.load(&keep).await.unwrap().unwrap();
    assert_eq!(
        snap.value("\0tenure.expiry").map(|b| &b[..]),
        Some(&b"reserved"[..]),
        "a reserved name reads back as written"
    );
    assert_eq!(
        principal_rows(&store, &schema, p).await,
        SESSIONS as i64 + 1
    );

    tenure_test::wait_until(
        Duration::from_secs(30),
        "the short sessions to expire",
        || {
            let store = store.clone();
            async move { store.sessions_of(p, None).await.unwrap().len() == 1 }
        },
    )
    .await;
    let listed = store.sessions_of(p, None).await.unwrap();
    assert_eq!(listed[0].id, keep, "only the live session is listed");

    let mut sweeps = 0;
    let mut after = Vec::new();
    while principal_rows(&store, &schema, p).await > 1 {
        let removed = store.sweep_expired().await.unwrap();
        assert!(
            removed <= BATCH,
            "one sweep removed {removed}, more than its batch"
        );
        sweeps += 1;
        after.push(principal_rows(&store, &schema, p).await);
        assert!(
            sweeps <= SESSIONS / BATCH as usize + 2,
            "{sweeps} sweeps: {after:?}"
        );
    }
    println!(
        "measured: {SESSIONS} expired principal rows gone in {sweeps} sweeps of at most {BATCH}: {after:?}"
    );
    assert_eq!(store.sessions_of(p, None).await.unwrap().len(), 1);
    let client = store.pool().get().await.unwrap();
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}
