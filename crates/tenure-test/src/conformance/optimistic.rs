//! Cases about the lock-free path: `load` and `commit_optimistic`.

use std::sync::Arc;

use tenure_core::{Bytes, Change, Delta, Expect};
use tenure_store::{OptimisticReply, Store};
use tokio::time::Instant;

use super::util::*;
use crate::Poll;

fn op(delta: &mut Delta, name: &str, value: Option<&str>, expect: Expect) {
    let change = match value {
        Some(v) => Change::Set(Bytes::from(v.to_string())),
        None => Change::Remove,
    };
    delta.push(name, change, expect);
}

fn delta(ops: &[(&str, Option<&str>, Expect)]) -> Delta {
    let mut d = Delta::default();
    for (name, value, expect) in ops {
        op(&mut d, name, *value, *expect);
    }
    d
}

async fn expect_committed(
    s: &dyn Store,
    sid: &tenure_core::SessionId,
    d: Delta,
    version: u64,
    ctx: &str,
) {
    match optimistic(s, sid, d).await {
        OptimisticReply::Committed { version: v } => {
            assert_eq!(
                v, version,
                "{ctx}: optimistic commit answered the wrong version"
            )
        }
        other => panic!("{ctx}: optimistic commit must answer Committed, got {other:?}"),
    }
}

async fn expect_conflict(
    s: &dyn Store,
    sid: &tenure_core::SessionId,
    d: Delta,
    names: &[&str],
    ctx: &str,
) {
    match optimistic(s, sid, d).await {
        OptimisticReply::Conflict(conflict) => {
            let mut got = conflict.attrs.clone();
            got.sort();
            got.dedup();
            assert_eq!(
                got, names,
                "{ctx}: the conflict must name exactly the changed attributes"
            );
        }
        other => panic!("{ctx}: optimistic commit must answer Conflict, got {other:?}"),
    }
}

/// An optimistic commit conflicts only when an attribute it expects changed
/// (`Expect::Version`, `Expect::Absent`), not when other attributes did; the conflict
/// names those attributes, and a conflicting commit applies nothing at all.
pub async fn optimistic_conflicts_per_attribute(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    create(s, &sid, &[("a", "1"), ("b", "1")]).await;
    let snap = loaded(s, &sid, "after create").await;
    assert_eq!(snap.version, 1, "a created session is at version 1");
    for name in ["a", "b"] {
        assert_eq!(
            snap.attrs.get(name).map(|e| e.version),
            Some(1),
            "created attributes are at version 1"
        );
    }
    use Expect::{Absent, Any, Version as V};
    expect_committed(
        s,
        &sid,
        delta(&[("a", Some("2"), V(1))]),
        2,
        "expected version held",
    )
    .await;
    let d = delta(&[("b", Some("2"), V(1))]);
    expect_committed(s, &sid, d, 3, "another attribute changed, not this one").await;
    let before = loaded(s, &sid, "before conflicts").await;
    let d = delta(&[("a", Some("3"), V(1)), ("c", Some("1"), Absent)]);
    expect_conflict(s, &sid, d, &["a"], "a changed since version 1").await;
    let d = delta(&[
        ("a", Some("3"), V(2)),
        ("b", Some("3"), V(1)),
        ("c", Some("1"), Absent),
    ]);
    expect_conflict(s, &sid, d, &["b"], "b changed since version 1").await;
    let d = delta(&[("a", Some("3"), V(1)), ("b", Some("3"), V(1))]);
    expect_conflict(s, &sid, d, &["a", "b"], "both changed").await;
    let d = delta(&[("a", None, V(1))]);
    expect_conflict(s, &sid, d, &["a"], "remove with a stale version").await;
    assert_eq!(
        loaded(s, &sid, "after conflicts").await,
        before,
        "a conflicting commit applied something"
    );

    let d = delta(&[("c", Some("1"), Absent), ("b", None, V(3))]);
    expect_committed(s, &sid, d, 4, "absent attribute and exact version").await;
    let snap = loaded(s, &sid, "after remove").await;
    assert!(snap.value("b").is_none(), "b must be removed");
    assert_eq!(
        snap.attrs.get("c").map(|e| e.version),
        Some(4),
        "attribute version = session version"
    );
    assert_eq!(
        snap.attrs.get("a").map(|e| e.version),
        Some(2),
        "untouched attributes keep their version"
    );
    expect_conflict(
        s,
        &sid,
        delta(&[("c", Some("2"), Absent)]),
        &["c"],
        "Absent, but c exists",
    )
    .await;
    expect_conflict(
        s,
        &sid,
        delta(&[("b", Some("2"), V(3))]),
        &["b"],
        "b was removed",
    )
    .await;
    expect_committed(
        s,
        &sid,
        delta(&[("b", Some("2"), Absent)]),
        5,
        "b absent again",
    )
    .await;
    expect_committed(
        s,
        &sid,
        delta(&[("a", Some("9"), Any)]),
        6,
        "no expectation",
    )
    .await;
    let snap = loaded(s, &sid, "at the end").await;
    assert_eq!(snap.version, 6);
    assert_eq!(value(&snap, "a").as_deref(), Some("9"));
    assert_eq!(value(&snap, "b").as_deref(), Some("2"));
    assert_eq!(value(&snap, "c").as_deref(), Some("1"));
}

/// An optimistic commit answers `Locked` and applies nothing while an unexpired lock
/// is held; it goes through once the lock is released or its lease ran out.
pub async fn optimistic_locked_while_held(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    create(s, &sid, &[("a", "1")]).await;
    let a = owner("a");
    let f = granted(s, &sid, &a, LONG, "first acquire").await.fence;
    let d = || delta(&[("a", Some("2"), Expect::Version(1))]);
    assert_eq!(
        optimistic(s, &sid, d()).await,
        OptimisticReply::Locked,
        "optimistic commit while held"
    );
    assert_eq!(
        optimistic(s, &sid, Delta::default()).await,
        OptimisticReply::Locked,
        "empty one while held"
    );
    let snap = loaded(s, &sid, "after Locked").await;
    assert_eq!(
        (snap.version, value(&snap, "a").as_deref()),
        (1, Some("1")),
        "Locked applied something"
    );
    release(s, &sid, &a, f).await;
    expect_committed(s, &sid, d(), 2, "after release").await;

    let sent = Instant::now();
    let f2 = granted(s, &sid, &a, SHORT, "acquire with a short lease")
        .await
        .fence;
    let d2 = delta(&[("a", Some("3"), Expect::Version(2))]);
    assert_eq!(
        optimistic(s, &sid, d2.clone()).await,
        OptimisticReply::Locked,
        "while held again"
    );
    let poll = Poll::new(SHORT + SLACK, "the lease to run out for optimistic commits");
    loop {
        match optimistic(s, &sid, Delta::default()).await {
            OptimisticReply::Locked => poll.tick().await,
            OptimisticReply::Committed { version } => {
                not_before(
                    sent,
                    Instant::now(),
                    SHORT,
                    "optimistic commit past a lease",
                );
                assert_eq!(
                    version, 2,
                    "an empty optimistic commit must keep the version"
                );
                break;
            }
            other => panic!("empty optimistic commit: unexpected {other:?}"),
        }
    }
    expect_committed(s, &sid, d2, 3, "after the lease ran out").await;
    stale(
        s,
        &sid,
        &a,
        f2,
        sets(&[("a", "x")]),
        false,
        "holder whose lease ran out",
    )
    .await;
}
