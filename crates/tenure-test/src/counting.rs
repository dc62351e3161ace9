//! [`CountingStore`]: counts the calls a node makes, the size of what it commits and
//! the size of the grants it gets.
//!
//! Tests of a node assert how many store round trips an operation costs and how many
//! bytes a commit or a takeover carries, so these are counted here, outside the node,
//! where the node cannot miscount. The wrapper changes no call: it is a [`Forward`]
//! whose [`before`](Forward::before) hook counts, and whose acquire hooks measure the
//! grant on its way back; every call is passed on as it came.

use std::collections::VecDeque;
use std::ops::Sub;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use std::time::Duration;

use async_trait::async_trait;
use tenure_core::sync::lock;
use tenure_core::{Delta, OwnerId, SessionId};
use tenure_store::{AcquireReply, Known, Store, StoreError};

use crate::forward::{Call, Forward, Forwarding, Method};

/// How many commit payloads (and, apart, grant payloads) [`CountingStore`]
/// remembers; older ones are forgotten.
pub const PAYLOAD_HISTORY: usize = 4096;

/// Calls per [`Store`] method, as counted by [`CountingStore`]. Subtract two
/// snapshots to count the calls in between.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallCounts {
    /// `acquire` calls.
    pub acquire: u64,
    /// `renew` calls (one per batch, whatever its length).
    pub renew: u64,
    /// `commit` calls.
    pub commit: u64,
    /// `release_many` calls (one per batch, whatever its length).
    pub release_many: u64,
    /// Sessions given back by `release_many` calls, summed over their batches.
    pub released_in_batches: u64,
    /// `load` calls.
    pub load: u64,
    /// `commit_optimistic` calls.
    pub commit_optimistic: u64,
    /// `create` calls.
    pub create: u64,
    /// `delete` calls.
    pub delete: u64,
    /// `rotate_id` calls.
    pub rotate_id: u64,
    /// `hints` calls.
    pub hints: u64,
    /// `keep_alive` calls: the node's liveness tick, once a second whatever it does,
    /// so not part of [`total`](Self::total).
    pub keep_alive: u64,
    /// `locate` calls (finding the holder to forward a request to).
    pub locate: u64,
    /// `advertise` calls: once per node incarnation, so not part of
    /// [`total`](Self::total).
    pub advertise: u64,
    /// `sessions_of` calls (listing a principal's sessions).
    pub sessions_of: u64,
    /// `events` calls (reading the event log).
    pub events: u64,
    /// `maintain` calls: every node's upkeep tick, whatever it does, so not part of
    /// [`total`](Self::total).
    pub maintain: u64,
}

impl CallCounts {
    /// Every call of every method but `keep_alive`: the store round trips that
    /// requests and sessions cause.
    pub fn total(&self) -> u64 {
        self.acquire
            + self.renew
            + self.commit
            + self.release_many
            + self.load
            + self.commit_optimistic
            + self.create
            + self.delete
            + self.rotate_id
            + self.hints
            + self.locate
            + self.sessions_of
            + self.events
    }
}

impl Sub for CallCounts {
    type Output = CallCounts;

    /// The calls made between two snapshots (`later - earlier`, saturating).
    fn sub(self, rhs: Self) -> Self {
        CallCounts {
            acquire: self.acquire.saturating_sub(rhs.acquire),
            renew: self.renew.saturating_sub(rhs.renew),
            commit: self.commit.saturating_sub(rhs.commit),
            release_many: self.release_many.saturating_sub(rhs.release_many),
            released_in_batches: self
                .released_in_batches
                .saturating_sub(rhs.released_in_batches),
            load: self.load.saturating_sub(rhs.load),
            commit_optimistic: self.commit_optimistic.saturating_sub(rhs.commit_optimistic),
            create: self.create.saturating_sub(rhs.create),
            delete: self.delete.saturating_sub(rhs.delete),
            rotate_id: self.rotate_id.saturating_sub(rhs.rotate_id),
            hints: self.hints.saturating_sub(rhs.hints),
            keep_alive: self.keep_alive.saturating_sub(rhs.keep_alive),
            locate: self.locate.saturating_sub(rhs.locate),
            advertise: self.advertise.saturating_sub(rhs.advertise),
            sessions_of: self.sessions_of.saturating_sub(rhs.sessions_of),
            events: self.events.saturating_sub(rhs.events),
            maintain: self.maintain.saturating_sub(rhs.maintain),
        }
    }
}

/// The size of one delta sent with `commit` or `commit_optimistic`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitPayload {
    /// [`Delta::payload_bytes`]: the names and values carried.
    pub payload_bytes: usize,
    /// `delta.encode().len()`: the wire form.
    pub encoded_bytes: usize,
    /// How many attribute operations the delta held.
    pub ops: usize,
    /// True for `commit_optimistic`, false for a fenced `commit`.
    pub optimistic: bool,
    /// The `release` flag of a fenced commit (false for optimistic ones).
    pub release: bool,
}

/// The size of the session data one grant (`acquire`, `acquire_since`) carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantPayload {
    /// Names and values of the attributes carried (`Snapshot::size_bytes`).
    pub payload_bytes: usize,
    /// How many attributes it carried.
    pub attrs: usize,
    /// How many names it listed as removed (only a partial grant lists any).
    pub removed: usize,
    /// True for [`AcquireReply::Partial`]: only what the caller's copy lacked.
    pub partial: bool,
}

#[derive(Debug, Default)]
struct Counters {
    acquire: AtomicU64,
    renew: AtomicU64,
    commit: AtomicU64,
    release_many: AtomicU64,
    released_in_batches: AtomicU64,
    load: AtomicU64,
    commit_optimistic: AtomicU64,
    create: AtomicU64,
    delete: AtomicU64,
    rotate_id: AtomicU64,
    hints: AtomicU64,
    keep_alive: AtomicU64,
    locate: AtomicU64,
    advertise: AtomicU64,
    sessions_of: AtomicU64,
    events: AtomicU64,
    maintain: AtomicU64,
    payloads: Mutex<VecDeque<CommitPayload>>,
    grants: Mutex<VecDeque<GrantPayload>>,
}

impl Counters {
    fn calls(&self, method: Method) -> &AtomicU64 {
        match method {
            Method::Acquire => &self.acquire,
            Method::Renew => &self.renew,
            Method::Commit => &self.commit,
            Method::ReleaseMany => &self.release_many,
            Method::Load => &self.load,
            Method::CommitOptimistic => &self.commit_optimistic,
            Method::Create => &self.create,
            Method::Delete => &self.delete,
            Method::RotateId => &self.rotate_id,
            Method::Hints => &self.hints,
            Method::KeepAlive => &self.keep_alive,
            Method::Locate => &self.locate,
            Method::Advertise => &self.advertise,
            Method::SessionsOf => &self.sessions_of,
            Method::Events => &self.events,
            Method::Maintain => &self.maintain,
        }
    }

    fn payloads(&self) -> MutexGuard<'_, VecDeque<CommitPayload>> {
        lock(&self.payloads)
    }

    fn record(&self, delta: &Delta, optimistic: bool, release: bool) {
        let payload = CommitPayload {
            payload_bytes: delta.payload_bytes(),
            encoded_bytes: delta.encode().len(),
            ops: delta.ops.len(),
            optimistic,
            release,
        };
        let mut payloads = self.payloads();
        if payloads.len() == PAYLOAD_HISTORY {
            payloads.pop_front();
        }
        payloads.push_back(payload);
    }

    /// Notes the size of a grant, if `reply` is one.
    fn record_grant(&self, reply: &Result<AcquireReply, StoreError>) {
        let payload = match reply {
            Ok(AcquireReply::Granted(grant)) => GrantPayload {
                payload_bytes: grant.snapshot.size_bytes(),
                attrs: grant.snapshot.attrs.len(),
                removed: 0,
                partial: false,
            },
            Ok(AcquireReply::Partial(partial)) => GrantPayload {
                payload_bytes: partial.grant.snapshot.size_bytes(),
                attrs: partial.grant.snapshot.attrs.len(),
                removed: partial.removed.len(),
                partial: true,
            },
            _ => return,
        };
        let mut grants = lock(&self.grants);
        if grants.len() == PAYLOAD_HISTORY {
            grants.pop_front();
        }
        grants.push_back(payload);
    }
}

/// The [`Forward`] wrapper inside a [`CountingStore`]: the inner store and the counters.
#[derive(Debug)]
pub struct Counting<S: ?Sized> {
    inner: Arc<S>,
    counters: Arc<Counters>,
}

impl<S: ?Sized> Clone for Counting<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            counters: Arc::clone(&self.counters),
        }
    }
}

#[async_trait]
impl<S: Store + ?Sized> Forward for Counting<S> {
    fn inner(&self) -> &dyn Store {
        &self.inner
    }

    /// Counts the call and, for a commit, the size of its delta.
    async fn before(&self, call: &Call<'_>) -> Result<(), StoreError> {
        let c = &*self.counters;
        c.calls(call.method()).fetch_add(1, Ordering::SeqCst);
        match *call {
            Call::Commit { delta, release, .. } => c.record(delta, false, release),
            Call::CommitOptimistic { delta, .. } => c.record(delta, true, false),
            Call::ReleaseMany { items, .. } => {
                c.released_in_batches
                    .fetch_add(items.len() as u64, Ordering::SeqCst);
            }
            _ => {}
        }
        Ok(())
    }

    /// Passes the call on, and measures the grant.
    async fn acquire(
        &self,
        sid: &SessionId,
        owner: &OwnerId,
        lease: Duration,
        wait: Duration,
    ) -> Result<AcquireReply, StoreError> {
        self.before(&Call::Acquire {
            sid,
            owner,
            lease,
            wait,
            known: None,
        })
        .await?;
        let reply = self.inner.acquire(sid, owner, lease, wait).await;
        self.counters.record_grant(&reply);
        self.after(Method::Acquire, reply).await
    }

    /// Passes the call on, and measures the grant.
    async fn acquire_since(
        &self,
        sid: &SessionId,
        owner: &OwnerId,
        lease: Duration,
        wait: Duration,
        known: &Known,
    ) -> Result<AcquireReply, StoreError> {
        self.before(&Call::Acquire {
            sid,
            owner,
            lease,
            wait,
            known: Some(known),
        })
        .await?;
        let reply = self
            .inner
            .acquire_since(sid, owner, lease, wait, known)
            .await;
        self.counters.record_grant(&reply);
        self.after(Method::Acquire, reply).await
    }
}

/// A [`Store`] that delegates every call to an inner store and counts it.
///
/// Cloning gives another handle on the same counters and the same inner store.
///
/// ```
/// use std::sync::Arc;
/// use tenure_store::{MemoryStore, Store};
/// use tenure_test::CountingStore;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let store = CountingStore::new(MemoryStore::new());
/// let sid = tenure_core::SessionId::generate().unwrap();
/// let before = store.counts();
/// assert!(store.load(&sid).await.unwrap().is_none());
/// assert_eq!((store.counts() - before).load, 1);
/// let shared: Arc<dyn Store> = Arc::new(store.clone());
/// # let _ = shared;
/// # }
/// ```
pub type CountingStore<S> = Forwarding<Counting<S>>;

impl<S: Store> CountingStore<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self::from_arc(Arc::new(inner))
    }
}

impl<S: Store + ?Sized> CountingStore<S> {
    /// Wraps a shared store (also an `Arc<dyn Store>`).
    pub fn from_arc(inner: Arc<S>) -> Self {
        Forwarding(Counting {
            inner,
            counters: Arc::default(),
        })
    }

    /// The wrapped store.
    pub fn inner(&self) -> &Arc<S> {
        &self.0.inner
    }

    /// The calls counted so far.
    pub fn counts(&self) -> CallCounts {
        let c = &*self.0.counters;
        let get = |a: &AtomicU64| a.load(Ordering::SeqCst);
        CallCounts {
            acquire: get(&c.acquire),
            renew: get(&c.renew),
            commit: get(&c.commit),
            release_many: get(&c.release_many),
            released_in_batches: get(&c.released_in_batches),
            load: get(&c.load),
            commit_optimistic: get(&c.commit_optimistic),
            create: get(&c.create),
            delete: get(&c.delete),
            rotate_id: get(&c.rotate_id),
            hints: get(&c.hints),
            keep_alive: get(&c.keep_alive),
            locate: get(&c.locate),
            advertise: get(&c.advertise),
            sessions_of: get(&c.sessions_of),
            events: get(&c.events),
            maintain: get(&c.maintain),
        }
    }

    /// The payloads of the last [`PAYLOAD_HISTORY`] commits, oldest first.
    pub fn commit_payloads(&self) -> Vec<CommitPayload> {
        self.0.counters.payloads().iter().copied().collect()
    }

    /// The payload of the latest commit.
    pub fn last_commit_payload(&self) -> Option<CommitPayload> {
        self.0.counters.payloads().back().copied()
    }

    /// The largest encoded commit payload remembered, in bytes (0 if none).
    pub fn max_commit_encoded_bytes(&self) -> usize {
        self.0
            .counters
            .payloads()
            .iter()
            .map(|p| p.encoded_bytes)
            .max()
            .unwrap_or(0)
    }

    /// The sizes of the last [`PAYLOAD_HISTORY`] grants, oldest first.
    pub fn grant_payloads(&self) -> Vec<GrantPayload> {
        lock(&self.0.counters.grants).iter().copied().collect()
    }

    /// Sets every count to zero and forgets the payloads.
    pub fn reset(&self) {
        let c = &*self.0.counters;
        for a in [
            &c.acquire,
            &c.renew,
            &c.commit,
            &c.load,
            &c.commit_optimistic,
            &c.create,
            &c.delete,
            &c.rotate_id,
            &c.hints,
        ] {
            a.store(0, Ordering::SeqCst);
        }
        c.payloads().clear();
        lock(&c.grants).clear();
    }
}
