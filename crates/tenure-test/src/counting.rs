//! [`CountingStore`]: counts the calls a node makes and the size of what it commits.

use std::collections::VecDeque;
use std::ops::Sub;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tenure_core::{Bytes, Delta, OwnerId, SessionId, Snapshot};
use tenure_store::{
    AcquireReply, CommitReply, CreateReply, Expiry, Fence, HintReceiver, OptimisticReply,
    RenewOutcome, Renewal, RotateReply, Store, StoreError,
};

/// How many commit payloads [`CountingStore`] remembers; older ones are forgotten.
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
}

impl CallCounts {
    /// Every call, of every method: the store round trips.
    pub fn total(&self) -> u64 {
        self.acquire
            + self.renew
            + self.commit
            + self.load
            + self.commit_optimistic
            + self.create
            + self.delete
            + self.rotate_id
            + self.hints
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
            load: self.load.saturating_sub(rhs.load),
            commit_optimistic: self.commit_optimistic.saturating_sub(rhs.commit_optimistic),
            create: self.create.saturating_sub(rhs.create),
            delete: self.delete.saturating_sub(rhs.delete),
            rotate_id: self.rotate_id.saturating_sub(rhs.rotate_id),
            hints: self.hints.saturating_sub(rhs.hints),
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

#[derive(Debug, Default)]
struct Counters {
    acquire: AtomicU64,
    renew: AtomicU64,
    commit: AtomicU64,
    load: AtomicU64,
    commit_optimistic: AtomicU64,
    create: AtomicU64,
    delete: AtomicU64,
    rotate_id: AtomicU64,
    hints: AtomicU64,
    payloads: Mutex<VecDeque<CommitPayload>>,
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
#[derive(Debug)]
pub struct CountingStore<S: ?Sized> {
    inner: Arc<S>,
    counters: Arc<Counters>,
}

impl<S: ?Sized> Clone for CountingStore<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            counters: Arc::clone(&self.counters),
        }
    }
}

impl<S: Store> CountingStore<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self::from_arc(Arc::new(inner))
    }
}

impl<S: Store + ?Sized> CountingStore<S> {
    /// Wraps a shared store (also an `Arc<dyn Store>`).
    pub fn from_arc(inner: Arc<S>) -> Self {
        Self {
            inner,
            counters: Arc::default(),
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &Arc<S> {
        &self.inner
    }

    /// The calls counted so far.
    pub fn counts(&self) -> CallCounts {
        let c = &*self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::SeqCst);
        CallCounts {
            acquire: get(&c.acquire),
            renew: get(&c.renew),
            commit: get(&c.commit),
            load: get(&c.load),
            commit_optimistic: get(&c.commit_optimistic),
            create: get(&c.create),
            delete: get(&c.delete),
            rotate_id: get(&c.rotate_id),
            hints: get(&c.hints),
        }
    }

    /// The payloads of the last [`PAYLOAD_HISTORY`] commits, oldest first.
    pub fn commit_payloads(&self) -> Vec<CommitPayload> {
        self.payloads().iter().copied().collect()
    }

    /// The payload of the latest commit.
    pub fn last_commit_payload(&self) -> Option<CommitPayload> {
        self.payloads().back().copied()
    }

    /// The largest encoded commit payload remembered, in bytes (0 if none).
    pub fn max_commit_encoded_bytes(&self) -> usize {
        self.payloads()
            .iter()
            .map(|p| p.encoded_bytes)
            .max()
            .unwrap_or(0)
    }

    /// Sets every count to zero and forgets the payloads.
    pub fn reset(&self) {
        let c = &*self.counters;
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
        self.payloads().clear();
    }

    fn payloads(&self) -> std::sync::MutexGuard<'_, VecDeque<CommitPayload>> {
        self.counters
            .payloads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
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
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::SeqCst);
}

#[async_trait]
impl<S: Store + ?Sized> Store for CountingStore<S> {
    async fn acquire(
        &self,
        sid: &SessionId,
        owner: &OwnerId,
        lease: Duration,
        wait: Duration,
    ) -> Result<AcquireReply, StoreError> {
        bump(&self.counters.acquire);
        self.inner.acquire(sid, owner, lease, wait).await
    }

    async fn renew(
        &self,
        owner: &OwnerId,
        lease: Duration,
        items: &[Renewal],
    ) -> Result<Vec<RenewOutcome>, StoreError> {
        bump(&self.counters.renew);
        self.inner.renew(owner, lease, items).await
    }

    async fn commit(
        &self,
        sid: &SessionId,
        owner: &OwnerId,
        fence: Fence,
        delta: Delta,
        release: bool,
    ) -> Result<CommitReply, StoreError> {
        bump(&self.counters.commit);
        self.record(&delta, false, release);
        self.inner.commit(sid, owner, fence, delta, release).await
    }

    async fn load(&self, sid: &SessionId) -> Result<Option<Snapshot>, StoreError> {
        bump(&self.counters.load);
        self.inner.load(sid).await
    }

    async fn commit_optimistic(
        &self,
        sid: &SessionId,
        delta: Delta,
    ) -> Result<OptimisticReply, StoreError> {
        bump(&self.counters.commit_optimistic);
        self.record(&delta, true, false);
        self.inner.commit_optimistic(sid, delta).await
    }

    async fn create(
        &self,
        sid: &SessionId,
        attrs: Vec<(String, Bytes)>,
        expiry: Expiry,
        tenure: Option<(&OwnerId, Duration)>,
    ) -> Result<CreateReply, StoreError> {
        bump(&self.counters.create);
        self.inner.create(sid, attrs, expiry, tenure).await
    }

    async fn delete(&self, sid: &SessionId) -> Result<bool, StoreError> {
        bump(&self.counters.delete);
        self.inner.delete(sid).await
    }

    async fn rotate_id(
        &self,
        old: &SessionId,
        new: &SessionId,
        holder: Option<(&OwnerId, Fence)>,
    ) -> Result<RotateReply, StoreError> {
        bump(&self.counters.rotate_id);
        self.inner.rotate_id(old, new, holder).await
    }

    async fn hints(&self, owner: &OwnerId) -> Result<HintReceiver, StoreError> {
        bump(&self.counters.hints);
        self.inner.hints(owner).await
    }
}
