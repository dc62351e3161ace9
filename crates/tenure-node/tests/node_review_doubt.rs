//! Review of commits in doubt (I16) with other requests of the session in flight, and
//! of a release that meets a store that does not answer.

mod review_support;

use std::sync::Arc;
use std::time::Duration;

use review_support::{config, counter_session, stored_u64, switched, Switches, SECOND};
use tenure_node::Node;
use tenure_store::Store;
use tenure_test::{wait_until, FaultyStore};
use tokio::sync::oneshot;
use tokio::time::{timeout, Instant};

/// Request B is admitted (it has read the session) before request A's commit goes
/// into doubt. A answers 504; B then takes `counter` with `get_mut`, which the README
/// promises "always sees the latest value": B must resolve A's commit first and see
/// its change (I16). (Found in review: B read the copy that lacked A's change, and its
/// commit overwrote A's stored increment.)
#[tokio::test(start_paused = true)]
async fn get_mut_of_a_request_in_flight_sees_a_commit_in_doubt() {
    let (memory, store, sw) = switched();
    let node = Node::start(store, config()).await.unwrap();
    let id = counter_session(&node).await;

    let (attached_tx, attached) = oneshot::channel();
    let (go, go_rx) = oneshot::channel::<()>();
    let b = {
        let (node, id) = (node.clone(), id.clone());
        tokio::spawn(async move {
            let mut s = node.session(Some(id));
            assert_eq!(s.get::<u64>("counter").await.unwrap(), Some(0));
            let _ = attached_tx.send(());
            let _ = go_rx.await;
            *s.get_mut::<u64>("counter").await?.expect("counter") += 1;
            s.end().await
        })
    };
    attached.await.unwrap();

    Switches::set(&sw.fail_commits, true);
    let mut a = node.session(Some(id.clone()));
    *a.get_mut::<u64>("counter").await.unwrap().unwrap() += 1;
    let a_end = a.end().await;
    assert!(
        matches!(&a_end, Err(e) if e.is_outcome_unknown()),
        "A: {a_end:?}"
    );
    Switches::set(&sw.fail_commits, false);

    let _ = go.send(());
    let b_end = b.await.unwrap();
    assert!(b_end.is_ok(), "B: {b_end:?}");
    // A's commit was resolved as stored (by B's flush), B's was acknowledged.
    assert_eq!(node.stats().doubts_resolved, 1);
    assert_eq!(
        stored_u64(&memory, &id, "counter").await,
        Some(2),
        "A's increment (resolved, stored) and B's acknowledged one"
    );
}

/// Control: a request admitted after the commit went into doubt resolves it first and
/// sees A's change.
#[tokio::test(start_paused = true)]
async fn a_request_admitted_after_the_doubt_sees_the_doubted_commit() {
    let (memory, store, sw) = switched();
    let node = Node::start(store, config()).await.unwrap();
    let id = counter_session(&node).await;

    Switches::set(&sw.fail_commits, true);
    let mut a = node.session(Some(id.clone()));
    *a.get_mut::<u64>("counter").await.unwrap().unwrap() += 1;
    assert!(a.end().await.unwrap_err().is_outcome_unknown());
    Switches::set(&sw.fail_commits, false);

    let mut b = node.session(Some(id.clone()));
    *b.get_mut::<u64>("counter").await.unwrap().unwrap() += 1;
    b.end().await.unwrap();
    assert_eq!(stored_u64(&memory, &id, "counter").await, Some(2));
}

/// A writer in flight when its session is recalled ends while the store does not
/// answer. I16 and the README bound an unconfirmed commit by `outcome_timeout` (5 s),
/// then 504, also for a request whose changes ride on the release. (Found in review:
/// it waited for the release's retries until the lease ended, about 27 s.)
#[tokio::test(start_paused = true)]
async fn a_recalled_request_is_answered_within_outcome_timeout() {
    let memory = tenure_store::MemoryStore::new();
    let faulty = FaultyStore::new(memory.clone());
    let h = Node::start(Arc::new(faulty.clone()), config())
        .await
        .unwrap();
    let w = Node::start(Arc::new(memory.clone()) as Arc<dyn Store>, config())
        .await
        .unwrap();
    let id = counter_session(&h).await;

    let (holding_tx, holding) = oneshot::channel();
    let (go, go_rx) = oneshot::channel::<()>();
    let r = {
        let (h, id) = (h.clone(), id.clone());
        tokio::spawn(async move {
            let mut s = h.session(Some(id));
            *s.get_mut::<u64>("counter").await?.expect("counter") += 1;
            let _ = holding_tx.send(());
            let _ = go_rx.await;
            s.end().await
        })
    };
    holding.await.unwrap();

    // W asks for the session: H is recalled and drains (R is in flight).
    let wq = {
        let (w, id) = (w.clone(), id.clone());
        tokio::spawn(async move {
            let mut s = w.session(Some(id));
            s.get::<u64>("counter").await
        })
    };
    wait_until(5 * SECOND, "H drains", || async { !h.holds(&id) }).await;

    // H's link to the store goes away; R ends.
    faulty.set_unavailable(true);
    let started = Instant::now();
    let _ = go.send(());
    let bound = config().outcome_timeout + SECOND;
    let answered = timeout(Duration::from_secs(60), r).await;
    let waited = started.elapsed();
    println!("R answered after {waited:?}: {answered:?}");
    let _ = wq.await;
    assert!(
        waited <= bound,
        "R waited {waited:?}, more than outcome_timeout + 1 s ({bound:?})"
    );
}

/// The same with only commits failing (renewals and keep-alives answer, as when one
/// session's commit is refused or a proxy drops large writes): the recalled request
/// must still be answered. (Found in review: renewals kept the failing release's lease
/// valid, so it retried forever and the session stayed draining.)
#[tokio::test(start_paused = true)]
async fn a_recalled_request_is_answered_when_only_commits_fail() {
    let (memory, store, sw) = switched();
    let h = Node::start(store, config()).await.unwrap();
    let w = Node::start(Arc::new(memory.clone()) as Arc<dyn Store>, config())
        .await
        .unwrap();
    let id = counter_session(&h).await;

    let (holding_tx, holding) = oneshot::channel();
    let (go, go_rx) = oneshot::channel::<()>();
    let r = {
        let (h, id) = (h.clone(), id.clone());
        tokio::spawn(async move {
            let mut s = h.session(Some(id));
            *s.get_mut::<u64>("counter").await?.expect("counter") += 1;
            let _ = holding_tx.send(());
            let _ = go_rx.await;
            s.end().await
        })
    };
    holding.await.unwrap();
    let wq = {
        let (w, id) = (w.clone(), id.clone());
        tokio::spawn(async move { w.session(Some(id)).get::<u64>("counter").await })
    };
    wait_until(5 * SECOND, "H drains", || async { !h.holds(&id) }).await;

    Switches::set(&sw.fail_commits, true);
    let _ = go.send(());
    let answered = timeout(Duration::from_secs(120), r).await;
    println!("W: {:?}", wq.await.unwrap());
    assert!(
        answered.is_ok(),
        "the recalled request got no answer in 120 s"
    );
}
