//! Cases about fenced writes (I2): `commit` and `renew`.

use std::sync::Arc;
use std::time::Duration;

use tenure_core::{Bytes, Change, Delta, Expect};
use tenure_store::{AcquireReply, CommitReply, Fence, RenewOutcome, Renewal, Store};
use tokio::time::Instant;

use super::util::*;
use crate::Poll;

/// I2: a commit from the wrong owner, with a wrong fence, after release, after the
/// lease ran out, or after another owner took over answers `Stale`, hands the delta
/// back and applies nothing (checked with `load`); a stale release frees nothing.
pub async fn stale_commit_applies_nothing(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    create(s, &sid, &[("a", "0")]).await;
    let (a, b) = (owner("a"), owner("b"));
    let bad = || sets(&[("a", "bad"), ("x", "bad")]);
    let f1 = granted(s, &sid, &a, LONG, "first acquire").await.fence;
    let v = committed(s, &sid, &a, f1, sets(&[("a", "1")]), false, "holder commit").await;
    assert_eq!(v, 2, "a commit on a fresh session answers version 2");
    stale(s, &sid, &b, f1, bad(), false, "commit from the wrong owner").await;
    stale(
        s,
        &sid,
        &a,
        Fence(f1.0 + 1),
        bad(),
        false,
        "commit with a newer fence",
    )
    .await;
    if f1.0 > 0 {
        stale(
            s,
            &sid,
            &a,
            Fence(f1.0 - 1),
            bad(),
            false,
            "commit with an older fence",
        )
        .await;
    }
    stale(
        s,
        &sid,
        &b,
        f1,
        Delta::default(),
        true,
        "release from the wrong owner",
    )
    .await;
    committed(
        s,
        &sid,
        &a,
        f1,
        Delta::default(),
        false,
        "holder after a stale release",
    )
    .await;
    release(s, &sid, &a, f1).await;
    stale(s, &sid, &a, f1, bad(), false, "commit after release").await;

    let sent = Instant::now();
    let f2 = granted(s, &sid, &a, SHORT, "acquire with a short lease")
        .await
        .fence;
    let v = committed(
        s,
        &sid,
        &a,
        f2,
        sets(&[("a", "2")]),
        false,
        "commit in the lease",
    )
    .await;
    assert_eq!(v, 3);
    let poll = Poll::new(SHORT + SLACK, "the holder's lease to run out");
    while matches!(
        commit(s, &sid, &a, f2, Delta::default(), false).await,
        CommitReply::Committed { .. }
    ) {
        poll.tick().await;
    }
    not_before(sent, Instant::now(), SHORT, "Stale for an expired lease");
    stale(
        s,
        &sid,
        &a,
        f2,
        bad(),
        false,
        "commit after the lease ran out",
    )
    .await;
    let f3 = granted(s, &sid, &b, LONG, "acquire after the lease ran out")
        .await
        .fence;
    assert!(f3 > f2, "I1: fence {f3} after {f2}");
    stale(
        s,
        &sid,
        &a,
        f2,
        bad(),
        true,
        "commit after another owner took over",
    )
    .await;
    let outcome = renew1(s, &b, LONG, &sid, f3, true).await;
    assert_eq!(
        outcome,
        RenewOutcome::Renewed { recall: false },
        "a stale release freed the lock"
    );
    let snap = loaded(s, &sid, "after stale commits").await;
    assert_eq!(snap.version, 3, "I2: stale commits changed the version");
    assert_eq!(
        value(&snap, "a").as_deref(),
        Some("2"),
        "I2: a stale commit was applied"
    );
    assert!(snap.value("x").is_none(), "I2: a stale commit was applied");
}

/// A fenced commit applies sets and removes as one new version, stamps written
/// attributes with it, ignores expectations, keeps the version on an empty delta,
/// honours `replace_all`, and releases with `release`.
pub async fn commit_applies_delta(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    let (a, b) = (owner("a"), owner("b"));
    let f = create_held(s, &sid, &[("a", "1"), ("b", "1")], EXPIRY, &a, LONG).await;
    let mut delta = sets(&[("a", "2")]);
    delta.remove("b");
    assert_eq!(
        committed(s, &sid, &a, f, delta, false, "set and remove").await,
        2
    );
    let snap = loaded(s, &sid, "after set and remove").await;
    assert_eq!(snap.version, 2);
    assert_eq!(
        snap.attrs.get("a").map(|e| e.version),
        Some(2),
        "attribute version = session version"
    );
    assert_eq!(value(&snap, "a").as_deref(), Some("2"));
    assert!(
        snap.value("b").is_none(),
        "a removed attribute is still there"
    );

    let v = committed(s, &sid, &a, f, Delta::default(), false, "empty delta").await;
    assert_eq!(v, 2, "an empty delta must keep the version");
    let mut delta = Delta::default();
    delta.push(
        "c",
        Change::Set(Bytes::from_static(b"3")),
        Expect::Version(999),
    );
    delta.push("d", Change::Set(Bytes::from_static(b"3")), Expect::Absent);
    let v = committed(
        s,
        &sid,
        &a,
        f,
        delta,
        false,
        "fenced commits ignore expectations",
    )
    .await;
    assert_eq!(v, 3);
    let mut delta = sets(&[("e", "4")]);
    delta.replace_all = true;
    assert_eq!(
        committed(s, &sid, &a, f, delta, false, "replace_all").await,
        4
    );
    let snap = loaded(s, &sid, "after replace_all").await;
    let names: Vec<&String> = snap.attrs.keys().collect();
    assert_eq!(
        names,
        ["e"],
        "replace_all must leave only the attributes it sets"
    );
    assert_eq!(
        committed(s, &sid, &a, f, Delta::default(), true, "release").await,
        4
    );
    let grant = granted(s, &sid, &b, LONG, "acquire after release").await;
    assert!(grant.fence > f);
    assert_eq!(
        grant.snapshot, snap,
        "the grant must carry the committed data"
    );
}

/// `renew` extends the lease: renewing every 150 ms with a 600 ms lease keeps the
/// lock for 1.2 s against a waiter; once renewals stop, the waiter is granted, but
/// not before the last renewed lease ran out.
pub async fn renew_extends_lease(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    let (a, b) = (owner("a"), owner("b"));
    let lease = Duration::from_millis(600);
    let mut last = Instant::now();
    let f = create_held(s, &sid, &[], EXPIRY, &a, lease).await;
    queued(s, &sid, &b, LONG, "waiter").await;
    for round in 0..8 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        in_time(
            last,
            lease,
            &format!("round {round}: renew must extend the lease"),
        );
        last = Instant::now();
        let outcome = renew1(s, &a, lease, &sid, f, true).await;
        assert_eq!(
            outcome,
            RenewOutcome::Renewed { recall: true },
            "round {round}: renew must extend the lease and report the waiter (I4)"
        );
    }
    committed(
        s,
        &sid,
        &a,
        f,
        sets(&[("a", "1")]),
        false,
        "commit after renewals",
    )
    .await;
    let poll = Poll::new(
        lease + SLACK,
        "the waiter to be granted after renewals stopped",
    );
    loop {
        if let AcquireReply::Granted(g) = acquire(s, &sid, &b, LONG).await {
            not_before(last, Instant::now(), lease, "grant after the last renewal");
            assert!(g.fence > f);
            break;
        }
        poll.tick().await;
    }
}

/// `renew` answers `Lost` once the lease ran out and another owner was granted, for
/// an old fence, for a session never created and for a deleted one.
pub async fn renew_lost_session(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    create(s, &sid, &[]).await;
    let (a, b) = (owner("a"), owner("b"));
    let fa = granted(s, &sid, &a, SHORT, "first acquire").await.fence;
    let poll = Poll::new(
        SHORT + SLACK,
        "the waiter to be granted after the lease ran out",
    );
    let fb = loop {
        if let AcquireReply::Granted(g) = acquire(s, &sid, &b, LONG).await {
            break g.fence;
        }
        poll.tick().await;
    };
    assert_eq!(
        renew1(s, &a, LONG, &sid, fa, true).await,
        RenewOutcome::Lost,
        "renew by a replaced holder"
    );
    let outcome = renew1(s, &b, LONG, &sid, fb, true).await;
    assert_eq!(
        outcome,
        RenewOutcome::Renewed { recall: false },
        "renew by the holder"
    );
    queued(s, &sid, &a, LONG, "old holder asks again").await;
    assert_eq!(
        renew1(s, &a, LONG, &sid, fa, true).await,
        RenewOutcome::Lost,
        "renew by a waiter"
    );
    assert_eq!(
        renew1(s, &b, LONG, &sid, fa, true).await,
        RenewOutcome::Lost,
        "renew with an old fence"
    );
    let never = super::util::sid();
    assert_eq!(
        renew1(s, &b, LONG, &never, fb, true).await,
        RenewOutcome::Lost,
        "renew of an unknown id"
    );
    assert!(
        ok(s.delete(&sid).await, "delete"),
        "delete of an existing session answers true"
    );
    assert_eq!(
        renew1(s, &b, LONG, &sid, fb, true).await,
        RenewOutcome::Lost,
        "renew after delete"
    );
}

/// One `renew` call renews many sessions and answers in the order of the items, with
/// `recall` per session; items not held by the caller answer `Lost` and change nothing.
pub async fn renew_batch_in_order(store: Arc<dyn Store>) {
    let s = &*store;
    let (a, b, c) = (owner("a"), owner("b"), owner("c"));
    let ids: Vec<_> = (0..6).map(|_| sid()).collect();
    let f0 = create_held(s, &ids[0], &[], EXPIRY, &a, LONG).await;
    let f1 = create_held(s, &ids[1], &[], EXPIRY, &a, LONG).await;
    let f2 = create_held(s, &ids[2], &[], EXPIRY, &a, LONG).await;
    let fb = create_held(s, &ids[3], &[], EXPIRY, &b, LONG).await;
    create(s, &ids[5], &[]).await;
    queued(s, &ids[1], &c, LONG, "waiter on the second session").await;
    let item = |i: usize, fence: Fence, touch: bool| Renewal {
        sid: ids[i].clone(),
        fence,
        touch,
    };
    let items = [
        item(0, f0, true),
        item(3, fb, true),
        item(1, f1, true),
        item(4, Fence(1), true),
        item(2, Fence(f2.0 + 1), true),
        item(5, Fence(1), true),
        item(2, f2, false),
    ];
    let got = ok(s.renew(&a, LONG, &items).await, "renew");
    let held = |recall| RenewOutcome::Renewed { recall };
    let lost = RenewOutcome::Lost;
    let want = vec![held(false), lost, held(true), lost, lost, lost, held(false)];
    assert_eq!(
        got, want,
        "renew outcomes must come in the order of the items"
    );
    assert_eq!(
        ok(s.renew(&a, LONG, &[]).await, "renew"),
        vec![],
        "an empty batch answers nothing"
    );
    let outcome = renew1(s, &b, LONG, &ids[3], fb, true).await;
    assert_eq!(
        outcome,
        held(false),
        "another owner's failed renewal changed its lock"
    );
    granted(
        s,
        &ids[5],
        &c,
        LONG,
        "a Lost renewal must not lock a free session",
    )
    .await;
    let outcome = renew1(s, &a, LONG, &ids[4], Fence(1), true).await;
    assert_eq!(outcome, lost, "renewing an unknown id must not create it");
    assert!(
        load(s, &ids[4]).await.is_none(),
        "renewing an unknown id created it"
    );
}
