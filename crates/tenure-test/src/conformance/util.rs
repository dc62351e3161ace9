//! Small helpers shared by the conformance cases: fresh ids, and store calls that
//! panic with a clear message when the answer is not the one the contract demands.

use std::time::Duration;

use tenure_core::{Bytes, Delta, OwnerId, SessionId, Snapshot};
use tenure_store::{
    AcquireReply, CommitId, CommitReply, CreateReply, Expiry, Fence, Grant, Hint, HintReceiver,
    OptimisticReply, RenewOutcome, Renewal, Store, StoreError,
};
use tokio::time::Instant;

/// A lease that must not run out during a case.
pub(super) const LONG: Duration = Duration::from_secs(30);
/// A lease (or waiter deadline) a case lets run out.
pub(super) const SHORT: Duration = Duration::from_millis(300);
/// How long past an expected deadline a case waits before it calls it a violation.
pub(super) const SLACK: Duration = Duration::from_secs(3);
/// Clock granularity allowed when comparing the store's clock with ours (a backend
/// may keep deadlines in whole milliseconds).
pub(super) const TOL: Duration = Duration::from_millis(25);
/// How long a hint may take to arrive when hints are not dropped.
pub(super) const HINT_WAIT: Duration = Duration::from_secs(3);
/// Expiry of the sessions the cases create: long enough for any case, short enough
/// that a shared backend cleans up after the suite.
pub(super) const EXPIRY: Expiry = Expiry {
    idle: Some(Duration::from_secs(120)),
    absolute: Some(Duration::from_secs(600)),
};

// The cases report failures by panicking (they run as tests), so a broken random
// source panics too, naming the call.
pub(super) fn sid() -> SessionId {
    // A case reports by panicking; an OS without randomness cannot run it at all.
    SessionId::generate().expect("SessionId::generate")
}

pub(super) fn owner(label: &str) -> OwnerId {
    // Labels here are short literals: only an OS without randomness fails this.
    OwnerId::generate(label).expect("OwnerId::generate")
}

pub(super) fn ok<T>(result: Result<T, StoreError>, call: &str) -> T {
    result.unwrap_or_else(|e| panic!("store.{call} failed: {e}"))
}

pub(super) fn attrs(pairs: &[(&str, &str)]) -> Vec<(String, Bytes)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Bytes::from(v.to_string())))
        .collect()
}

/// A delta of unconditional sets.
pub(super) fn sets(pairs: &[(&str, &str)]) -> Delta {
    let mut delta = Delta::default();
    for (k, v) in pairs {
        delta.set(*k, Bytes::from(v.to_string()));
    }
    delta
}

/// The value of attribute `name` as text.
pub(super) fn value(snap: &Snapshot, name: &str) -> Option<String> {
    snap.value(name)
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

pub(super) async fn create(store: &dyn Store, sid: &SessionId, pairs: &[(&str, &str)]) {
    create_with(store, sid, pairs, EXPIRY).await;
}

pub(super) async fn create_with(
    store: &dyn Store,
    sid: &SessionId,
    pairs: &[(&str, &str)],
    expiry: Expiry,
) {
    match ok(store.create(sid, attrs(pairs), expiry, None).await, "create") {
        CreateReply::Created { fence: None } => {}
        other => panic!("create of a fresh id without tenure must answer Created {{ fence: None }}, got {other:?}"),
    }
}

/// Creates with a tenure for `holder` and answers its fence.
pub(super) async fn create_held(
    store: &dyn Store,
    sid: &SessionId,
    pairs: &[(&str, &str)],
    expiry: Expiry,
    holder: &OwnerId,
    lease: Duration,
) -> Fence {
    match ok(store.create(sid, attrs(pairs), expiry, Some((holder, lease))).await, "create") {
        CreateReply::Created { fence: Some(fence) } => fence,
        other => panic!("create of a fresh id with tenure must answer Created {{ fence: Some(_) }}, got {other:?}"),
    }
}

pub(super) async fn acquire(
    store: &dyn Store,
    sid: &SessionId,
    owner: &OwnerId,
    lease: Duration,
) -> AcquireReply {
    acquire_waiting(store, sid, owner, lease, lease).await
}

/// `acquire` with a queue wait different from the lease.
pub(super) async fn acquire_waiting(
    store: &dyn Store,
    sid: &SessionId,
    owner: &OwnerId,
    lease: Duration,
    wait: Duration,
) -> AcquireReply {
    ok(store.acquire(sid, owner, lease, wait).await, "acquire")
}

/// Acquires and insists on `Granted`.
pub(super) async fn granted(
    store: &dyn Store,
    sid: &SessionId,
    owner: &OwnerId,
    lease: Duration,
    ctx: &str,
) -> Grant {
    match acquire(store, sid, owner, lease).await {
        AcquireReply::Granted(grant) => grant,
        other => panic!("{ctx}: acquire must answer Granted, got {other:?}"),
    }
}

/// Acquires and insists on `Queued`; answers the position.
pub(super) async fn queued(
    store: &dyn Store,
    sid: &SessionId,
    owner: &OwnerId,
    lease: Duration,
    ctx: &str,
) -> usize {
    match acquire(store, sid, owner, lease).await {
        AcquireReply::Queued {
            position,
            retry_after,
        } => {
            assert!(
                position >= 1,
                "{ctx}: queue positions are 1-based, got {position}"
            );
            assert!(
                retry_after <= lease.max(LONG),
                "{ctx}: retry_after {retry_after:?} is longer than any lease in play"
            );
            position
        }
        other => panic!("{ctx}: acquire must answer Queued, got {other:?}"),
    }
}

pub(super) async fn commit(
    store: &dyn Store,
    sid: &SessionId,
    owner: &OwnerId,
    fence: Fence,
    delta: Delta,
    release: bool,
) -> CommitReply {
    ok(
        store
            .commit(sid, owner, fence, next_commit_id(), delta, release)
            .await,
        "commit",
    )
}

/// A commit id above every one handed out before: the cases that do not test
/// idempotency send each commit once, as a holder does.
pub(super) fn next_commit_id() -> CommitId {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    CommitId(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// Commits and insists on `Committed`; answers the version.
pub(super) async fn committed(
    store: &dyn Store,
    sid: &SessionId,
    owner: &OwnerId,
    fence: Fence,
    delta: Delta,
    release: bool,
    ctx: &str,
) -> u64 {
    match commit(store, sid, owner, fence, delta, release).await {
        CommitReply::Committed { version } => version,
        other => panic!("{ctx}: commit must answer Committed, got {other:?}"),
    }
}

/// Commits and insists on `Stale` with the same delta handed back.
pub(super) async fn stale(
    store: &dyn Store,
    sid: &SessionId,
    owner: &OwnerId,
    fence: Fence,
    delta: Delta,
    release: bool,
    ctx: &str,
) {
    match commit(store, sid, owner, fence, delta.clone(), release).await {
        CommitReply::Stale { delta: back } => {
            assert_eq!(
                back, delta,
                "{ctx}: Stale must hand back the delta that was sent"
            )
        }
        other => panic!("I2 fenced writes: {ctx}: commit must answer Stale, got {other:?}"),
    }
}

/// Releases with an empty commit.
pub(super) async fn release(store: &dyn Store, sid: &SessionId, owner: &OwnerId, fence: Fence) {
    committed(
        store,
        sid,
        owner,
        fence,
        Delta::default(),
        true,
        "release by the holder",
    )
    .await;
}

/// Renews one session.
pub(super) async fn renew1(
    store: &dyn Store,
    owner: &OwnerId,
    lease: Duration,
    sid: &SessionId,
    fence: Fence,
    touch: bool,
) -> RenewOutcome {
    let items = [Renewal {
        sid: sid.clone(),
        fence,
        touch,
    }];
    let outcomes = ok(store.renew(owner, lease, &items).await, "renew");
    assert_eq!(
        outcomes.len(),
        1,
        "renew must answer one outcome per item, got {outcomes:?}"
    );
    outcomes[0]
}

pub(super) async fn load(store: &dyn Store, sid: &SessionId) -> Option<Snapshot> {
    ok(store.load(sid).await, "load")
}

/// Loads and insists the session exists.
pub(super) async fn loaded(store: &dyn Store, sid: &SessionId, ctx: &str) -> Snapshot {
    load(store, sid)
        .await
        .unwrap_or_else(|| panic!("{ctx}: load must find the session"))
}

pub(super) async fn optimistic(
    store: &dyn Store,
    sid: &SessionId,
    delta: Delta,
) -> OptimisticReply {
    ok(
        store.commit_optimistic(sid, delta).await,
        "commit_optimistic",
    )
}

/// Waits for `expected` on `rx`, skipping other hints (hints may be duplicated).
pub(super) async fn expect_hint(rx: &mut HintReceiver, expected: &Hint, ctx: &str) {
    let deadline = Instant::now() + HINT_WAIT;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(hint)) if &hint == expected => return,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("{ctx}: the hint stream closed before {expected:?} arrived"),
            Err(_) => panic!("{ctx}: {expected:?} did not arrive within {HINT_WAIT:?}"),
        }
    }
}

/// Asserts that an answer received at `received` came no earlier than `sent + wait`:
/// the store may not act on a deadline before it passed.
pub(super) fn not_before(sent: Instant, received: Instant, wait: Duration, ctx: &str) {
    let took = received.saturating_duration_since(sent);
    assert!(
        took + TOL >= wait,
        "{ctx}: happened {took:?} after the call that set a deadline of {wait:?}: too early"
    );
}

/// Before a call that must find a deadline not yet passed: panics as inconclusive
/// (not as a store bug) if this process stalled so long since `prev_sent`, the call
/// that set the deadline, that the deadline may really have passed.
pub(super) fn in_time(prev_sent: Instant, deadline: Duration, ctx: &str) {
    let gap = prev_sent.elapsed();
    assert!(
        gap + TOL < deadline,
        "{ctx}: inconclusive: the test stalled {gap:?}, past the {deadline:?} deadline it \
         checks (an overloaded machine, not necessarily a store bug)"
    );
}
