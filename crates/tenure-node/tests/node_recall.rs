//! Recall: node A holds a session, node B asks for it. A's in-flight request
//! completes, A writes and releases in one commit, and B sees A's last write. Also
//! when every hint is lost: renewals carry the recall and waiters poll.

mod support;

use std::sync::Arc;
use std::time::Duration;

use tenure_node::Node;
use tenure_store::{MemoryStore, Store};
use tenure_test::{CountingStore, FaultyStore};

#[tokio::test(start_paused = true)]
async fn recall_drains_in_flight_request_then_flushes_and_releases_in_one_commit() {
    let store = CountingStore::new(MemoryStore::new());
    let shared: Arc<dyn Store> = Arc::new(store.clone());
    let config = support::config();
    let a = Node::start(shared.clone(), config.clone()).await.unwrap();
    let b = Node::start(shared.clone(), config.clone()).await.unwrap();
    let id = support::new_counter_session(&a).await;

    // A request on A takes the counter and stays in flight.
    let (go, in_flight) = support::in_flight(&a, &id, "counter", |v| *v = 41).await;

    // B asks for the session: it queues at the store and A is recalled.
    let (b2, id3) = (b.clone(), id.clone());
    let reader = tokio::spawn(async move {
        let mut s = b2.session(Some(id3));
        let v = s.get::<u64>("counter").await.unwrap();
        s.end().await.unwrap();
        v
    });
    support::settle().await;
    tokio::time::advance(config.min_hold * 2).await;
    support::settle().await;
    assert!(
        !reader.is_finished(),
        "B waits while A's request is in flight"
    );
    assert!(!a.holds(&id), "A admits no new requests once recalled");

    let before = store.counts();
    go.send(()).unwrap();
    let report = in_flight
        .await
        .unwrap()
        .expect("A's in-flight request completes");
    assert!(
        report.written,
        "its change reached the store before it completed"
    );
    assert_eq!(reader.await.unwrap(), Some(41), "B sees A's last write");

    let calls = store.counts() - before;
    assert_eq!(
        calls.commit, 1,
        "A wrote and released in one commit: {calls:?}"
    );
    let release = store
        .commit_payloads()
        .into_iter()
        .rev()
        .find(|p| !p.optimistic)
        .unwrap();
    assert!(release.release && release.ops == 1, "{release:?}");
    assert_eq!(a.stats().recalls, 1);
    assert!(b.holds(&id));
}

#[tokio::test(start_paused = true)]
async fn recall_works_when_every_hint_is_lost() {
    let faulty = FaultyStore::new(MemoryStore::new());
    faulty.drop_hints(true);
    let shared: Arc<dyn Store> = Arc::new(faulty.clone());
    let mut config = support::config();
    config.write_policy = tenure_core::WritePolicy::manual();
    let a = Node::start(shared.clone(), config.clone()).await.unwrap();
    let b = Node::start(shared.clone(), config.clone()).await.unwrap();
    let id = support::new_counter_session(&a).await;
    let mut s = a.session(Some(id.clone()));
    *s.get_mut::<u64>("counter").await.unwrap().unwrap() = 7;
    s.end().await.unwrap(); // manual policy: only in A's memory

    let started = tokio::time::Instant::now();
    let mut s = b.session(Some(id.clone()));
    assert_eq!(
        s.get::<u64>("counter").await.unwrap(),
        Some(7),
        "B sees A's unwritten change"
    );
    s.end().await.unwrap();
    assert!(faulty.dropped_hints() > 0, "hints were sent and lost");
    assert_eq!(a.stats().recalls, 1);
    // Without hints, A learns of the recall from its next renewal.
    assert!(
        started.elapsed() <= config.renew_interval + config.max_poll * 2,
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn waiters_are_granted_in_fifo_order() {
    let (_, store) = support::memory();
    let config = support::config();
    let nodes = support::nodes(store, 4, &config).await;
    let id = support::new_counter_session(&nodes[0]).await;
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for (i, node) in nodes.iter().enumerate().skip(1) {
        let (node, id, order) = (node.clone(), id.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            let mut s = node.session(Some(id));
            *s.get_mut::<u64>("counter").await.unwrap().unwrap() += 1;
            order.lock().unwrap().push(i);
            s.end().await.unwrap();
        }));
        // Let each queue at the store before the next asks.
        support::settle().await;
        tokio::time::advance(Duration::from_millis(1)).await;
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), vec![1, 2, 3]);
}

#[tokio::test(start_paused = true)]
async fn a_crashed_waiter_does_not_block_the_session_for_a_lease() {
    let (_, store) = support::memory();
    let config = support::config();
    let nodes = support::nodes(store, 3, &config).await;
    let (a, w, b) = (&nodes[0], nodes[1].clone(), &nodes[2]);
    let id = support::new_counter_session(a).await;

    // W queues for the session (which recalls it from A), then crashes mid-wait.
    let id2 = id.clone();
    let waiting = tokio::spawn(async move {
        let mut s = w.session(Some(id2));
        let _ = s.get::<u64>("counter").await;
    });
    support::settle().await;
    waiting.abort();
    drop(nodes[1].clone());

    // B asks next. A gives the session up; it is reserved for W, the head waiter,
    // only until W's place at the store runs out (4 × max_poll), not for a lease.
    let started = tokio::time::Instant::now();
    let mut s = b.session(Some(id.clone()));
    assert_eq!(s.get::<u64>("counter").await.unwrap(), Some(0));
    s.end().await.unwrap();
    let waited = started.elapsed();
    assert!(
        waited <= config.min_hold + config.max_poll * 6,
        "B waited {waited:?}; the lease is {:?}",
        config.lease
    );
}
