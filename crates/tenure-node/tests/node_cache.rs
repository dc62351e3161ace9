//! A held session serves reads with no store call, and each modifying request costs
//! exactly one store call (its commit) in end-of-request mode.

mod support;

use std::sync::Arc;

use tenure_node::Node;
use tenure_store::MemoryStore;
use tenure_test::CountingStore;

#[tokio::test]
async fn held_session_reads_make_no_store_calls_and_writes_exactly_one_commit() {
    let store = CountingStore::new(MemoryStore::new());
    let node = Node::start(Arc::new(store.clone()), support::config())
        .await
        .unwrap();
    let id = support::new_counter_session(&node).await;

    // A fresh node on the same store acquires the session once.
    let other = Node::start(Arc::new(store.clone()), support::config())
        .await
        .unwrap();
    node.release(&id).await.unwrap();
    let mut first = other.session(Some(id.clone()));
    assert_eq!(first.get::<u64>("counter").await.unwrap(), Some(0));
    first.end().await.unwrap();

    let before = store.counts();
    for _ in 0..1_000 {
        let mut s = other.session(Some(id.clone()));
        assert_eq!(s.get::<u64>("counter").await.unwrap(), Some(0));
        let report = s.end().await.unwrap();
        assert!(!report.written);
    }
    let reads = store.counts() - before;
    assert_eq!(
        reads.total(),
        0,
        "1,000 read-only requests on a held session: {reads:?}"
    );
    assert!(other.stats().cache_hits >= 1_000);

    for i in 1..=100u64 {
        let before = store.counts();
        let mut s = other.session(Some(id.clone()));
        *s.get_mut::<u64>("counter").await.unwrap().unwrap() += 1;
        assert!(s.end().await.unwrap().written);
        let calls = store.counts() - before;
        assert_eq!(calls.commit, 1, "request {i}: {calls:?}");
        assert_eq!(
            calls.total(),
            1,
            "request {i}: only the commit, no acquire or load: {calls:?}"
        );
    }
    assert_eq!(
        support::stored::<u64>(&store, &id, "counter").await,
        Some(100)
    );
    other.shutdown().await.unwrap();
    node.shutdown().await.unwrap();
}
