//! The expiry sweep reclaims rows in bounded batches and nothing grows without
//! bound: 300 sessions that expire (one of them with waiters queued) leave no row
//! behind once a bounded number of sweeps ran, while a session in use past its first
//! sweep mark is marked again, not removed. The test works in a schema of its own
//! and drops it.

mod support;

use std::sync::Arc;
use std::time::Duration;

use tenure_core::{Bytes, OwnerId, SessionId};
use tenure_postgres::PostgresStore;
use tenure_store::{AcquireReply, Expiry, Location, Store};

const SESSIONS: usize = 300;
const BATCH: u32 = 100;

async fn rows(store: &PostgresStore, schema: &str, table: &str) -> i64 {
    let client = store.pool().get().await.unwrap();
    client
        .query_one(&format!("SELECT count(*) FROM {schema}.{table}"), &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_sessions_leave_no_rows_after_a_bounded_number_of_sweeps() {
    // It starts a runtime of its own to ask.
    if !tokio::task::spawn_blocking(support::reachable)
        .await
        .unwrap()
    {
        return;
    }
    let schema = format!("{}_sweep", support::schema());
    // The background sweep stays out of the way: the test calls it itself.
    let config = support::config()
        .schema(schema.clone())
        .sweep_batch(BATCH)
        .sweep_interval(Duration::from_secs(3600));
    let store = PostgresStore::connect(config).await.unwrap();
    let idle = Expiry::idle(Duration::from_millis(300));
    let (a, b) = (
        OwnerId::generate("a").unwrap(),
        OwnerId::generate("b").unwrap(),
    );
    let (lease, wait) = (Duration::from_secs(10), Duration::from_secs(10));
    let mut ids = Vec::new();
    for i in 0..SESSIONS {
        let sid = SessionId::generate().unwrap();
        let attrs = vec![("n".to_string(), Bytes::from(i.to_string()))];
        store.create(&sid, attrs, idle, None).await.unwrap();
        if i == 0 {
            // Waiters on the first session, queued at once (on a loaded machine the
            // other 299 may take longer to create than its idle timeout): their rows
            // must go with it.
            assert!(matches!(
                store.acquire(&sid, &a, lease, wait).await.unwrap(),
                AcquireReply::Granted(_)
            ));
            assert!(matches!(
                store.acquire(&sid, &b, lease, wait).await.unwrap(),
                AcquireReply::Queued { .. }
            ));
        }
        ids.push(sid);
    }
    // One session stays in use past its first mark.
    let busy = SessionId::generate().unwrap();
    // Long enough that a loaded machine keeps it alive between two polls below.
    let busy_idle = Duration::from_millis(1500);
    store
        .create(&busy, vec![], Expiry::idle(busy_idle), None)
        .await
        .unwrap();
    let busy_born = std::time::Instant::now();
    assert_eq!(rows(&store, &schema, "sessions").await, SESSIONS as i64 + 1);
    assert_eq!(rows(&store, &schema, "waiters").await, 1);

    // Past every short session's expiry, with the busy one used meanwhile: still
    // live (its expiry slid), though its first mark has passed.
    let store = Arc::new(store);
    tenure_test::wait_until(
        Duration::from_secs(30),
        "the short sessions expired",
        || {
            let (store, ids, busy) = (store.clone(), ids.clone(), busy.clone());
            async move {
                let _ = store.load(&busy).await;
                // Not `load`, which would count as an access and keep it alive.
                store.locate(&ids[SESSIONS - 1]).await.unwrap() == Location::NotFound
                    && busy_born.elapsed() > busy_idle + Duration::from_millis(100)
            }
        },
    )
    .await;
    // Every call sees them gone at once, before any sweep.
    assert_eq!(store.locate(&ids[0]).await.unwrap(), Location::NotFound);

    let mut sweeps = 0;
    let mut removed = 0;
    while rows(&store, &schema, "sessions").await > 1 {
        removed += store.sweep_expired().await.unwrap();
        sweeps += 1;
        assert!(
            sweeps <= SESSIONS / BATCH as usize + 2,
            "{sweeps} sweeps, {removed} removed"
        );
    }
    println!("{removed} expired sessions removed in {sweeps} sweeps of at most {BATCH}");
    assert_eq!(
        removed as usize, SESSIONS,
        "the sweep removed every expired one"
    );
    // The next one reaches the busy session's mark, which has passed.
    assert_eq!(
        store.sweep_expired().await.unwrap(),
        0,
        "a live session is not removed"
    );
    assert_eq!(rows(&store, &schema, "attributes").await, 0);
    assert_eq!(rows(&store, &schema, "waiters").await, 0);
    assert!(
        store.load(&busy).await.unwrap().is_some(),
        "the busy session stays"
    );
    let client = store.pool().get().await.unwrap();
    let marked_again: bool = client
        .query_one(
            &format!(
                "SELECT sweep_at > created + interval '{} ms' FROM {schema}.sessions",
                busy_idle.as_millis()
            ),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        marked_again,
        "the busy session's passed mark was moved to its new expiry"
    );
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}
