//! Cases about grants: FIFO order (I3), fences (I1), lease expiry and dead waiters.

use std::sync::Arc;
use std::time::Duration;

use tenure_core::{Delta, OwnerId};
use tenure_store::{AcquireReply, Store};
use tokio::time::Instant;

use super::util::*;
use crate::Poll;

/// I3: with the lock held and four waiters queued, each release grants the head
/// waiter and nobody else; queue positions are 1-based and kept across calls; the
/// previous holder coming back queues behind the waiters; every grant carries a
/// greater fence and the data committed by the previous holder.
pub async fn fifo_grant_order(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    create(s, &sid, &[("turn", "holder")]).await;
    let holder = owner("holder");
    let waiters: Vec<OwnerId> = (1..=4).map(|i| owner(&format!("w{i}"))).collect();
    let first = granted(s, &sid, &holder, LONG, "acquire of a free session").await;
    for (i, w) in waiters.iter().enumerate() {
        let pos = queued(s, &sid, w, LONG, "I3 FIFO: acquire while the lock is held").await;
        assert_eq!(
            pos,
            i + 1,
            "I3 FIFO: waiter {} queued at position {pos}",
            i + 1
        );
    }
    for (i, w) in waiters.iter().enumerate().rev() {
        let pos = queued(s, &sid, w, LONG, "I3 FIFO: a waiter asking again").await;
        assert_eq!(
            pos,
            i + 1,
            "I3 FIFO: a waiter asking again must keep its place {}",
            i + 1
        );
    }
    let delta = sets(&[("turn", "0")]);
    committed(
        s,
        &sid,
        &holder,
        first.fence,
        delta,
        true,
        "release by the holder",
    )
    .await;
    let pos = queued(
        s,
        &sid,
        &holder,
        LONG,
        "I3 FIFO: the old holder asking again",
    )
    .await;
    assert_eq!(
        pos,
        waiters.len() + 1,
        "I3 FIFO: the old holder must queue behind the waiters"
    );

    let mut last = first.fence;
    for (i, head) in waiters.iter().enumerate() {
        for (j, w) in waiters.iter().enumerate().skip(i + 1).rev() {
            let ctx = format!(
                "I3 FIFO: waiter {} asks while waiter {} is head",
                j + 1,
                i + 1
            );
            assert_eq!(
                queued(s, &sid, w, LONG, &ctx).await,
                j - i + 1,
                "{ctx}: wrong position"
            );
        }
        let ctx = format!("I3 FIFO: head waiter {} asks after the release", i + 1);
        let grant = granted(s, &sid, head, LONG, &ctx).await;
        assert!(grant.fence > last, "I1: fence {} after {last}", grant.fence);
        assert_eq!(
            value(&grant.snapshot, "turn").as_deref(),
            Some(i.to_string().as_str()),
            "{ctx}: the grant must carry the data committed by the previous holder"
        );
        last = grant.fence;
        let delta = sets(&[("turn", &(i + 1).to_string())]);
        committed(
            s,
            &sid,
            head,
            grant.fence,
            delta,
            true,
            "release by a waiter",
        )
        .await;
    }
    let grant = granted(
        s,
        &sid,
        &holder,
        LONG,
        "I3 FIFO: the old holder, last in line",
    )
    .await;
    assert!(grant.fence > last, "I1: fence {} after {last}", grant.fence);
}

/// A holder that calls `acquire` again keeps its fence (even with waiters queued),
/// sees its own commits, and has its lease extended.
pub async fn holder_reacquire_keeps_fence(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    create(s, &sid, &[("a", "0")]).await;
    let (a, b) = (owner("a"), owner("b"));
    let lease = Duration::from_millis(600);
    let mut sent = Instant::now();
    let first = granted(s, &sid, &a, lease, "first acquire").await;
    committed(
        s,
        &sid,
        &a,
        first.fence,
        sets(&[("a", "1")]),
        false,
        "commit by the holder",
    )
    .await;
    let again = granted(s, &sid, &a, lease, "holder acquires again").await;
    assert_eq!(
        again.fence, first.fence,
        "a holder acquiring again must keep its fence"
    );
    assert_eq!(
        value(&again.snapshot, "a").as_deref(),
        Some("1"),
        "re-grant must carry the data"
    );
    assert_eq!(
        again.snapshot.version, 2,
        "re-grant must carry the current version"
    );
    queued(s, &sid, &b, LONG, "acquire while held").await;
    // Re-acquire every 150 ms for 1.2 s: twice the lease. Without extension the lock
    // would lapse and the waiter (head of the queue) would bar the holder.
    for round in 0..8 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let ctx = format!("holder re-acquire round {round}: the lease must have been extended");
        in_time(sent, lease, &ctx);
        sent = Instant::now();
        let grant = granted(s, &sid, &a, lease, &ctx).await;
        assert_eq!(grant.fence, first.fence, "{ctx}: same fence");
    }
    let delta = sets(&[("a", "2")]);
    committed(
        s,
        &sid,
        &a,
        first.fence,
        delta,
        true,
        "commit after extensions",
    )
    .await;
}

/// I1: fences strictly increase across release, across lease expiry (another owner
/// takes over) and across the holder's own expiry (its next grant is a new tenure).
pub async fn fences_increase_across_release_and_expiry(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    create(s, &sid, &[]).await;
    let (a, b) = (owner("a"), owner("b"));
    let f1 = granted(s, &sid, &a, LONG, "first acquire").await.fence;
    release(s, &sid, &a, f1).await;
    let sent = Instant::now();
    let f2 = granted(s, &sid, &b, SHORT, "acquire after release")
        .await
        .fence;
    assert!(f2 > f1, "I1: fence {f2} after release of {f1}");

    // b lets its lease run out; a (queued) is granted after expiry.
    let poll = Poll::new(
        SHORT + SLACK,
        "the lock to pass to a after b's lease ran out",
    );
    let f3 = loop {
        if let AcquireReply::Granted(g) = acquire(s, &sid, &a, SHORT).await {
            not_before(
                sent,
                Instant::now(),
                SHORT,
                "grant after the holder's lease",
            );
            break g.fence;
        }
        poll.tick().await;
    };
    assert!(
        f3 > f2,
        "I1: fence {f3} after expiry of {f2}: the fence must never go back"
    );

    // a's own lease runs out (observed without extending it), then a asks again.
    let poll = Poll::new(SHORT + SLACK, "a's lease to run out");
    while committed_or_stale(s, &sid, &a, f3).await {
        poll.tick().await;
    }
    let f4 = granted(s, &sid, &a, LONG, "acquire after own expiry")
        .await
        .fence;
    assert!(
        f4 > f3,
        "I1: a grant after the holder's own lease ran out is a new tenure: {f4} after {f3}"
    );
}

/// True while an empty commit still answers `Committed`.
async fn committed_or_stale(
    s: &dyn Store,
    sid: &tenure_core::SessionId,
    who: &OwnerId,
    fence: tenure_store::Fence,
) -> bool {
    matches!(
        commit(s, sid, who, fence, Delta::default(), false).await,
        tenure_store::CommitReply::Committed { .. }
    )
}

/// When the holder's lease runs out, the head waiter is granted, not a waiter behind
/// it, and not before the lease ended; the old holder is then stale.
pub async fn lease_expiry_admits_head_waiter_only(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    create(s, &sid, &[]).await;
    let (h, w1, w2) = (owner("holder"), owner("w1"), owner("w2"));
    let sent = Instant::now();
    let held = granted(s, &sid, &h, SHORT, "first acquire").await;
    assert_eq!(queued(s, &sid, &w1, LONG, "acquire while held").await, 1);
    assert_eq!(queued(s, &sid, &w2, LONG, "acquire while held").await, 2);
    let poll = Poll::new(
        SHORT + SLACK,
        "the head waiter to be granted after the lease ran out",
    );
    let grant = loop {
        match acquire(s, &sid, &w2, LONG).await {
            AcquireReply::Queued { position, .. } => {
                assert_eq!(position, 2, "I3 FIFO: second waiter's place changed")
            }
            other => {
                panic!("I3 FIFO: second waiter must stay queued behind a live head, got {other:?}")
            }
        }
        if let AcquireReply::Granted(g) = acquire(s, &sid, &w1, LONG).await {
            not_before(sent, Instant::now(), SHORT, "grant to the head waiter");
            break g;
        }
        poll.tick().await;
    };
    assert!(
        grant.fence > held.fence,
        "I1: fence {} after {}",
        grant.fence,
        held.fence
    );
    stale(
        s,
        &sid,
        &h,
        held.fence,
        sets(&[("x", "1")]),
        true,
        "holder after its lease ran out",
    )
    .await;
    let outcome = renew1(s, &h, LONG, &sid, held.fence, true).await;
    assert_eq!(
        outcome,
        tenure_store::RenewOutcome::Lost,
        "renew by an expired holder"
    );
    assert_eq!(
        queued(s, &sid, &w2, LONG, "second waiter").await,
        1,
        "second waiter is head now"
    );
    assert!(
        value(&loaded(s, &sid, "load").await, "x").is_none(),
        "a stale commit applied data"
    );
}

/// A waiter that stops calling `acquire` loses its place at its deadline (its lease);
/// the next waiter is granted then, and not before.
pub async fn dead_waiters_are_purged(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    create(s, &sid, &[]).await;
    let (h, dead, live) = (owner("holder"), owner("dead"), owner("live"));
    let f = granted(s, &sid, &h, LONG, "first acquire").await.fence;
    let sent = Instant::now();
    // The dead waiter asks for a long lease but a short queue wait: its place lasts
    // for the wait, not the lease.
    match acquire_waiting(s, &sid, &dead, LONG, SHORT).await {
        AcquireReply::Queued { position: 1, .. } => {}
        other => panic!("waiter that will die: expected Queued at 1, got {other:?}"),
    }
    assert_eq!(queued(s, &sid, &live, LONG, "live waiter").await, 2);
    release(s, &sid, &h, f).await;
    let poll = Poll::new(
        SHORT + SLACK,
        "the live waiter to be granted after the dead one's deadline",
    );
    let grant = loop {
        match acquire(s, &sid, &live, LONG).await {
            AcquireReply::Granted(g) => break g,
            AcquireReply::Queued { position, .. } => {
                assert_eq!(
                    position, 2,
                    "I3 FIFO: the live waiter's place changed while the head lived"
                )
            }
            other => panic!("live waiter: unexpected {other:?}"),
        }
        poll.tick().await;
    };
    not_before(sent, Instant::now(), SHORT, "grant past a dead waiter");
    assert!(grant.fence > f, "I1: fence {} after {f}", grant.fence);
    let pos = queued(s, &sid, &dead, LONG, "a purged waiter asking again").await;
    assert_eq!(pos, 1, "a purged waiter queues anew at the end");
}
