//! The embedded store: the whole protocol in process memory, behind one mutex.
//!
//! The default for a single machine, for tests and for the demo. Its clock is tokio's,
//! so tests with a paused clock control leases and expiry exactly. Expired sessions
//! are removed lazily when touched, and in bulk by [`MemoryStore::purge_expired`].

mod acquire;
mod index;
mod log;
mod state;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tenure_core::{Bytes, Delta, OwnerId, SessionId, Snapshot};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::events::{EventBatch, EventId, EventKind};
use crate::known::Known;
use crate::principals::PrincipalSession;
use crate::protocol::*;
use crate::StoreError;
use state::{deadline, Entry, Lock, State};

/// Hints buffered per owner before new ones are dropped (hints may be lost).
const HINT_BUFFER: usize = 1024;

/// The embedded, in-process store. Cloning gives another handle to the same store.
///
/// ```
/// use std::time::Duration;
/// use tenure_core::{OwnerId, SessionId};
/// use tenure_store::{AcquireReply, CreateReply, Expiry, MemoryStore, Store};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let store = MemoryStore::new();
/// let sid = SessionId::generate().unwrap();
/// let node = OwnerId::generate("a").unwrap();
/// let reply = store.create(&sid, vec![], Expiry::default(), None).await.unwrap();
/// assert!(matches!(reply, CreateReply::Created { fence: None }));
/// let reply = store.acquire(&sid, &node, Duration::from_secs(10), Duration::from_secs(1)).await.unwrap();
/// assert!(matches!(reply, AcquireReply::Granted(_)));
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a session half-updated: every
        // operation checks before it writes. So a poisoned lock is still consistent.
        tenure_core::sync::lock(&self.state)
    }

    /// Removes every expired session now, and answers how many there were.
    pub fn purge_expired(&self) -> usize {
        self.lock().purge_expired(Instant::now())
    }

    /// How many live sessions the store holds.
    pub fn len(&self) -> usize {
        let now = Instant::now();
        let mut state = self.lock();
        state.purge_expired(now);
        state.sessions.len()
    }

    /// Every live session with its data: for inspection and tests. Touches nothing.
    pub fn sessions(&self) -> Vec<(SessionId, Snapshot)> {
        let now = Instant::now();
        let mut state = self.lock();
        state.purge_expired(now);
        state
            .sessions
            .iter()
            .map(|(id, e)| (id.clone(), e.snapshot.clone()))
            .collect()
    }

    /// How many entries the principal index holds (issue 15), over all principals:
    /// for tests of its pruning.
    pub fn principal_entries(&self) -> usize {
        self.lock().principals.len()
    }

    /// True if the store holds no live session.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Applies a checked delta to a live session: its operations as one new version, then
/// its timeouts (`Delta::expiry`), with `now` as the access the new idle timeout runs
/// from. Without operations the version stays, although `Delta::is_empty` (and so
/// `Delta::apply_to`) counts an expiry-only delta as a change.
fn apply(entry: &mut Entry, delta: &Delta, now: Instant) -> u64 {
    let version = if delta.ops.is_empty() && !delta.replace_all {
        entry.snapshot.version
    } else {
        delta.apply_to(&mut entry.snapshot)
    };
    if let Some(expiry) = delta.expiry {
        entry.set_expiry(expiry);
    }
    entry.last_access = now;
    version
}

#[async_trait]
impl Store for MemoryStore {
    async fn acquire(
        &self,
        sid: &SessionId,
        owner: &OwnerId,
        lease: Duration,
        wait: Duration,
    ) -> Result<AcquireReply, StoreError> {
        self.acquire_with(sid, owner, lease, wait, None)
    }

    async fn acquire_since(
        &self,
        sid: &SessionId,
        owner: &OwnerId,
        lease: Duration,
        wait: Duration,
        known: &Known,
    ) -> Result<AcquireReply, StoreError> {
        self.acquire_with(sid, owner, lease, wait, Some(known))
    }

    async fn renew(
        &self,
        owner: &OwnerId,
        lease: Duration,
        items: &[Renewal],
    ) -> Result<Vec<RenewOutcome>, StoreError> {
        let now = Instant::now();
        let mut state = self.lock();
        Ok(items
            .iter()
            .map(|item| {
                let Some(entry) = state.live(&item.sid, now).0 else {
                    return RenewOutcome::Lost;
                };
                entry.tidy(now);
                let recall = !entry.queue.is_empty();
                match entry.lock.as_mut() {
                    Some(lock) if &lock.owner == owner && lock.fence == item.fence => {
                        lock.deadline = deadline(now, lease);
                        if item.touch {
                            entry.last_access = now;
                        }
                        RenewOutcome::Renewed { recall }
                    }
                    _ => RenewOutcome::Lost,
                }
            })
            .collect())
    }

    async fn commit(
        &self,
        sid: &SessionId,
        owner: &OwnerId,
        fence: Fence,
        id: CommitId,
        delta: Delta,
        release: bool,
    ) -> Result<CommitReply, StoreError> {
        let now = Instant::now();
        let mut guard = self.lock();
        let (entry, _, hints) = guard.live(sid, now);
        let Some(entry) = entry else {
            return Ok(CommitReply::Stale { delta });
        };
        match entry.last_commit {
            Some((f, i, version)) if f == fence && i == id => {
                return Ok(CommitReply::AlreadyApplied { version });
            }
            // A late copy of a commit the holder has moved past (I2a).
            Some((f, i, _)) if f == fence && i > id => {
                return Ok(CommitReply::Stale { delta });
            }
            _ => {}
        }
        entry.tidy(now);
        if !entry
            .lock
            .as_ref()
            .is_some_and(|l| &l.owner == owner && l.fence == fence)
        {
            return Ok(CommitReply::Stale { delta });
        }
        let delta = match delta.resolve_patches(&entry.snapshot) {
            Ok(resolved) => resolved,
            Err(refused) => return Ok(CommitReply::PatchRefused(refused)),
        };
        debug_assert!(!delta.has_patches());
        let before = index::principal(&entry.snapshot);
        let version = apply(entry, &delta, now);
        entry.last_commit = Some((fence, id, version));
        if release {
            entry.lock = None;
            if let Some(head) = entry.queue.front() {
                hints.send(&head.owner, Hint::Grant(sid.clone()));
            }
        }
        guard.reindex(sid, before);
        guard.drop_if_expired(sid, now);
        Ok(CommitReply::Committed { version })
    }

    async fn load(&self, sid: &SessionId) -> Result<Option<Snapshot>, StoreError> {
        let now = Instant::now();
        let mut state = self.lock();
        Ok(state.live(sid, now).0.map(|entry| {
            entry.last_access = now;
            entry.snapshot.clone()
        }))
    }

    async fn commit_optimistic(
        &self,
        sid: &SessionId,
        delta: Delta,
    ) -> Result<OptimisticReply, StoreError> {
        let now = Instant::now();
        let mut state = self.lock();
        let Some(entry) = state.live(sid, now).0 else {
            return Ok(OptimisticReply::NotFound);
        };
        entry.tidy(now);
        if entry.lock.is_some() {
            return Ok(OptimisticReply::Locked);
        }
        let conflict = delta.conflicts(&entry.snapshot);
        if !conflict.attrs.is_empty() {
            return Ok(OptimisticReply::Conflict(conflict));
        }
        let delta = match delta.resolve_patches(&entry.snapshot) {
            Ok(resolved) => resolved,
            Err(refused) => return Ok(OptimisticReply::PatchRefused(refused)),
        };
        let before = index::principal(&entry.snapshot);
        let version = apply(entry, &delta, now);
        state.reindex(sid, before);
        state.drop_if_expired(sid, now);
        Ok(OptimisticReply::Committed { version })
    }

    async fn create(
        &self,
        sid: &SessionId,
        attrs: Vec<(String, Bytes)>,
        expiry: Expiry,
        tenure: Option<(&OwnerId, Duration)>,
    ) -> Result<CreateReply, StoreError> {
        let now = Instant::now();
        let mut guard = self.lock();
        let state = &mut *guard;
        if state.live(sid, now).0.is_some() {
            return Ok(CreateReply::Exists);
        }
        let mut entry = Entry::new(Snapshot::new(1, attrs), expiry, now);
        let fence = tenure.map(|(owner, lease)| {
            state.next_fence += 1;
            let fence = Fence(state.next_fence);
            entry.lock = Some(Lock {
                owner: owner.clone(),
                fence,
                deadline: deadline(now, lease),
            });
            fence
        });
        state.insert(sid.clone(), entry);
        state.events.push(sid, EventKind::Created);
        let principal = state
            .sessions
            .get(sid)
            .and_then(|e| index::principal(&e.snapshot));
        if let Some(principal) = principal {
            state
                .events
                .push(sid, EventKind::PrincipalSet { principal });
        }
        Ok(CreateReply::Created { fence })
    }

    async fn delete(&self, sid: &SessionId) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut guard = self.lock();
        let state = &mut *guard;
        if state.live(sid, now).0.is_none() {
            return Ok(false);
        }
        if let Some(entry) = state.remove(sid) {
            state.events.push(sid, EventKind::Deleted);
            state.wake_waiters(sid, &entry);
        }
        Ok(true)
    }

    async fn rotate_id(
        &self,
        old: &SessionId,
        new: &SessionId,
        holder: Option<(&OwnerId, Fence)>,
    ) -> Result<RotateReply, StoreError> {
        let now = Instant::now();
        let mut guard = self.lock();
        let state = &mut *guard;
        let Some(entry) = state.live(old, now).0 else {
            return Ok(RotateReply::NotFound);
        };
        entry.tidy(now);
        let held_by_caller = match (&entry.lock, holder) {
            (None, None) => false,
            (Some(lock), Some((owner, fence))) if &lock.owner == owner && lock.fence == fence => {
                true
            }
            _ => return Ok(RotateReply::Stale),
        };
        if old == new || state.live(new, now).0.is_some() {
            return Ok(RotateReply::Exists);
        }
        let Some(mut entry) = state.remove(old) else {
            return Ok(RotateReply::NotFound);
        };
        state.wake_waiters(old, &entry);
        entry.queue.clear();
        entry.last_access = now;
        let fence = match (entry.lock.as_mut(), held_by_caller) {
            (Some(lock), true) => {
                state.next_fence += 1;
                lock.fence = Fence(state.next_fence);
                Some(lock.fence)
            }
            _ => None,
        };
        state.insert(new.clone(), entry);
        state
            .events
            .push(old, EventKind::Rotated { to: new.clone() });
        Ok(RotateReply::Rotated { fence })
    }

    async fn locate(&self, sid: &SessionId) -> Result<Location, StoreError> {
        let now = Instant::now();
        let mut guard = self.lock();
        let state = &mut *guard;
        let (entry, _, _) = state.live(sid, now);
        let Some(entry) = entry else {
            return Ok(Location::NotFound);
        };
        let Some(holder) = entry
            .lock
            .as_ref()
            .filter(|l| l.deadline > now)
            .map(|l| l.owner.clone())
        else {
            return Ok(Location::Free);
        };
        if state.is_dead(&holder, now) {
            state.addresses.remove(&holder);
            return Ok(Location::Free);
        }
        let address = state.addresses.get(&holder).cloned();
        Ok(Location::Held { holder, address })
    }

    async fn advertise(&self, owner: &OwnerId, address: &str) -> Result<Liveness, StoreError> {
        if address.len() > MAX_ADDRESS {
            return Err(StoreError::Protocol(format!(
                "advertised address of {} bytes, more than {MAX_ADDRESS}",
                address.len()
            )));
        }
        let now = Instant::now();
        let mut state = self.lock();
        if state.owners.get(owner).is_none_or(|until| *until <= now) {
            return Ok(Liveness::Lapsed);
        }
        state.addresses.insert(owner.clone(), address.to_string());
        Ok(Liveness::Alive)
    }

    async fn sessions_of(
        &self,
        principal: &str,
        label: Option<&str>,
    ) -> Result<Vec<PrincipalSession>, StoreError> {
        let now = Instant::now();
        let mut state = self.lock();
        let mut out = Vec::new();
        // `live` removes an expired session, and so its entry. Every entry names a
        // session in the map with this principal (index.rs), so no other check is due.
        for sid in state.principals.ids(principal) {
            if let Some(entry) = state.live(&sid, now).0 {
                out.push(PrincipalSession {
                    id: sid,
                    age: entry.age(now),
                    idle_for: now.saturating_duration_since(entry.last_access),
                    label: label.and_then(|l| entry.snapshot.value(l).cloned()),
                });
            }
        }
        Ok(out)
    }

    async fn events(&self, after: Option<EventId>, max: usize) -> Result<EventBatch, StoreError> {
        let now = Instant::now();
        let mut state = self.lock();
        // Sessions that expired untouched get their events before the read.
        state.purge_expired(now);
        Ok(state.events.read(after, max))
    }

    async fn maintain(&self) -> Result<(), StoreError> {
        self.purge_expired();
        Ok(())
    }

    async fn hints(&self, owner: &OwnerId) -> Result<HintReceiver, StoreError> {
        let (tx, rx) = mpsc::channel(HINT_BUFFER);
        self.lock().hints.subscribe(owner.clone(), tx);
        Ok(rx)
    }

    async fn keep_alive(
        &self,
        owner: &OwnerId,
        ttl: Duration,
        register: bool,
    ) -> Result<Liveness, StoreError> {
        let now = Instant::now();
        let mut state = self.lock();
        let alive = state.owners.get(owner).is_some_and(|until| *until > now);
        if alive || (register && !state.owners.contains_key(owner)) {
            state.owners.insert(owner.clone(), deadline(now, ttl));
            return Ok(Liveness::Alive);
        }
        state.addresses.remove(owner);
        Ok(Liveness::Lapsed)
    }
}
