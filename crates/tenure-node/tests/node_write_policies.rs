//! Each write policy, in virtual time: exactly when writes happen, and the writes
//! every policy makes on recall, idle release, eviction and shutdown.

mod support;

use std::sync::Arc;
use std::time::Duration;

use tenure_core::{SessionId, WritePolicy};
use tenure_node::{Node, NodeConfig};
use tenure_store::{MemoryStore, Store};
use tenure_test::CountingStore;

struct Rig {
    store: CountingStore<MemoryStore>,
    shared: Arc<dyn Store>,
    node: Node,
    id: SessionId,
}

async fn rig(policy: WritePolicy, tweak: impl FnOnce(&mut NodeConfig)) -> Rig {
    let store = CountingStore::new(MemoryStore::new());
    let shared: Arc<dyn Store> = Arc::new(store.clone());
    let mut config = support::config();
    config.write_policy = policy;
    tweak(&mut config);
    let node = Node::start(shared.clone(), config).await.unwrap();
    let id = support::new_counter_session(&node).await;
    Rig {
        store,
        shared,
        node,
        id,
    }
}

impl Rig {
    fn commits(&self) -> u64 {
        self.store.counts().commit
    }

    async fn bump(&self, id: &SessionId) {
        let mut s = self.node.session(Some(id.clone()));
        *s.get_mut::<u64>("counter").await.unwrap().unwrap() += 1;
        s.end().await.unwrap();
    }

    async fn read(&self) {
        let mut s = self.node.session(Some(self.id.clone()));
        s.get::<u64>("counter").await.unwrap();
        s.end().await.unwrap();
    }

    async fn stored(&self, id: &SessionId) -> Option<u64> {
        support::stored(&*self.shared, id, "counter").await
    }

    async fn wait(&self, d: Duration) {
        support::advance_in_steps(d).await;
    }
}

#[tokio::test(start_paused = true)]
async fn i12_end_of_request_writes_before_each_modifying_request_completes() {
    let r = rig(WritePolicy::end_of_request(), |_| {}).await;
    for i in 1..=3 {
        r.bump(&r.id).await;
        assert_eq!(r.commits(), i);
        assert_eq!(r.stored(&r.id).await, Some(i));
    }
    r.read().await;
    assert_eq!(r.commits(), 3, "a read-only request writes nothing");
}

#[tokio::test(start_paused = true)]
async fn every_t_writes_t_after_the_last_write() {
    let t = Duration::from_secs(10);
    let r = rig(WritePolicy::every(t), |c| {
        c.idle_release = Duration::from_secs(600)
    })
    .await; // written at 0 s
    r.wait(Duration::from_secs(1)).await;
    r.bump(&r.id).await; // 1 s: due at 10 s
    r.bump(&r.id).await;
    assert_eq!(r.commits(), 0);
    r.wait(Duration::from_millis(8_999)).await; // 9.999 s
    assert_eq!(r.commits(), 0, "not before T since the last write");
    r.wait(Duration::from_millis(2)).await; // 10.001 s
    assert_eq!(r.commits(), 1, "written at T");
    assert_eq!(r.stored(&r.id).await, Some(2));
    r.wait(Duration::from_secs(30)).await;
    assert_eq!(r.commits(), 1, "nothing unwritten, nothing written");
    r.bump(&r.id).await; // 40 s, last write 10 s ago: due at once
    assert_eq!(r.commits(), 2);
    r.bump(&r.id).await; // dirty again, due at 50 s
    r.wait(Duration::from_millis(9_999)).await;
    assert_eq!(r.commits(), 2);
    r.wait(Duration::from_millis(2)).await;
    assert_eq!(r.commits(), 3);
    assert_eq!(r.stored(&r.id).await, Some(4));
}

#[tokio::test(start_paused = true)]
async fn after_n_updates_writes_at_the_nth_update() {
    let r = rig(WritePolicy::after_updates(3), |_| {}).await;
    r.bump(&r.id).await;
    r.bump(&r.id).await;
    assert_eq!(r.commits(), 0);
    r.bump(&r.id).await;
    assert_eq!(r.commits(), 1);
    assert_eq!(r.stored(&r.id).await, Some(3));
    // Three attributes changed in one request are three updates.
    let mut s = r.node.session(Some(r.id.clone()));
    for name in ["x", "y", "z"] {
        s.insert(name, 1u8).await.unwrap();
    }
    s.end().await.unwrap();
    assert_eq!(r.commits(), 2);
}

#[tokio::test(start_paused = true)]
async fn after_n_requests_writes_at_the_end_of_the_nth_request() {
    let r = rig(WritePolicy::after_requests(3), |_| {}).await;
    r.bump(&r.id).await;
    r.read().await;
    assert_eq!(r.commits(), 0);
    r.read().await;
    assert_eq!(r.commits(), 1, "third request since the last write");
    assert_eq!(r.stored(&r.id).await, Some(1));
    for _ in 0..5 {
        r.read().await;
    }
    assert_eq!(r.commits(), 1, "nothing unwritten, nothing written");
}

#[tokio::test(start_paused = true)]
async fn manual_writes_only_when_asked() {
    let r = rig(WritePolicy::manual(), |_| {}).await;
    for _ in 0..5 {
        r.bump(&r.id).await;
    }
    r.wait(Duration::from_secs(20)).await;
    assert_eq!(r.commits(), 0);
    assert_eq!(r.stored(&r.id).await, Some(0));
    r.node.flush(&r.id).await.unwrap();
    assert_eq!(r.commits(), 1);
    assert_eq!(r.stored(&r.id).await, Some(5));
    r.node.flush(&r.id).await.unwrap();
    assert_eq!(r.commits(), 1, "a clean session is not written again");
}

#[tokio::test(start_paused = true)]
async fn combined_policy_writes_at_whichever_comes_first() {
    let r = rig(
        WritePolicy::every(Duration::from_secs(10)).or_after_updates(3),
        |_| {},
    )
    .await;
    r.bump(&r.id).await;
    r.bump(&r.id).await;
    r.bump(&r.id).await;
    assert_eq!(r.commits(), 1, "N updates came first");
    r.bump(&r.id).await; // at 0 s; last write 0 s
    r.wait(Duration::from_millis(10_001)).await;
    assert_eq!(r.commits(), 2, "T came first");
}

#[tokio::test(start_paused = true)]
async fn recall_flushes_unwritten_changes() {
    let r = rig(WritePolicy::manual(), |_| {}).await;
    r.bump(&r.id).await;
    let other = Node::start(r.shared.clone(), support::config())
        .await
        .unwrap();
    let mut s = other.session(Some(r.id.clone()));
    assert_eq!(s.get::<u64>("counter").await.unwrap(), Some(1));
    s.end().await.unwrap();
    assert_eq!(r.commits(), 1);
    assert!(r.store.last_commit_payload().unwrap().release);
    assert_eq!(r.node.stats().recalls, 1);
}

#[tokio::test(start_paused = true)]
async fn idle_release_flushes_after_the_idle_time() {
    let r = rig(WritePolicy::manual(), |c| {
        c.idle_release = Duration::from_secs(30)
    })
    .await;
    r.bump(&r.id).await;
    r.wait(Duration::from_millis(29_999)).await;
    assert_eq!(r.commits(), 0, "not idle yet");
    assert!(r.node.holds(&r.id));
    // Idleness is checked at each renewal tick (every 5 s).
    r.wait(r.node.config().renew_interval).await;
    assert_eq!(r.commits(), 1);
    assert!(r.store.last_commit_payload().unwrap().release);
    assert!(!r.node.holds(&r.id));
    assert_eq!(r.stored(&r.id).await, Some(1));
    assert_eq!(r.node.stats().idle_releases, 1);
}

#[tokio::test(start_paused = true)]
async fn eviction_flushes_the_least_recently_used_session() {
    let r = rig(WritePolicy::manual(), |c| c.max_held = 2).await;
    r.bump(&r.id).await; // the first session: dirty, least recently used once others come
    r.wait(Duration::from_millis(1)).await;
    let second = support::new_counter_session(&r.node).await;
    assert_eq!(r.commits(), 0);
    r.wait(Duration::from_millis(1)).await;
    let _third = support::new_counter_session(&r.node).await;
    support::settle().await;
    assert_eq!(
        r.commits(),
        1,
        "the LRU session was written as it was evicted"
    );
    assert!(r.store.last_commit_payload().unwrap().release);
    assert!(!r.node.holds(&r.id));
    assert!(r.node.holds(&second));
    assert_eq!(r.stored(&r.id).await, Some(1));
    assert_eq!(r.node.stats().evictions, 1);
}

#[tokio::test(start_paused = true)]
async fn eviction_keeps_a_busy_table_within_max_held_and_writes_every_victim() {
    // 64 allowed: each eviction scan frees room for 64/32 = 2 more, so 200 new
    // sessions are evicted in batches, never more than the excess plus 2 at once.
    let r = rig(WritePolicy::manual(), |c| c.max_held = 64).await;
    let mut ids = vec![r.id.clone()];
    for _ in 0..200 {
        let id = support::new_counter_session(&r.node).await;
        r.bump(&id).await;
        ids.push(id);
        support::settle().await;
    }
    r.wait(Duration::from_millis(10)).await;
    let held = ids.iter().filter(|id| r.node.holds(id)).count();
    assert!(held <= 64, "{held} sessions held with max_held 64");
    assert!(held >= 64 - 2, "evicted more than a batch: {held} held");
    assert_eq!(r.node.stats().evictions as usize, ids.len() - held);
    assert!(
        r.node.holds(ids.last().unwrap()),
        "the newest session stays"
    );
    for id in ids.iter().filter(|id| !r.node.holds(id)) {
        let want = if *id == r.id { 0 } else { 1 };
        assert_eq!(
            r.stored(id).await,
            Some(want),
            "a victim's change was written"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn shutdown_flushes_every_held_session() {
    let r = rig(WritePolicy::manual(), |_| {}).await;
    let second = support::new_counter_session(&r.node).await;
    r.bump(&r.id).await;
    r.bump(&second).await;
    r.bump(&second).await;
    assert_eq!(r.commits(), 0);
    r.node.shutdown().await.unwrap();
    assert_eq!(r.commits(), 2);
    assert_eq!(
        (r.stored(&r.id).await, r.stored(&second).await),
        (Some(1), Some(2))
    );
    assert_eq!(r.node.held_count(), 0);
    let err = r
        .node
        .session(Some(r.id.clone()))
        .get::<u64>("counter")
        .await
        .unwrap_err();
    assert!(
        matches!(err, tenure_node::SessionError::ShuttingDown),
        "{err}"
    );
}

/// I10: a flush marks an attribute clean only if no request changed it while the
/// commit was in flight. Here a request changes the counter while a manual flush's
/// commit is on the wire (its reply delayed): the next flush must still write it.
#[tokio::test(start_paused = true)]
async fn i10_a_change_during_an_in_flight_commit_stays_dirty() {
    let faulty = tenure_test::FaultyStore::new(MemoryStore::new());
    let shared: Arc<dyn Store> = Arc::new(faulty.clone());
    let mut config = support::config();
    config.write_policy = WritePolicy::manual();
    let node = Node::start(shared.clone(), config).await.unwrap();
    let id = support::new_counter_session(&node).await;
    let bump = |to: u64| {
        let (node, id) = (node.clone(), id.clone());
        async move {
            let mut s = node.session(Some(id));
            s.insert("counter", to).await.unwrap();
            s.end().await.unwrap();
        }
    };
    bump(1).await;
    faulty.set_reply_delay(Duration::from_millis(500));
    let flush = tokio::spawn({
        let (node, id) = (node.clone(), id.clone());
        async move { node.flush(&id).await }
    });
    support::settle().await;
    assert!(!flush.is_finished(), "the first commit is in flight");
    bump(2).await; // changes the counter while the commit of 1 is in flight
    flush.await.unwrap().unwrap();
    faulty.set_reply_delay(Duration::ZERO);
    assert_eq!(
        support::stored::<u64>(&shared, &id, "counter").await,
        Some(1)
    );
    node.flush(&id).await.unwrap();
    assert_eq!(
        support::stored::<u64>(&shared, &id, "counter").await,
        Some(2),
        "the change made during the first commit was still dirty"
    );
}
