//! Idle, cold and evicted sessions with nothing to write go back together, in one
//! `release_many` call, and a batch the store does not confirm loses nothing: its
//! sessions are released one at a time, the same commits sent again (I2a).

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tenure_core::{OwnerId, SessionId};
use tenure_node::{Node, NodeConfig};
use tenure_store::{CommitReply, MemoryStore, Release, Store, StoreError};
use tenure_test::{CountingStore, Forward, Forwarding};

/// How the store treats `release_many` calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Batches {
    Answered,
    /// Refused before anything applies.
    Refused,
    /// Applied, but the reply is lost: the caller sees an error.
    ReplyLost,
}

#[derive(Debug)]
struct BatchFaults {
    inner: Arc<dyn Store>,
    mode: Batches,
    failed: AtomicBool,
}

#[async_trait]
impl Forward for BatchFaults {
    fn inner(&self) -> &dyn Store {
        &*self.inner
    }

    async fn release_many(
        &self,
        owner: &OwnerId,
        items: &[Release],
    ) -> Result<Vec<Result<CommitReply, StoreError>>, StoreError> {
        match self.mode {
            Batches::Answered => self.inner.release_many(owner, items).await,
            Batches::Refused => {
                self.failed.store(true, Ordering::SeqCst);
                Err(StoreError::Unavailable("batch refused".into()))
            }
            Batches::ReplyLost => {
                self.inner.release_many(owner, items).await?;
                self.failed.store(true, Ordering::SeqCst);
                Err(StoreError::Unavailable("reply lost".into()))
            }
        }
    }
}

struct Rig {
    counting: CountingStore<Forwarding<BatchFaults>>,
    faults: Arc<Forwarding<BatchFaults>>,
    memory: Arc<MemoryStore>,
    node: Node,
}

async fn rig(mode: Batches) -> Rig {
    let memory = Arc::new(MemoryStore::new());
    let faults = Arc::new(Forwarding(BatchFaults {
        inner: memory.clone(),
        mode,
        failed: AtomicBool::new(false),
    }));
    let counting = CountingStore::from_arc(faults.clone());
    let mut config: NodeConfig = support::config();
    config.idle_release = Duration::from_secs(10);
    let node = Node::start(Arc::new(counting.clone()), config)
        .await
        .unwrap();
    Rig {
        counting,
        faults,
        memory,
        node,
    }
}

/// `n` sessions, each created with `counter = 0` and then bumped once (the default
/// policy writes each change at the end of its request: nothing stays to write).
async fn sessions(node: &Node, n: usize) -> Vec<SessionId> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let id = support::new_counter_session(node).await;
        let mut s = node.session(Some(id.clone()));
        *s.get_mut::<u64>("counter").await.unwrap().unwrap() += 1;
        s.end().await.unwrap();
        ids.push(id);
    }
    ids
}

/// After the idle time, every session is free at the store (another owner is granted
/// it at once) and holds its last write.
async fn all_given_back(r: &Rig, ids: &[SessionId]) {
    let other = OwnerId::new("other-node").unwrap();
    for id in ids {
        assert!(!r.node.holds(id), "still held after the idle time");
        let lease = Duration::from_secs(30);
        match r.memory.acquire(id, &other, lease, lease).await.unwrap() {
            tenure_store::AcquireReply::Granted(grant) => {
                let bytes = grant.snapshot.attrs.get("counter").map(|a| a.value.clone());
                let value: Option<u64> = bytes.map(|b| rmp_serde_value(&b));
                assert_eq!(value, Some(1), "the last write survives the release");
            }
            other => panic!("released sessions are free at the store, got {other:?}"),
        }
    }
}

fn rmp_serde_value(bytes: &[u8]) -> u64 {
    use tenure_core::Codec;
    tenure_core::MessagePack.decode(bytes).unwrap()
}

#[tokio::test(start_paused = true)]
async fn idle_sessions_with_nothing_to_write_go_back_in_one_call() {
    let r = rig(Batches::Answered).await;
    let ids = sessions(&r.node, 40).await;
    let before = r.counting.counts();
    support::advance_in_steps(Duration::from_secs(16)).await;
    let calls = r.counting.counts() - before;
    assert_eq!(
        calls.released_in_batches, 40,
        "every idle session in a batch"
    );
    assert_eq!(calls.release_many, 1, "one call for the 40: {calls:?}");
    assert_eq!(calls.commit, 0, "no release commit of their own: {calls:?}");
    assert_eq!(r.node.stats().idle_releases, 40);
    assert_eq!(r.node.stats().tenure_lost, 0);
    all_given_back(&r, &ids).await;
}

#[tokio::test(start_paused = true)]
async fn a_refused_batch_is_released_one_at_a_time() {
    let r = rig(Batches::Refused).await;
    let ids = sessions(&r.node, 12).await;
    let before = r.counting.counts();
    support::advance_in_steps(Duration::from_secs(16)).await;
    assert!(
        r.faults.0.failed.load(Ordering::SeqCst),
        "the batch was tried"
    );
    let calls = r.counting.counts() - before;
    assert_eq!(
        calls.commit, 12,
        "each session released by a commit of its own"
    );
    assert_eq!(r.node.stats().idle_releases, 12);
    assert_eq!(r.node.stats().tenure_lost, 0, "nothing dropped as lost");
    all_given_back(&r, &ids).await;
}

#[tokio::test(start_paused = true)]
async fn a_batch_whose_reply_is_lost_is_confirmed_by_sending_it_again() {
    let r = rig(Batches::ReplyLost).await;
    let ids = sessions(&r.node, 12).await;
    support::advance_in_steps(Duration::from_secs(16)).await;
    assert!(
        r.faults.0.failed.load(Ordering::SeqCst),
        "the batch applied, its reply lost"
    );
    // The store had released them: the same commits, sent again, answer
    // AlreadyApplied, so each counts as released, none as lost or in doubt.
    assert_eq!(r.node.stats().idle_releases, 12);
    assert_eq!(r.node.stats().tenure_lost, 0);
    assert_eq!(r.node.stats().outcomes_unknown, 0);
    all_given_back(&r, &ids).await;
}

#[tokio::test(start_paused = true)]
async fn a_session_in_use_is_not_released_with_the_batch() {
    let r = rig(Batches::Answered).await;
    let ids = sessions(&r.node, 5).await;
    // Keep the first one busy (used every second) while the others go idle.
    for _ in 0..16 {
        let mut s = r.node.session(Some(ids[0].clone()));
        s.get::<u64>("counter").await.unwrap();
        s.end().await.unwrap();
        support::advance_in_steps(Duration::from_secs(1)).await;
    }
    assert!(r.node.holds(&ids[0]), "a session in use stays");
    assert_eq!(r.counting.counts().released_in_batches, 4);
    all_given_back(&r, &ids[1..]).await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_gives_back_clean_sessions_in_one_call() {
    let r = rig(Batches::Answered).await;
    let ids = sessions(&r.node, 30).await;
    let before = r.counting.counts();
    r.node.shutdown().await.unwrap();
    let calls = r.counting.counts() - before;
    assert_eq!(calls.release_many, 1, "{calls:?}");
    assert_eq!(calls.released_in_batches, 30);
    assert_eq!(calls.commit, 0);
    assert_eq!(r.node.stats().shutdown_releases, 30);
    all_given_back(&r, &ids).await;
}

/// The cold path: on a node holding more than 1,000 sessions, those used fewer than 4
/// times and idle for a second go back at the next tick, together, without a renewal
/// first; a busy session stays, and so does every session of a node holding few.
#[tokio::test(start_paused = true)]
async fn sessions_used_once_go_back_at_the_first_tick_on_a_busy_node() {
    let r = rig(Batches::Answered).await;
    let busy = support::new_counter_session(&r.node).await;
    for _ in 0..5 {
        let mut s = r.node.session(Some(busy.clone()));
        s.get::<u64>("counter").await.unwrap();
        s.end().await.unwrap();
    }
    // Created 3 s in, so that at the first tick (5 s) they have been idle for 2 s:
    // long enough to be cold, not long enough for any other rule.
    support::advance_in_steps(Duration::from_secs(3)).await;
    let once: Vec<SessionId> = {
        let mut ids = Vec::new();
        for _ in 0..1_100 {
            ids.push(support::new_counter_session(&r.node).await);
        }
        ids
    };
    let before = r.counting.counts();
    support::advance_in_steps(Duration::from_millis(2_100)).await;
    let calls = r.counting.counts() - before;
    assert!(r.node.holds(&busy), "a session used 6 times is not cold");
    assert!(
        once.iter().all(|id| !r.node.holds(id)),
        "sessions used once go back at the first tick"
    );
    assert_eq!(calls.released_in_batches, 1_100, "{calls:?}");
    assert!(calls.release_many <= 3, "in batches: {calls:?}");
    assert_eq!(r.node.stats().idle_releases, 1_100);

    // A node that holds few sessions keeps them for `idle_release` (10 s here).
    let few = rig(Batches::Answered).await;
    let ids = sessions(&few.node, 10).await;
    support::advance_in_steps(Duration::from_millis(5_100)).await;
    assert!(
        ids.iter().all(|id| few.node.holds(id)),
        "below 1,000 held, none is cold"
    );
    support::advance_in_steps(Duration::from_secs(10)).await;
    assert!(
        ids.iter().all(|id| !few.node.holds(id)),
        "released after idle_release"
    );
}
