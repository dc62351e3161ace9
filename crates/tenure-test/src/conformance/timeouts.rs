//! Cases about per-session timeouts: a commit whose delta carries `Delta::expiry`
//! replaces the session's timeouts with its operations, only if they apply.
//!
//! Enforcement is judged as in `expiry.rs`, against the times the deciding calls were
//! sent and answered; renewals without `touch` serve as probes because they do not
//! count as accesses. A commit that must not apply carries a 1 ms absolute timeout,
//! so a store that wrongly applies it shows at once: the session is gone.

use std::sync::Arc;
use std::time::Duration;

use tenure_core::{Bytes, Change, Delta, Expect};
use tenure_store::{Expiry, OptimisticReply, RenewOutcome, Store};
use tokio::time::Instant;

use super::expiry::assert_gone;
use super::util::*;
use crate::Poll;

/// The idle timeout a session starts with where a commit then lengthens it.
const OLD_IDLE: Duration = Duration::from_millis(300);
/// The idle timeout that commit carries.
const NEW_IDLE: Duration = Duration::from_millis(600);
/// An absolute timeout a commit shortens the session's to.
const SHORT_ABSOLUTE: Duration = Duration::from_millis(600);

/// Timeouts that, if applied, end the session at once (it is older than 1 ms).
const POISON: Expiry = Expiry {
    idle: None,
    absolute: Some(Duration::from_millis(1)),
};

/// `pairs` as unconditional sets, carrying `expiry`.
fn with_expiry(pairs: &[(&str, &str)], expiry: Expiry) -> Delta {
    let mut delta = sets(pairs);
    delta.expiry = Some(expiry);
    delta
}

/// The timeouts a grant to the holder reports (a re-grant with the same fence).
async fn granted_expiry(
    s: &dyn Store,
    sid: &tenure_core::SessionId,
    holder: &tenure_core::OwnerId,
    ctx: &str,
) -> Expiry {
    granted(s, sid, holder, LONG, ctx).await.expiry
}

/// A fenced commit carrying a longer idle timeout keeps the session alive past the
/// old one, a grant after it reports the new timeouts, and the new idle timeout is
/// enforced from the last access.
pub async fn commit_expiry_lengthens_idle(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    let a = owner("a");
    let f = create_held(s, &sid, &[("a", "0")], Expiry::idle(OLD_IDLE), &a, LONG).await;
    let new = Expiry::idle(NEW_IDLE);
    let delta = with_expiry(&[("a", "1")], new);
    committed(
        s,
        &sid,
        &a,
        f,
        delta,
        false,
        "commit carrying a longer idle",
    )
    .await;
    // The re-grant is the last access: the old idle timeout would end the session at
    // most OLD_IDLE after its answer, the new one no sooner than NEW_IDLE after it was sent.
    let sent = Instant::now();
    let grant = granted(s, &sid, &a, LONG, "re-grant after the commit").await;
    let accessed = Instant::now();
    assert_eq!(grant.fence, f, "the holder's re-grant keeps its fence");
    assert_eq!(
        grant.expiry, new,
        "a grant reports the timeouts a commit set"
    );
    assert_eq!(value(&grant.snapshot, "a").as_deref(), Some("1"));
    tokio::time::sleep_until(accessed + OLD_IDLE + TOL * 2).await;
    in_time(
        sent,
        NEW_IDLE,
        "the new idle timeout kept the session alive",
    );
    assert_eq!(
        renew1(s, &a, LONG, &sid, f, false).await,
        RenewOutcome::Renewed { recall: false },
        "a session whose commit lengthened its idle timeout expired at the old one"
    );
    let poll = Poll::new(NEW_IDLE + SLACK, "the new idle timeout to pass");
    loop {
        let asked = Instant::now();
        match renew1(s, &a, LONG, &sid, f, false).await {
            RenewOutcome::Renewed { .. } => assert!(
                asked < accessed + NEW_IDLE + TOL,
                "I5: the session outlived the idle timeout its commit set"
            ),
            _ => {
                not_before(sent, Instant::now(), NEW_IDLE, "I5: the new idle timeout");
                break;
            }
        }
        poll.tick().await;
    }
    assert_gone(s, &sid, "the idle timeout set by a commit passed").await;
}

/// A commit carrying a shorter absolute timeout ends the session once that passes,
/// counted from the session's creation, although it is accessed all along; a commit
/// whose absolute timeout has already passed ends it at once.
pub async fn commit_expiry_shortens_absolute(store: Arc<dyn Store>) {
    let s = &*store;
    let (sid, past) = (sid(), sid());
    let a = owner("a");
    let sent = Instant::now();
    let f = create_held(s, &sid, &[], EXPIRY, &a, LONG).await;
    let created = Instant::now();
    let new = Expiry {
        idle: EXPIRY.idle,
        absolute: Some(SHORT_ABSOLUTE),
    };
    committed(s, &sid, &a, f, with_expiry(&[], new), false, "shorten").await;
    assert_eq!(granted_expiry(s, &sid, &a, "after shortening").await, new);
    let poll = Poll::new(SHORT_ABSOLUTE + SLACK, "the shortened absolute timeout");
    loop {
        let asked = Instant::now();
        if load(s, &sid).await.is_none() {
            not_before(
                sent,
                Instant::now(),
                SHORT_ABSOLUTE,
                "I5: shortened absolute",
            );
            break;
        }
        assert!(
            asked < created + SHORT_ABSOLUTE + TOL,
            "I5: the session outlived the absolute timeout its commit set"
        );
        poll.tick().await;
    }
    assert_gone(s, &sid, "the absolute timeout set by a commit passed").await;

    // Already past: the commit applies, and the session is gone right after it.
    let f = create_held(s, &past, &[("a", "1")], EXPIRY, &a, LONG).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    committed(
        s,
        &past,
        &a,
        f,
        with_expiry(&[("a", "2")], POISON),
        false,
        "past",
    )
    .await;
    assert_gone(s, &past, "a commit set an absolute timeout already passed").await;
}

/// A `Stale` commit carrying timeouts changes nothing: not the attributes, not the
/// timeouts (later grants report the old ones, and the session lives on).
pub async fn stale_commit_keeps_expiry(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    let (a, b) = (owner("a"), owner("b"));
    let f = create_held(s, &sid, &[("a", "1")], EXPIRY, &a, LONG).await;
    let delta = with_expiry(&[("a", "2")], POISON);
    stale(
        s,
        &sid,
        &a,
        tenure_store::Fence(f.0 + 1),
        delta.clone(),
        false,
        "wrong fence",
    )
    .await;
    stale(s, &sid, &b, f, delta.clone(), true, "wrong owner").await;
    let expiry_only = Delta {
        expiry: Some(POISON),
        ..Delta::default()
    };
    stale(
        s,
        &sid,
        &b,
        f,
        expiry_only,
        false,
        "expiry only, wrong owner",
    )
    .await;
    let grant = granted(s, &sid, &a, LONG, "after the stale commits").await;
    assert_eq!(grant.fence, f, "stale commits released nothing");
    assert_eq!(grant.expiry, EXPIRY, "a Stale commit changed the timeouts");
    assert_eq!(
        grant.snapshot.version, 1,
        "a Stale commit changed the version"
    );
    assert_eq!(value(&grant.snapshot, "a").as_deref(), Some("1"));
    loaded(s, &sid, "a Stale commit's timeouts must not apply").await;
}

/// `commit_optimistic` with timeouts applies them with its operations; a `Conflict`
/// or `Locked` one applies neither.
pub async fn optimistic_commit_applies_expiry(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    let a = owner("a");
    create(s, &sid, &[("a", "1")]).await;
    let new = Expiry {
        idle: Some(Duration::from_secs(90)),
        absolute: Some(Duration::from_secs(500)),
    };
    let mut delta = with_expiry(&[], new);
    delta.push("b", Change::Set(Bytes::from_static(b"1")), Expect::Absent);
    match optimistic(s, &sid, delta).await {
        OptimisticReply::Committed { version } => assert_eq!(version, 2),
        other => panic!("an optimistic commit with timeouts: Committed, got {other:?}"),
    }
    // Expects "a" absent, but it exists: a conflict, so the poison must not apply.
    let mut delta = with_expiry(&[], POISON);
    delta.push("a", Change::Set(Bytes::from_static(b"2")), Expect::Absent);
    match optimistic(s, &sid, delta).await {
        OptimisticReply::Conflict(c) => assert_eq!(c.attrs, vec!["a".to_string()]),
        other => panic!("a conflicting optimistic commit: Conflict, got {other:?}"),
    }
    let grant = granted(s, &sid, &a, LONG, "a Conflict must leave the session").await;
    assert_eq!(
        grant.expiry, new,
        "a grant reports an optimistic commit's timeouts"
    );
    assert_eq!(grant.snapshot.version, 2, "a Conflict changed the version");
    let mut delta = with_expiry(&[], POISON);
    delta.push("c", Change::Set(Bytes::from_static(b"1")), Expect::Any);
    assert_eq!(
        optimistic(s, &sid, delta).await,
        OptimisticReply::Locked,
        "an optimistic commit while the session is held"
    );
    release(s, &sid, &a, grant.fence).await;
    let snap = loaded(s, &sid, "a Locked commit's timeouts must not apply").await;
    assert_eq!(snap.version, 2, "a Locked commit changed the version");
    assert_eq!(granted_expiry(s, &sid, &a, "after Locked").await, new);
}

/// A delta that carries only timeouts changes no attribute and no version, fenced or
/// optimistic, yet applies them; a releasing one still releases.
pub async fn expiry_only_commit_keeps_version(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    let (a, b) = (owner("a"), owner("b"));
    let f = create_held(s, &sid, &[("a", "1")], EXPIRY, &a, LONG).await;
    let first = Expiry::idle(Duration::from_secs(100));
    let only = |expiry| Delta {
        expiry: Some(expiry),
        ..Delta::default()
    };
    let version = committed(s, &sid, &a, f, only(first), true, "expiry only").await;
    assert_eq!(version, 1, "an expiry-only commit must keep the version");
    let grant = granted(s, &sid, &b, LONG, "an expiry-only release frees the lock").await;
    assert!(grant.fence > f, "I1: a new holder takes a greater fence");
    assert_eq!(
        grant.expiry, first,
        "an expiry-only commit applies its timeouts"
    );
    assert_eq!(grant.snapshot.version, 1);
    assert_eq!(grant.snapshot.attrs.get("a").map(|e| e.version), Some(1));
    release(s, &sid, &b, grant.fence).await;
    let second = Expiry::absolute(Duration::from_secs(400));
    match optimistic(s, &sid, only(second)).await {
        OptimisticReply::Committed { version } => {
            assert_eq!(
                version, 1,
                "an expiry-only optimistic commit keeps the version"
            )
        }
        other => panic!("an expiry-only optimistic commit: Committed, got {other:?}"),
    }
    let grant = granted(s, &sid, &a, LONG, "after the optimistic expiry-only commit").await;
    assert_eq!(
        grant.expiry, second,
        "an optimistic expiry-only commit applies"
    );
    assert_eq!(grant.snapshot.version, 1);
    assert_eq!(value(&grant.snapshot, "a").as_deref(), Some("1"));
}

/// A commit carrying no timeouts at all removes them: the session outlives the ones
/// it was created with (on Redis, its keys lose their TTLs).
pub async fn commit_expiry_removes_timeouts(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    let a = owner("a");
    let old = Expiry {
        idle: Some(OLD_IDLE),
        absolute: Some(OLD_IDLE * 2),
    };
    let sent = Instant::now();
    let f = create_held(s, &sid, &[], old, &a, LONG).await;
    committed(
        s,
        &sid,
        &a,
        f,
        with_expiry(&[], Expiry::default()),
        false,
        "none",
    )
    .await;
    tokio::time::sleep_until(sent + OLD_IDLE * 2 + TOL * 2).await;
    assert_eq!(
        renew1(s, &a, LONG, &sid, f, false).await,
        RenewOutcome::Renewed { recall: false },
        "a session whose commit removed its timeouts expired at the old ones"
    );
    let grant = granted(s, &sid, &a, LONG, "after removing the timeouts").await;
    assert_eq!(grant.expiry, Expiry::default());
    // A session without timeouts never goes away on its own (a shared backend).
    assert!(
        ok(s.delete(&sid).await, "delete"),
        "delete of the live session"
    );
}
