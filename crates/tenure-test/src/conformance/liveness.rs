//! Cases about owner liveness (I15): a dead holder costs its liveness TTL, not its
//! lease; a live one keeps its lock; a lapsed owner stays lapsed.

use std::sync::Arc;
use std::time::Duration;

use tenure_store::{AcquireReply, Liveness, Store, LIVENESS_CHECK_AFTER};
use tokio::time::Instant;

use super::util::*;
use crate::Poll;

/// A liveness TTL short enough to run out within a case.
const TTL: Duration = Duration::from_millis(300);

async fn keep_alive(store: &dyn Store, owner: &tenure_core::OwnerId, register: bool) -> Liveness {
    ok(store.keep_alive(owner, TTL, register).await, "keep_alive")
}

/// I15: the holder registered its liveness, took a long lease, and stopped keeping
/// alive (it crashed). A waiter that keeps asking is granted the session once the
/// holder's TTL has run out, long before its lease would, with a newer fence; the dead
/// holder's commit is refused.
pub async fn dead_holder_costs_its_ttl_not_its_lease(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    create(s, &sid, &[("n", "1")]).await;
    let (a, b) = (owner("a"), owner("b"));
    assert_eq!(keep_alive(s, &a, true).await, Liveness::Alive, "register a");
    assert_eq!(keep_alive(s, &b, true).await, Liveness::Alive, "register b");
    let fa = granted(s, &sid, &a, LONG, "a acquires").await.fence;
    let died = Instant::now();
    let bound = TTL + LIVENESS_CHECK_AFTER + SLACK;
    let poll = Poll::new(bound, "I15: the waiter granted after the dead holder's TTL");
    let grant = loop {
        if keep_alive(s, &b, false).await != Liveness::Alive {
            panic!("the waiter's own liveness lapsed while it kept alive");
        }
        match acquire_waiting(s, &sid, &b, LONG, SLACK).await {
            AcquireReply::Granted(grant) => break grant,
            AcquireReply::Queued { .. } => poll.tick().await,
            other => panic!("acquire while the holder is dead: {other:?}"),
        }
    };
    assert!(
        died.elapsed() >= TTL - TOL,
        "I15: granted {:?} after the holder's last keep_alive, before its TTL of {TTL:?}",
        died.elapsed()
    );
    assert!(grant.fence > fa, "I1: the new tenure's fence must be newer");
    stale(
        s,
        &sid,
        &a,
        fa,
        sets(&[("n", "dead")]),
        false,
        "the dead holder's commit",
    )
    .await;
    assert_eq!(
        keep_alive(s, &a, false).await,
        Liveness::Lapsed,
        "I15: a is dead for good"
    );
}

/// I15: a holder that keeps alive keeps its lock for its lease, however long a waiter
/// asks; and its liveness does not lapse while it keeps alive more often than its TTL.
pub async fn live_holder_keeps_its_lock(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    create(s, &sid, &[("n", "1")]).await;
    let (a, b) = (owner("a"), owner("b"));
    keep_alive(s, &a, true).await;
    keep_alive(s, &b, true).await;
    granted(s, &sid, &a, LONG, "a acquires").await;
    let watch = Instant::now();
    while watch.elapsed() < TTL * 3 + LIVENESS_CHECK_AFTER {
        assert_eq!(
            keep_alive(s, &a, false).await,
            Liveness::Alive,
            "I15: a keeps alive"
        );
        keep_alive(s, &b, false).await;
        match acquire_waiting(s, &sid, &b, LONG, SLACK).await {
            AcquireReply::Queued { .. } => {}
            other => panic!("I15: a live holder's lock was given away: {other:?}"),
        }
        tokio::time::sleep(TTL / 4).await;
    }
}

/// I15: liveness that ran out is not extended again: `keep_alive` without
/// `register` answers `Lapsed`, and keeps answering it.
pub async fn lapsed_liveness_stays_lapsed(store: Arc<dyn Store>) {
    let s = &*store;
    let a = owner("a");
    assert_eq!(keep_alive(s, &a, true).await, Liveness::Alive);
    assert_eq!(
        keep_alive(s, &a, false).await,
        Liveness::Alive,
        "extend while alive"
    );
    let last = Instant::now();
    tokio::time::sleep(TTL + TOL * 4).await;
    let answer = keep_alive(s, &a, false).await;
    if last.elapsed() > TTL {
        assert_eq!(
            answer,
            Liveness::Lapsed,
            "I15: extended after its TTL ran out"
        );
    }
    assert_eq!(
        keep_alive(s, &a, false).await,
        Liveness::Lapsed,
        "I15: lapsed for good"
    );
    let never = owner("never-registered");
    assert_eq!(
        keep_alive(s, &never, false).await,
        Liveness::Lapsed,
        "an owner that never registered is not alive"
    );
}

/// I15 across `rotate_id`: the holder's lock on the new id is void once the holder is
/// dead, as its lock on the old id was.
pub async fn dead_holder_of_a_rotated_session_costs_its_ttl(store: Arc<dyn Store>) {
    let s = &*store;
    let (old, new) = (sid(), sid());
    create(s, &old, &[("n", "1")]).await;
    let (a, b) = (owner("a"), owner("b"));
    keep_alive(s, &a, true).await;
    keep_alive(s, &b, true).await;
    let fa = granted(s, &old, &a, LONG, "a acquires").await.fence;
    let rotated = ok(s.rotate_id(&old, &new, Some((&a, fa))).await, "rotate_id");
    assert!(
        matches!(
            rotated,
            tenure_store::RotateReply::Rotated { fence: Some(_) }
        ),
        "the holder's rotation keeps its tenure: {rotated:?}"
    );
    let bound = TTL + LIVENESS_CHECK_AFTER + SLACK;
    let poll = Poll::new(
        bound,
        "I15: the rotated session granted after the holder's TTL",
    );
    loop {
        keep_alive(s, &b, false).await;
        match acquire_waiting(s, &new, &b, LONG, SLACK).await {
            AcquireReply::Granted(_) => break,
            AcquireReply::Queued { .. } => poll.tick().await,
            other => panic!("acquire of the rotated id: {other:?}"),
        }
    }
}
