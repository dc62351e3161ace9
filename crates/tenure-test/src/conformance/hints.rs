//! Cases about recall (I4) and hints: `renew` is the guaranteed path, hints only help.

use std::sync::Arc;
use std::time::Duration;

use tenure_store::{AcquireReply, Hint, RenewOutcome, Store};
use tokio::time::Instant;

use super::util::*;
use crate::Poll;

/// I4: while the lock is held and another owner waits, `renew` answers
/// `recall: true`, though the holder never reads its hint stream; once the queue has
/// drained (the waiter was granted) the new holder's `renew` answers `recall: false`.
pub async fn recall_via_renew_without_hints(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    create(s, &sid, &[]).await;
    let (h, w) = (owner("holder"), owner("waiter"));
    let fh = granted(s, &sid, &h, LONG, "first acquire").await.fence;
    // Subscribed, but never read: every hint to the holder is effectively lost.
    let unread = ok(s.hints(&h).await, "hints");
    let quiet = RenewOutcome::Renewed { recall: false };
    let recall = RenewOutcome::Renewed { recall: true };
    assert_eq!(
        renew1(s, &h, LONG, &sid, fh, true).await,
        quiet,
        "I4: recall with nobody waiting"
    );
    queued(s, &sid, &w, LONG, "waiter").await;
    for round in 0..3 {
        let got = renew1(s, &h, LONG, &sid, fh, round % 2 == 0).await;
        assert_eq!(
            got, recall,
            "I4: renew round {round} must carry recall while a waiter waits"
        );
    }
    committed(
        s,
        &sid,
        &h,
        fh,
        sets(&[("a", "1")]),
        false,
        "commit without release",
    )
    .await;
    assert_eq!(
        renew1(s, &h, LONG, &sid, fh, true).await,
        recall,
        "I4: recall after a commit"
    );
    release(s, &sid, &h, fh).await;
    let fw = granted(s, &sid, &w, LONG, "waiter after release")
        .await
        .fence;
    assert_eq!(
        renew1(s, &w, LONG, &sid, fw, true).await,
        quiet,
        "I4: recall after the queue drained"
    );
    queued(s, &sid, &h, LONG, "old holder asks again").await;
    assert_eq!(
        renew1(s, &w, LONG, &sid, fw, true).await,
        recall,
        "I4: recall for the new waiter"
    );
    release(s, &sid, &w, fw).await;
    let fh2 = granted(s, &sid, &h, LONG, "old holder after release")
        .await
        .fence;
    assert_eq!(
        renew1(s, &h, LONG, &sid, fh2, true).await,
        quiet,
        "I4: recall after the queue drained"
    );
    drop(unread);
}

/// I4 and dead waiters: recall is set while a waiter lives and clears once the only
/// waiter stopped asking and passed its deadline.
pub async fn recall_clears_when_waiters_die(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    create(s, &sid, &[]).await;
    let (h, w) = (owner("holder"), owner("waiter"));
    let f = granted(s, &sid, &h, LONG, "first acquire").await.fence;
    let sent = Instant::now();
    queued(s, &sid, &w, SHORT, "waiter that will die").await;
    let poll = Poll::new(SHORT + SLACK, "recall to clear after the only waiter died");
    loop {
        match renew1(s, &h, LONG, &sid, f, true).await {
            RenewOutcome::Renewed { recall: true } => {}
            RenewOutcome::Renewed { recall: false } => {
                not_before(
                    sent,
                    Instant::now(),
                    SHORT,
                    "I4: recall cleared while the waiter lived",
                );
                break;
            }
            other => panic!("renew by the holder must answer Renewed, got {other:?}"),
        }
        poll.tick().await;
    }
}

/// A commit with `release` frees the lock for the head waiter only: the second waiter
/// stays queued behind it, and the head waiter's next `acquire` is granted with the
/// released data. Needs no hint.
pub async fn release_grants_head_waiter(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    create(s, &sid, &[]).await;
    let (h, w1, w2) = (owner("holder"), owner("w1"), owner("w2"));
    let f = granted(s, &sid, &h, LONG, "first acquire").await.fence;
    queued(s, &sid, &w1, LONG, "first waiter").await;
    queued(s, &sid, &w2, LONG, "second waiter").await;
    let v = committed(
        s,
        &sid,
        &h,
        f,
        sets(&[("a", "1")]),
        true,
        "commit and release",
    )
    .await;
    assert_eq!(
        queued(s, &sid, &w2, LONG, "second waiter after release").await,
        2,
        "I3: the released lock is reserved for the head waiter"
    );
    let grant = granted(s, &sid, &w1, LONG, "head waiter after the release").await;
    assert!(grant.fence > f);
    assert_eq!(
        grant.snapshot.version, v,
        "the grant must carry the released commit"
    );
    assert_eq!(value(&grant.snapshot, "a").as_deref(), Some("1"));
}

/// Hints arrive: queueing delivers `Hint::Recall` to the holder, a commit with
/// `release` delivers `Hint::Grant` to the head waiter, and a later `hints` call for the
/// same owner replaces the earlier stream. The one case a store that drops hints (on
/// purpose, in a test) leaves out.
pub async fn hints_delivered(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    create(s, &sid, &[]).await;
    let (h, w1, w2) = (owner("holder"), owner("w1"), owner("w2"));
    let mut h_rx = ok(s.hints(&h).await, "hints");
    let mut w1_old = ok(s.hints(&w1).await, "hints");
    let mut w1_rx = ok(s.hints(&w1).await, "hints");
    let _w2_rx = ok(s.hints(&w2).await, "hints");
    let f = granted(s, &sid, &h, LONG, "first acquire").await.fence;
    queued(s, &sid, &w1, LONG, "first waiter").await;
    expect_hint(
        &mut h_rx,
        &Hint::Recall(sid.clone()),
        "the holder's recall hint",
    )
    .await;
    queued(s, &sid, &w2, LONG, "second waiter").await;
    committed(
        s,
        &sid,
        &h,
        f,
        sets(&[("a", "1")]),
        true,
        "commit and release",
    )
    .await;
    expect_hint(
        &mut w1_rx,
        &Hint::Grant(sid.clone()),
        "the head waiter's grant hint",
    )
    .await;
    assert!(
        w1_old.try_recv().is_err(),
        "a later hints() call for the same owner must replace the earlier stream"
    );
    granted(s, &sid, &w1, LONG, "head waiter after its grant hint").await;
}

/// A store drops hints rather than block when a receiver falls behind: 1500 queued
/// `acquire` calls against a holder that never reads its hints each answer promptly.
pub async fn hints_never_block_store(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    create(s, &sid, &[]).await;
    let (h, w) = (owner("holder"), owner("waiter"));
    let f = granted(s, &sid, &h, LONG, "first acquire").await.fence;
    let unread = ok(s.hints(&h).await, "hints");
    for i in 0..1500 {
        let call = s.acquire(&sid, &w, LONG, LONG);
        match tokio::time::timeout(Duration::from_secs(2), call).await {
            Ok(Ok(AcquireReply::Queued { .. })) => {}
            Ok(other) => panic!("acquire {i} while held must answer Queued, got {other:?}"),
            Err(_) => panic!("acquire {i} blocked: a store must drop hints, not wait for a reader"),
        }
    }
    let got = renew1(s, &h, LONG, &sid, f, true).await;
    assert_eq!(
        got,
        RenewOutcome::Renewed { recall: true },
        "I4 after a hint flood"
    );
    drop(unread);
}
