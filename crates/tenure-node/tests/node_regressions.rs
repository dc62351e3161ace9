//! Regressions found in review: each test failed before its fix. F1-F3 were hangs
//! (a cancelled admission, a cancelled release, a renewal racing a rotation), F4 told
//! a request "nothing applied" about a stored change, F5 let a grant escape
//! shutdown's final release, F6 panicked on a configuration `validate` accepted.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tenure_core::{Delta, OwnerId, SessionId, WritePolicy};
use tenure_node::Node;
use tenure_store::{CommitId, CommitReply, Fence, MemoryStore, RotateReply, Store, StoreError};
use tenure_test::{FaultyStore, Forward, Forwarding};
use tokio::time::{sleep, timeout};

const MS: Duration = Duration::from_millis(1);

/// Forwards to an inner store; delays the *reply* of `rotate_id` and of releasing
/// commits (the store has acted, the answer is still on the wire).
#[derive(Debug, Clone)]
struct Delays {
    inner: Arc<dyn Store>,
    rotate_reply_ms: Arc<AtomicU64>,
    release_reply_ms: Arc<AtomicU64>,
}

impl Delays {
    fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            rotate_reply_ms: Arc::default(),
            release_reply_ms: Arc::default(),
        }
    }
}

async fn pause(ms: &AtomicU64) {
    let ms = ms.load(Ordering::SeqCst);
    if ms > 0 {
        sleep(MS * ms as u32).await;
    }
}

#[async_trait]
impl Forward for Delays {
    fn inner(&self) -> &dyn Store {
        &*self.inner
    }

    async fn commit(
        &self,
        sid: &SessionId,
        o: &OwnerId,
        f: Fence,
        id: CommitId,
        d: Delta,
        release: bool,
    ) -> Result<CommitReply, StoreError> {
        let r = self.inner.commit(sid, o, f, id, d, release).await;
        if release {
            pause(&self.release_reply_ms).await;
        }
        r
    }

    async fn rotate_id(
        &self,
        old: &SessionId,
        new: &SessionId,
        h: Option<(&OwnerId, Fence)>,
    ) -> Result<RotateReply, StoreError> {
        let r = self.inner.rotate_id(old, new, h).await;
        pause(&self.rotate_reply_ms).await;
        r
    }
}

fn short_lease() -> tenure_node::NodeConfig {
    let mut c = support::config();
    c.lease = Duration::from_secs(3);
    c.renew_interval = Duration::from_secs(1);
    c.lease_margin = Duration::from_millis(500);
    c.acquire_timeout = Duration::from_secs(5);
    c
}

/// F1: a request cancelled while `Node::attach` confirms a lapsed lease with
/// `renew_one` leaks its in-flight count; every later release of that session waits
/// for a drain that never comes.
#[tokio::test(start_paused = true)]
async fn i14_f1_cancelled_attach_leaks_in_flight_and_wedges_recall_and_shutdown() {
    let faulty = FaultyStore::new(MemoryStore::new());
    let shared: Arc<dyn Store> = Arc::new(faulty.clone());
    let mut config = short_lease();
    config.lease_margin = Duration::from_millis(1500); // local lease 1.5 s, store 3 s
    let a = Node::start(shared.clone(), config.clone()).await.unwrap();
    let b = Node::start(shared.clone(), config.clone()).await.unwrap();
    let id = support::new_counter_session(&a).await; // t = 0

    sleep(Duration::from_millis(1100)).await; // renewed at t = 1: store lease to 4 s
    faulty.fail_renew_for(&a.owner(), true); // tick at t = 2 fails
    sleep(Duration::from_millis(1500)).await; // t = 2.6: local lease lapsed, store's not
    faulty.fail_renew_for(&a.owner(), false);
    faulty.set_request_delay(Duration::from_millis(100));

    // A handler with a 10 ms deadline: cancelled inside attach's renew_one.
    let mut s = a.session(Some(id.clone()));
    assert!(timeout(10 * MS, s.get::<u64>("counter")).await.is_err());
    drop(s);
    faulty.set_request_delay(Duration::ZERO);

    // B asks for the session: A is recalled, but its drain never ends.
    let mut sb = b.session(Some(id.clone()));
    let got = sb.get::<u64>("counter").await;
    drop(sb);
    let shut = timeout(Duration::from_secs(60), a.shutdown()).await;
    println!("F1 B: {got:?}; shutdown within 60 s: {:?}", shut.is_ok());
    assert!(got.is_ok());
    assert!(
        timeout(Duration::from_secs(60), a.shutdown()).await.is_ok(),
        "shutdown hangs on the leaked in-flight count"
    );
}

/// F2: `Node::release` cancelled while it waits for the drain leaves the session
/// Draining forever: nobody finishes the release.
#[tokio::test(start_paused = true)]
async fn i14_f2_cancelled_node_release_leaves_session_draining_forever() {
    let (_, store) = support::memory();
    let nodes = support::nodes(store, 2, &support::config()).await;
    let (a, b) = (nodes[0].clone(), nodes[1].clone());
    let id = support::new_counter_session(&a).await;

    let mut s = a.session(Some(id.clone()));
    *s.get_mut::<u64>("counter").await.unwrap().unwrap() = 5;
    // e.g. an admin endpoint with a deadline
    assert!(timeout(10 * MS, a.release(&id)).await.is_err());

    let end = tokio::spawn(s.end());
    sleep(Duration::from_secs(60)).await;
    assert!(
        end.is_finished(),
        "the in-flight request's end() never returns"
    );
    let mut sb = b.session(Some(id.clone()));
    assert!(
        sb.get::<u64>("counter").await.is_ok(),
        "B can never acquire it"
    );
}

/// F3: a renewal answered `Lost` for the old id while `rotate_id`'s reply is on the
/// wire: the node drops the copy, then `rekey` puts the Gone(Lost) copy back in the
/// table under the new id. The next request on the new id spins forever in
/// `attach`; renewals keep the store lock alive so no other node gets it.
#[tokio::test(start_paused = true)]
async fn i13_f3_rotate_vs_renewal_reinstalls_a_lost_copy() {
    let delays = Delays::new(Arc::new(MemoryStore::new()));
    let shared: Arc<dyn Store> = Arc::new(Forwarding(delays.clone()));
    let config = short_lease();
    let a = Node::start(shared.clone(), config.clone()).await.unwrap();
    let b = Node::start(shared.clone(), config.clone()).await.unwrap();
    let id = support::new_counter_session(&a).await;

    let mut s = a.session(Some(id.clone()));
    s.insert("user", "ada".to_string()).await.unwrap();
    delays.rotate_reply_ms.store(1500, Ordering::SeqCst); // tick at t = 1 falls inside
    let new = s.rotate_id().await.unwrap().expect("rotated");
    delays.rotate_reply_ms.store(0, Ordering::SeqCst);
    let end = s.end().await;
    assert!(
        end.is_ok(),
        "the rotation succeeded, so does the request: {end:?}"
    );
    assert!(
        a.holds(&new) && a.held_count() == 1,
        "A holds the session under its new id only"
    );

    // Another node can get the new id: A is recalled and gives it up.
    let mut sb = b.session(Some(new.clone()));
    let got = sb.get::<u64>("counter").await;
    drop(sb);
    assert!(
        got.is_ok(),
        "B gets the session once A gives it up: {got:?}"
    );
    // A asks again: it queues behind B and gets it back (before the fix its attach
    // looped on the dead copy without ever yielding).
    let again = timeout(Duration::from_secs(10), async {
        let mut s = a.session(Some(new.clone()));
        s.get::<String>("user").await
    })
    .await;
    assert!(
        matches!(&again, Ok(Ok(Some(user))) if user == "ada"),
        "{again:?}"
    );
}

/// F4: the release commit applied (B already holds the session) but its reply is
/// late; a renewal answered Lost meanwhile marks the copy Gone(Lost), and the request
/// whose change rode in the release commit is told `TenureLost` ("nothing was
/// applied") although its change is stored.
#[tokio::test(start_paused = true)]
async fn i13_f4_request_told_tenure_lost_although_release_commit_stored_it() {
    let delays = Delays::new(Arc::new(MemoryStore::new()));
    let shared: Arc<dyn Store> = Arc::new(Forwarding(delays.clone()));
    let config = short_lease();
    let a = Node::start(shared.clone(), config.clone()).await.unwrap();
    let b = Node::start(shared.clone(), config.clone()).await.unwrap();
    let id = support::new_counter_session(&a).await;
    delays.release_reply_ms.store(1500, Ordering::SeqCst);

    let mut s = a.session(Some(id.clone()));
    *s.get_mut::<u64>("counter").await.unwrap().unwrap() = 41;
    let (b2, id2) = (b.clone(), id.clone());
    let reader = tokio::spawn(async move {
        let mut s = b2.session(Some(id2));
        let v = s.get::<u64>("counter").await;
        drop(s);
        v
    });
    support::settle().await;
    sleep(config.min_hold * 2).await; // A is draining now
    let end = s.end().await;
    let seen = reader.await.unwrap().unwrap();
    assert_eq!(seen, Some(41), "the change is stored");
    assert!(end.is_ok(), "but the request was told {end:?}");
}

/// F5: a request whose acquire is in flight when `shutdown` snapshots the table
/// installs its session afterwards; it is never released, and under a write-behind
/// policy its acknowledged change is never written.
#[tokio::test(start_paused = true)]
async fn i14_f5_acquire_racing_shutdown_escapes_the_final_flush() {
    let faulty = FaultyStore::new(MemoryStore::new());
    let shared: Arc<dyn Store> = Arc::new(faulty.clone());
    let mut config = support::config();
    config.write_policy = WritePolicy::manual();
    let a = Node::start(shared.clone(), config.clone()).await.unwrap();
    let b = Node::start(shared.clone(), config.clone()).await.unwrap();
    let id = support::new_counter_session(&a).await;
    a.release(&id).await.unwrap();

    faulty.set_request_delay(Duration::from_millis(100));
    let (a2, id2) = (a.clone(), id.clone());
    let req = tokio::spawn(async move {
        let mut s = a2.session(Some(id2));
        *s.get_mut::<u64>("counter").await?.unwrap() = 7;
        s.end().await
    });
    support::settle().await; // the acquire is on the wire
    a.shutdown().await.unwrap();
    let report = req.await.unwrap();
    println!(
        "request after shutdown: {report:?}; A still holds {}",
        a.held_count()
    );
    faulty.set_request_delay(Duration::ZERO);
    sleep(config.lease).await;
    let mut sb = b.session(Some(id.clone()));
    assert_eq!(
        sb.get::<u64>("counter").await.unwrap(),
        Some(7),
        "change acknowledged before shutdown finished is lost"
    );
}

/// F6: `validate()` accepted `max_poll = 0`, and the first queued acquire panicked in
/// `Duration::clamp` (min > max). Now such timings are refused; the smallest accepted
/// one works.
#[test]
fn f6_out_of_range_timings_are_refused() {
    for tweak in [
        (|c: &mut tenure_node::NodeConfig| c.max_poll = Duration::ZERO) as fn(&mut _),
        |c| c.renew_interval = Duration::ZERO,
        |c| c.lease = Duration::MAX,
        |c| c.acquire_timeout = Duration::MAX,
        |c| c.idle_release = Duration::MAX,
    ] {
        let mut config = support::config();
        tweak(&mut config);
        assert!(config.validate().is_err(), "{config:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn f6_smallest_max_poll_works_on_a_queued_acquire() {
    let (_, store) = support::memory();
    let mut config = support::config();
    config.max_poll = Duration::from_millis(1);
    assert!(config.validate().is_ok());
    let nodes = support::nodes(store, 2, &config).await;
    let id = support::new_counter_session(&nodes[0]).await;
    let b = nodes[1].clone();
    let r =
        tokio::spawn(async move { b.session(Some(id)).get::<u64>("counter").await.map(|_| ()) })
            .await;
    assert!(r.is_ok(), "request task panicked: {r:?}");
}

/// Control for F1: same steps without the cancellation; B gets the session.
#[tokio::test(start_paused = true)]
async fn control_f1_without_cancel() {
    let faulty = FaultyStore::new(MemoryStore::new());
    let shared: Arc<dyn Store> = Arc::new(faulty.clone());
    let mut config = short_lease();
    config.lease_margin = Duration::from_millis(1500);
    let a = Node::start(shared.clone(), config.clone()).await.unwrap();
    let b = Node::start(shared.clone(), config.clone()).await.unwrap();
    let id = support::new_counter_session(&a).await;
    sleep(Duration::from_millis(1100)).await;
    faulty.fail_renew_for(&a.owner(), true);
    sleep(Duration::from_millis(1500)).await;
    faulty.fail_renew_for(&a.owner(), false);
    faulty.set_request_delay(Duration::from_millis(100));
    let mut s = a.session(Some(id.clone()));
    assert!(s.get::<u64>("counter").await.is_ok());
    drop(s);
    faulty.set_request_delay(Duration::ZERO);
    let mut sb = b.session(Some(id.clone()));
    assert!(sb.get::<u64>("counter").await.is_ok());
    drop(sb);
    assert!(timeout(Duration::from_secs(60), a.shutdown()).await.is_ok());
}
