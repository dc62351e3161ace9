//! One session this node holds: its tenure (fence, lease) and its near cache.
//!
//! # States
//!
//! ```text
//!            grant / create
//!   (none) ─────────────────> Active ──recall (after min hold) / idle / evict / shutdown──> Draining
//!                               │                                                            │
//!                               │ stale commit, renew Lost, lease lapsed                     │ in-flight = 0:
//!                               ▼                                                            │ flush + release
//!                             Gone(Lost)  <───────────── stale commit ────────────────────── ┤ in one commit
//!                                                                                            ▼
//!                                                                                      Gone(Released)
//! ```
//!
//! - Only `Active` admits requests (I7: a draining session takes no new local work).
//! - `Gone` is final; the entry leaves the node's table when it gets there, and a
//!   `Gone(Lost)` copy is never written anywhere (I8).
//! - The cache changes only at the end of a request, under the request's attribute
//!   locks, so a flush always sees whole requests.
//! - Each attribute carries a write sequence number: a flush marks an attribute clean
//!   only if no request changed it while the commit was in flight.
//! - A request's changes enter the cache before they are stored; the copy counts how
//!   far the store has them (see [`durable`]), and a request is answered only once
//!   the store has every change it saw (I18).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tenure_core::sync::lock;
use tenure_core::{AttrEntry, Bytes, OwnerId, SessionId, Snapshot};
use tenure_store::{Expiry, Fence};
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use crate::locks::LockTable;

mod cache;
mod doubt;
mod durable;
pub(crate) use cache::{Collected, Rewrite};
pub(crate) use doubt::Pending;

/// Where a held session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Active,
    Draining,
    Gone(GoneReason),
}

/// Why a held session left the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GoneReason {
    Released,
    Lost,
    /// Dropped with a commit whose outcome the store never confirmed: the requests
    /// that rode on it answer [`crate::SessionError::OutcomeUnknown`].
    InDoubt,
    Deleted,
}

#[derive(Debug)]
struct CachedAttr {
    /// `None`: removed locally, removal not yet written.
    value: Option<Bytes>,
    seq: u64,
    dirty: bool,
    /// The store's version of this attribute as of the last grant or stored commit
    /// that carried it (0: none yet). Meaningful only while the attribute is clean;
    /// kept so that a released copy can name what it holds (conditional takeover).
    version: u64,
    /// The attribute as the store has it (bytes and version), as of the last grant or
    /// stored commit that carried it; `None`: absent there. A patch is computed
    /// against it, so it moves on only when a commit is stored.
    stored: Option<AttrEntry>,
    /// Changes are sent as patches against `stored` where smaller: the request that
    /// changed it last used a key that compares structurally.
    structural: bool,
}

#[derive(Debug)]
struct HeldState {
    sid: SessionId,
    /// The owner id the tenure was granted to (the node's id may change, I15).
    owner: OwnerId,
    fence: Fence,
    lease_until: Instant,
    acquired_at: Instant,
    /// The session's timeouts, and when it was created (by this node's clock, no later
    /// than the store's): the node tells expiry on its own while it holds the session.
    expiry: Expiry,
    created_at: Instant,
    last_access: Instant,
    /// Requests admitted since the grant (the cold-path rule in renew.rs).
    uses: u64,
    last_write: Instant,
    attrs: HashMap<String, CachedAttr>,
    size_bytes: usize,
    in_flight: usize,
    /// Updates and requests since the last write, for the count-based policies.
    updates: u32,
    requests: u32,
    touched: bool,
    /// New timeouts a request set (per-session expiry), not yet written, with the
    /// write sequence number of the request that set them.
    pending_expiry: Option<(Expiry, u64)>,
    timer_armed: bool,
    release_started: bool,
    /// A release of this copy failed and is being retried: renewals leave it alone.
    release_failing: bool,
    next_seq: u64,
    /// Every change with a write sequence number up to this one is in the store (a
    /// commit stores everything below its mark, I10). 0: none since the grant, whose
    /// snapshot is stored (its entries have sequence 0).
    stored_seq: u64,
    /// The highest mark of a commit whose outcome was not learned when it was due: the
    /// changes below it and above `stored_seq` may or may not be stored (see
    /// [`durable`]). 0: none.
    unknown_mark: u64,
    /// A commit sent but not confirmed (see [`doubt`]).
    doubt: Option<Pending>,
}

/// A held session.
#[derive(Debug)]
pub(crate) struct Held {
    state: Mutex<HeldState>,
    /// The attribute locks of the requests in flight (writers only, I11).
    pub(crate) locks: Arc<Mutex<LockTable>>,
    /// Serializes commits of this session, so commits reach the store in the order
    /// their contents were collected.
    pub(crate) flush_lock: tokio::sync::Mutex<()>,
    phase: watch::Sender<Phase>,
    drained: Notify,
}

impl Held {
    /// A held copy from a grant (of `acquire` or of `create`), received at `now`.
    /// The node builds every held copy through `NodeInner::hold`, which works out the
    /// local lease end and creation time.
    #[allow(clippy::too_many_arguments)] // one per part of a grant; built in one place
    pub(crate) fn new(
        sid: SessionId,
        owner: OwnerId,
        fence: Fence,
        lease_until: Instant,
        snapshot: Snapshot,
        now: Instant,
        expiry: Expiry,
        created_at: Instant,
    ) -> Self {
        let size_bytes = snapshot.size_bytes();
        let attrs = snapshot
            .attrs
            .into_iter()
            .map(|(k, e)| {
                (
                    k,
                    CachedAttr {
                        value: Some(e.value.clone()),
                        seq: 0,
                        dirty: false,
                        version: e.version,
                        stored: Some(e),
                        structural: false,
                    },
                )
            })
            .collect();
        let state = HeldState {
            sid,
            owner,
            fence,
            lease_until,
            acquired_at: now,
            expiry,
            created_at,
            last_access: now,
            uses: 0,
            last_write: now,
            attrs,
            size_bytes,
            in_flight: 0,
            updates: 0,
            requests: 0,
            touched: false,
            pending_expiry: None,
            timer_armed: false,
            release_started: false,
            release_failing: false,
            next_seq: 1,
            stored_seq: 0,
            unknown_mark: 0,
            doubt: None,
        };
        Self {
            state: Mutex::new(state),
            locks: Arc::default(),
            flush_lock: tokio::sync::Mutex::new(()),
            phase: watch::Sender::new(Phase::Active),
            drained: Notify::new(),
        }
    }

    pub(crate) fn sid(&self) -> SessionId {
        lock(&self.state).sid.clone()
    }

    /// The owner id this tenure belongs to.
    pub(crate) fn owner(&self) -> OwnerId {
        lock(&self.state).owner.clone()
    }

    pub(crate) fn fence(&self) -> Fence {
        lock(&self.state).fence
    }

    pub(crate) fn phase(&self) -> Phase {
        *self.phase.borrow()
    }

    /// Admits a request if the session is active (I7).
    pub(crate) fn try_admit(self: &Arc<Self>, now: Instant) -> Option<Admission> {
        let mut st = lock(&self.state);
        if self.phase() != Phase::Active {
            return None;
        }
        st.in_flight += 1;
        st.uses += 1;
        st.last_access = now;
        st.touched = true;
        Some(Admission { held: self.clone() })
    }

    /// Admits the request a grant was for: a new copy is active, so this always
    /// succeeds.
    pub(crate) fn admit_granted(self: &Arc<Self>, now: Instant) -> Admission {
        let mut st = lock(&self.state);
        st.in_flight += 1;
        st.uses += 1;
        st.last_access = now;
        Admission { held: self.clone() }
    }

    /// A request is done with the session.
    fn leave(&self, now: Instant) {
        let mut st = lock(&self.state);
        st.in_flight = st.in_flight.saturating_sub(1);
        st.last_access = now;
        if st.in_flight == 0 {
            self.drained.notify_waiters();
        }
    }

    /// Whether the session's idle or absolute timeout has passed. The node is the
    /// only one using a session it holds, so its last access is the session's; the
    /// store's view lags by up to a renewal interval and so expires no earlier.
    pub(crate) fn expired(&self, now: Instant) -> bool {
        let st = lock(&self.state);
        let past =
            |since: Instant, after: Duration| since.checked_add(after).is_some_and(|at| now >= at);
        st.expiry
            .idle
            .is_some_and(|idle| st.in_flight == 0 && past(st.last_access, idle))
            || st
                .expiry
                .absolute
                .is_some_and(|abs| past(st.created_at, abs))
    }

    pub(crate) fn lease_valid(&self, now: Instant) -> bool {
        now < lock(&self.state).lease_until
    }

    pub(crate) fn set_lease_until(&self, until: Instant) {
        lock(&self.state).lease_until = until;
    }

    /// The current local value of an attribute, with the write sequence number of the
    /// change that left it so (0 if the grant's snapshot did, or if no entry exists:
    /// an absent attribute without an entry is absent at the store too, since an
    /// unstored removal keeps its entry).
    pub(crate) fn read(&self, name: &str) -> (Option<Bytes>, u64) {
        lock(&self.state)
            .attrs
            .get(name)
            .map_or((None, 0), |a| (a.value.clone(), a.seq))
    }

    /// The names of the attributes present in the cache, with the highest write
    /// sequence number among all entries (removed ones too): which names are present
    /// depends on every one of them.
    pub(crate) fn read_names(&self) -> (Vec<String>, u64) {
        let st = lock(&self.state);
        let seq = st.attrs.values().map(|a| a.seq).max().unwrap_or(0);
        let names = st
            .attrs
            .iter()
            .filter(|(_, a)| a.value.is_some())
            .map(|(k, _)| k.clone())
            .collect();
        (names, seq)
    }

    /// Renewal bookkeeping: whether requests used the session since the last renewal.
    pub(crate) fn take_touched(&self) -> bool {
        std::mem::take(&mut lock(&self.state).touched)
    }

    /// Idle and unused for `idle` at `now`, and not already on its way out.
    pub(crate) fn idle_for(&self, idle: Duration, now: Instant) -> bool {
        let st = lock(&self.state);
        st.in_flight == 0
            && !st.release_started
            && now.saturating_duration_since(st.last_access) >= idle
    }

    /// No request in flight, and none left or arrived for `quiet` at `now`.
    pub(crate) fn quiet_for(&self, quiet: Duration, now: Instant) -> bool {
        let st = lock(&self.state);
        st.in_flight == 0 && now.saturating_duration_since(st.last_access) >= quiet
    }

    /// Requests admitted since the grant.
    pub(crate) fn uses(&self) -> u64 {
        lock(&self.state).uses
    }

    /// Least-recent use, for eviction; `None` if busy or already leaving.
    pub(crate) fn evictable_since(&self) -> Option<Instant> {
        let st = lock(&self.state);
        (st.in_flight == 0 && !st.release_started && self.phase() == Phase::Active)
            .then_some(st.last_access)
    }

    pub(crate) fn acquired_at(&self) -> Instant {
        lock(&self.state).acquired_at
    }

    pub(crate) fn last_write(&self) -> Instant {
        lock(&self.state).last_write
    }

    /// A release attempt failed; it will be retried for a while.
    pub(crate) fn set_release_failing(&self) {
        lock(&self.state).release_failing = true;
    }

    /// Whether a release of this copy has been failing.
    pub(crate) fn release_failing(&self) -> bool {
        lock(&self.state).release_failing
    }

    /// Marks that a release has begun; false if one already had.
    pub(crate) fn start_release(&self) -> bool {
        let mut st = lock(&self.state);
        !std::mem::replace(&mut st.release_started, true)
    }

    /// Stops admitting requests (I7).
    pub(crate) fn begin_drain(&self) {
        let _st = lock(&self.state);
        self.phase.send_if_modified(|p| {
            let was_active = *p == Phase::Active;
            if was_active {
                *p = Phase::Draining;
            }
            was_active
        });
    }

    /// Waits until no request is in flight.
    pub(crate) async fn drained(&self) {
        loop {
            let notified = self.drained.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if lock(&self.state).in_flight == 0 {
                return;
            }
            notified.await;
        }
    }

    /// Final state; false if it already was gone.
    pub(crate) fn set_gone(&self, reason: GoneReason) -> bool {
        self.phase.send_if_modified(|p| {
            let was_gone = matches!(p, Phase::Gone(_));
            if !was_gone {
                *p = Phase::Gone(reason);
            }
            !was_gone
        })
    }

    /// Waits until the session has left the node.
    pub(crate) async fn gone(&self) {
        let mut rx = self.phase.subscribe();
        let _ = rx.wait_for(|p| matches!(p, Phase::Gone(_))).await;
    }

    /// Arms the write-behind timer if none is; true if the caller should start one.
    pub(crate) fn arm_timer(&self) -> bool {
        let mut st = lock(&self.state);
        !std::mem::replace(&mut st.timer_armed, true)
    }

    /// Disarms the timer if nothing is left to write; true if it was disarmed.
    pub(crate) fn disarm_timer_if_clean(&self) -> bool {
        let mut st = lock(&self.state);
        let clean = !st.attrs.values().any(|a| a.dirty) || matches!(self.phase(), Phase::Gone(_));
        if clean {
            st.timer_armed = false;
        }
        clean
    }

    /// Moves the session to a new id and fence after `rotate_id`.
    pub(crate) fn rotated(&self, sid: SessionId, fence: Fence) {
        let mut st = lock(&self.state);
        st.sid = sid;
        st.fence = fence;
    }
}

/// One request's admission to a held session. Dropping it leaves the session, so a
/// request that is cancelled or fails anywhere can never keep a release waiting for
/// its drain (the release would wait forever).
#[derive(Debug)]
pub(crate) struct Admission {
    held: Arc<Held>,
}

impl Admission {
    pub(crate) fn held(&self) -> &Arc<Held> {
        &self.held
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.held.leave(Instant::now());
    }
}
