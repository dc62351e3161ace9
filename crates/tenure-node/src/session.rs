//! The request-scoped session handle.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tenure_core::{
    AsKey, Bytes, Change, Codec, Consistency, Delta, Expect, MessagePack, SessionId, Snapshot,
    Tracker, WriteScope,
};
use tenure_store::{CreateReply, OptimisticReply, RotateReply, StoreError};
use tokio::time::Instant;

use crate::held::{Admission, GoneReason, Held, Phase};
use crate::locks::{LockStep, Mode, ReqId};
use crate::node::NodeInner;
use crate::slot::{MutSlot, Slot};
use crate::stats::count;
use crate::SessionError;

/// Attempts at finding an unused id for a new or rotated session (ids are 192 random
/// bits: a second attempt is already astronomically unlikely).
const ID_ATTEMPTS: usize = 3;

enum Attached {
    /// Not used yet: nothing asked of the store.
    No,
    /// Exclusive mode: admitted to a held session.
    Held(Arc<Held>),
    /// Optimistic and last-writer-wins modes: loaded for this request only.
    Loaded(Snapshot),
    /// No stored session (none presented, or the presented one does not exist).
    New,
}

/// What [`Session::end`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndReport {
    /// The session's id after the request; `None` if no session exists (nothing was
    /// ever stored, or it was deleted). A client should present this id next time.
    pub id: Option<SessionId>,
    /// The request created the session.
    pub created: bool,
    /// Attributes the request changed (its write set).
    pub changed: usize,
    /// The request's changes reached the store before `end` returned.
    pub written: bool,
    /// The request used the session at all (a handle never used asks nothing of the
    /// store, and its `id` is only the presented one, unchecked).
    pub used: bool,
}

/// One request's handle on one session.
///
/// Every access is tracked: attributes only read are never written back; attributes
/// taken with [`get_mut`](Self::get_mut) are re-encoded at the end and written only if
/// their bytes changed; [`insert`](Self::insert) and [`remove`](Self::remove) always
/// count. In the exclusive mode, each access takes the attribute's lock (shared for
/// `get`, exclusive otherwise) until the request ends, so concurrent requests on one
/// node run in parallel on different attributes and one after the other on the same.
///
/// Call [`end`](Self::end) when the request is done: it applies the write policy
/// (by default, it returns once the store has the changes). Dropping the handle
/// without `end` discards the request's changes.
pub struct Session<C: Codec = MessagePack> {
    node: Arc<NodeInner<C>>,
    id: Option<SessionId>,
    req: ReqId,
    attached: Attached,
    tracker: Tracker,
    slots: BTreeMap<String, Box<dyn MutSlot<C>>>,
    /// Attributes locked (or queued for) in the held session's lock table.
    locked: Vec<String>,
    /// This request's admission to the held session (leaves it when dropped).
    admission: Option<Admission>,
    finished: bool,
}

impl<C: Codec> fmt::Debug for Session<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.attached {
            Attached::No => "unused",
            Attached::Held(_) => "held",
            Attached::Loaded(_) => "loaded",
            Attached::New => "new",
        };
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

impl<C: Codec> Session<C> {
    pub(crate) fn new(node: Arc<NodeInner<C>>, id: Option<SessionId>) -> Self {
        let req = node.next_req();
        Self {
            node,
            id,
            req,
            attached: Attached::No,
            tracker: Tracker::default(),
            slots: BTreeMap::new(),
            locked: Vec::new(),
            admission: None,
            finished: false,
        }
    }

    /// The session's id: the one presented, until the request finds it does not exist
    /// (then `None`), rotates it, or deletes it. A new session gets its id at `end`.
    pub fn id(&self) -> Option<&SessionId> {
        self.id.as_ref()
    }

    /// True once the request has found that no stored session backs this handle.
    pub fn is_new(&self) -> bool {
        matches!(self.attached, Attached::New)
    }

    /// Reads an attribute. `None` if absent.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use tenure_node::{Node, NodeConfig};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::start(Arc::new(tenure_store::MemoryStore::new()), NodeConfig::default()).await?;
    /// use tenure_core::Key;
    /// const VISITS: Key<u32> = Key::new("visits");
    /// let mut s = node.session(None);
    /// assert_eq!(s.get(&VISITS).await?, None);
    /// s.insert(&VISITS, 1).await?;
    /// assert_eq!(s.get(&VISITS).await?, Some(1));
    /// assert_eq!(s.get::<u32>("visits").await?, Some(1));
    /// # Ok(()) }
    /// ```
    pub async fn get<T: DeserializeOwned>(
        &mut self,
        key: impl AsKey<T>,
    ) -> Result<Option<T>, SessionError> {
        let name = key.name();
        self.prepare(name, Mode::Shared).await?;
        let base = self.base(name);
        self.tracker.read(name, base.as_ref());
        let view = match self.slots.get(name) {
            Some(slot) => slot
                .encode(&self.node.codec)
                .map_err(|source| encode_err(name, source))?,
            None => match self.tracker.written(name) {
                Some(written) => written.clone(),
                None => base,
            },
        };
        view.map(|bytes| self.decode(name, &bytes)).transpose()
    }

    /// Takes an attribute for in-place mutation. `None` if absent. The value is
    /// re-encoded when the request ends and written only if its bytes changed.
    pub async fn get_mut<T>(&mut self, key: impl AsKey<T>) -> Result<Option<&mut T>, SessionError>
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        let name = key.name();
        self.take_slot::<T>(name).await?;
        Ok(self.slot_mut::<T>(name).and_then(|s| s.0.as_mut()))
    }

    /// Takes an attribute for in-place mutation, inserting `init()` if absent.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use tenure_node::{Node, NodeConfig};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::start(Arc::new(tenure_store::MemoryStore::new()), NodeConfig::default()).await?;
    /// let mut s = node.session(None);
    /// *s.get_mut_or_insert_with("counter", || 0u64).await? += 1;
    /// let id = s.end().await?.id.unwrap();
    /// let mut s = node.session(Some(id));
    /// assert_eq!(s.get::<u64>("counter").await?, Some(1));
    /// # Ok(()) }
    /// ```
    pub async fn get_mut_or_insert_with<T>(
        &mut self,
        key: impl AsKey<T>,
        init: impl FnOnce() -> T,
    ) -> Result<&mut T, SessionError>
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        let name = key.name();
        self.take_slot::<T>(name).await?;
        match self.slot_mut::<T>(name) {
            Some(slot) => Ok(slot.0.get_or_insert_with(init)),
            // take_slot just stored a Slot<T> under this name.
            None => Err(StoreError::Protocol("attribute slot vanished".into()).into()),
        }
    }

    /// The value this request already took with [`get_mut`](Self::get_mut) (or
    /// [`get_mut_or_insert_with`](Self::get_mut_or_insert_with)), without waiting.
    /// `None` if it took none under that name and type, or the attribute is absent.
    #[allow(clippy::needless_pass_by_value)] // takes keys like every other accessor
    pub fn taken_mut<T: 'static>(&mut self, key: impl AsKey<T>) -> Option<&mut T> {
        self.slot_mut::<T>(key.name()).and_then(|s| s.0.as_mut())
    }

    /// Sets an attribute.
    pub async fn insert<T: Serialize>(
        &mut self,
        key: impl AsKey<T>,
        value: T,
    ) -> Result<(), SessionError> {
        let name = key.name();
        self.prepare(name, Mode::Exclusive).await?;
        let bytes = self
            .node
            .codec
            .encode(&value)
            .map_err(|source| encode_err(name, source))?;
        self.node.config.limits.check_value(name, bytes.len())?;
        self.slots.remove(name);
        self.tracker.write(name, Some(Bytes::from(bytes)));
        Ok(())
    }

    /// Removes an attribute.
    pub async fn remove(&mut self, name: &str) -> Result<(), SessionError> {
        self.prepare(name, Mode::Exclusive).await?;
        self.slots.remove(name);
        self.tracker.write(name, None);
        Ok(())
    }

    /// Deletes the session at the store (logout). The handle then behaves as a new,
    /// empty session: anything inserted afterwards creates a fresh one at `end`.
    pub async fn delete(&mut self) -> Result<(), SessionError> {
        self.attach().await?;
        match &self.attached {
            Attached::Held(held) => {
                let held = held.clone();
                self.node.store.delete(&held.sid()).await?;
                self.node.forget(&held);
            }
            Attached::Loaded(_) => {
                if let Some(id) = &self.id {
                    self.node.store.delete(id).await?;
                }
            }
            Attached::No | Attached::New => {}
        }
        self.detach();
        self.attached = Attached::New;
        self.id = None;
        self.tracker = Tracker::default();
        self.slots.clear();
        Ok(())
    }

    /// Gives the session a new id and makes the old one invalid (against session
    /// fixation: call it when the user logs in). Answers the new id; `None` for a
    /// session not stored yet, which gets a fresh id at `end` anyway.
    pub async fn rotate_id(&mut self) -> Result<Option<SessionId>, SessionError> {
        self.attach().await?;
        let node = self.node.clone();
        let new = match &self.attached {
            Attached::Held(held) => {
                let _serial = held.flush_lock.lock().await;
                let old = held.sid();
                let mut rotated = None;
                for _ in 0..ID_ATTEMPTS {
                    let new = new_id()?;
                    match node
                        .store
                        .rotate_id(&old, &new, Some((&node.owner, held.fence())))
                        .await?
                    {
                        RotateReply::Rotated { fence: Some(fence) } => {
                            held.rotated(new.clone(), fence);
                            node.rekey(&old, held);
                            rotated = Some(new);
                            break;
                        }
                        RotateReply::Exists => continue,
                        RotateReply::NotFound => {
                            node.forget(held);
                            return Err(SessionError::Gone);
                        }
                        _ => {
                            node.lose(held);
                            return Err(SessionError::TenureLost);
                        }
                    }
                }
                rotated
            }
            Attached::Loaded(_) => {
                let Some(old) = self.id.clone() else {
                    return Ok(None);
                };
                let mut rotated = None;
                for _ in 0..ID_ATTEMPTS {
                    let new = new_id()?;
                    match node.store.rotate_id(&old, &new, None).await? {
                        RotateReply::Rotated { .. } => {
                            rotated = Some(new);
                            break;
                        }
                        RotateReply::Exists => continue,
                        RotateReply::NotFound => return Err(SessionError::Gone),
                        _ => return Err(SessionError::Locked),
                    }
                }
                rotated
            }
            Attached::No | Attached::New => return Ok(None),
        };
        match new {
            Some(new) => {
                self.id = Some(new.clone());
                Ok(Some(new))
            }
            None => Err(StoreError::Protocol("no free session id found".into()).into()),
        }
    }

    /// Ends the request: works out what changed, applies the write policy, releases
    /// the request's attribute locks.
    pub async fn end(mut self) -> Result<EndReport, SessionError> {
        if self.finished {
            return Err(SessionError::Ended);
        }
        let result = self.end_inner().await;
        self.detach();
        self.finished = true;
        result
    }

    // ===== internals =====

    fn decode<T: DeserializeOwned>(&self, name: &str, bytes: &[u8]) -> Result<T, SessionError> {
        self.node
            .codec
            .decode(bytes)
            .map_err(|source| SessionError::Decode {
                attr: name.to_string(),
                source,
            })
    }

    /// Checks the name, attaches, and locks the attribute.
    async fn prepare(&mut self, name: &str, mode: Mode) -> Result<(), SessionError> {
        self.node.config.limits.check_name(name)?;
        self.attach().await?;
        let Attached::Held(held) = &self.attached else {
            return Ok(());
        };
        if self.admission.is_none() {
            return Err(SessionError::Ended);
        }
        if !held.lease_valid(Instant::now()) {
            // A long request outlived the local lease: confirm it before reading more
            // from the cache (I9).
            let held = held.clone();
            if !self.node.confirm_lease(&held).await? {
                return Err(SessionError::TenureLost);
            }
        }
        let Attached::Held(held) = &self.attached else {
            return Ok(());
        };
        let step = crate::locks_guard(&held.locks).lock(self.req, name, mode);
        if !self.locked.iter().any(|n| n == name) {
            // Recorded before waiting, so a cancelled wait is still released.
            self.locked.push(name.to_string());
        }
        match step {
            LockStep::Granted => Ok(()),
            LockStep::Wait(granted) => granted.await.map_err(|_| SessionError::TenureLost),
            LockStep::Deadlock => {
                count!(self.node.stats, deadlocks);
                Err(SessionError::Deadlock {
                    attr: name.to_string(),
                })
            }
        }
    }

    /// The first use of the handle: find the session (held, loaded or new).
    async fn attach(&mut self) -> Result<(), SessionError> {
        if self.finished {
            return Err(SessionError::Ended);
        }
        if !matches!(self.attached, Attached::No) {
            return Ok(());
        }
        let Some(sid) = self.id.clone() else {
            self.attached = Attached::New;
            return Ok(());
        };
        self.attached = match self.node.config.consistency {
            Consistency::Exclusive => match self.node.attach(&sid).await? {
                Some(admission) => {
                    let held = admission.held().clone();
                    self.admission = Some(admission);
                    Attached::Held(held)
                }
                None => Attached::New,
            },
            _ => match self.node.store.load(&sid).await? {
                Some(snapshot) => Attached::Loaded(snapshot),
                None => Attached::New,
            },
        };
        if matches!(self.attached, Attached::New) {
            self.id = None;
        }
        Ok(())
    }

    /// The attribute's bytes as the request found them.
    fn base(&self, name: &str) -> Option<Bytes> {
        match &self.attached {
            Attached::Held(held) => held.value(name),
            Attached::Loaded(snapshot) => snapshot.value(name).cloned(),
            Attached::No | Attached::New => None,
        }
    }

    /// Makes sure `slots[name]` holds a `Slot<T>`.
    async fn take_slot<T>(&mut self, name: &str) -> Result<(), SessionError>
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        self.prepare(name, Mode::Exclusive).await?;
        if self
            .slots
            .get(name)
            .is_some_and(|s| s.as_any().is::<Slot<T>>())
        {
            return Ok(());
        }
        let base = self.base(name);
        self.tracker.take_mut(name, base.as_ref());
        let view = match self.slots.remove(name) {
            // Held under another type: go through the bytes.
            Some(other) => other
                .encode(&self.node.codec)
                .map_err(|source| encode_err(name, source))?,
            None => match self.tracker.written(name) {
                Some(written) => written.clone(),
                None => base,
            },
        };
        let value: Option<T> = view.map(|bytes| self.decode(name, &bytes)).transpose()?;
        self.slots.insert(name.to_string(), Box::new(Slot(value)));
        Ok(())
    }

    fn slot_mut<T: 'static>(&mut self, name: &str) -> Option<&mut Slot<T>> {
        self.slots
            .get_mut(name)
            .and_then(|s| s.as_any_mut().downcast_mut::<Slot<T>>())
    }

    /// The request's write set, per the node's write scope.
    fn changes(&self) -> Result<Vec<(String, Option<Bytes>)>, SessionError> {
        let mut reencoded: HashMap<&str, Option<Bytes>> = HashMap::new();
        for (name, slot) in &self.slots {
            let bytes = slot
                .encode(&self.node.codec)
                .map_err(|source| encode_err(name, source))?;
            if let Some(b) = &bytes {
                self.node.config.limits.check_value(name, b.len())?;
            }
            reencoded.insert(name, bytes);
        }
        let scope = self.node.config.write_scope;
        let mut changes = self.tracker.changes(scope, |name| reencoded.remove(name));
        // A held session's whole-scope write marks every attribute dirty at apply time
        // instead (copying values here could overwrite a concurrent request's newer one).
        if scope == WriteScope::Whole {
            let all = match &self.attached {
                Attached::Held(_) => Vec::new(),
                Attached::Loaded(s) => s
                    .attrs
                    .iter()
                    .map(|(k, e)| (k.clone(), e.value.clone()))
                    .collect(),
                Attached::No | Attached::New => Vec::new(),
            };
            for (name, value) in all {
                if self.tracker.access(&name).is_none() {
                    changes.push((name, Some(value)));
                }
            }
        }
        Ok(changes)
    }

    async fn end_inner(&mut self) -> Result<EndReport, SessionError> {
        let mut report = EndReport {
            id: self.id.clone(),
            ..EndReport::default()
        };
        if matches!(self.attached, Attached::No) {
            return Ok(report);
        }
        report.used = true;
        let changes = self.changes()?;
        report.changed = changes.len();
        if let Attached::Held(held) = &self.attached {
            let held = held.clone();
            report.written = self.end_held(&held, changes).await?;
            let deleted = matches!(held.phase(), Phase::Gone(GoneReason::Deleted));
            report.id = Some(held.sid()).filter(|_| !deleted);
            return Ok(report);
        }
        match &self.attached {
            Attached::No => {}
            Attached::New => {
                if changes.iter().any(|(_, v)| v.is_some()) {
                    report.id = Some(self.create(changes).await?);
                    report.created = true;
                    report.written = true;
                }
            }
            Attached::Held(_) => {}
            Attached::Loaded(snapshot) => {
                if !changes.is_empty() {
                    self.commit_loaded(snapshot, changes).await?;
                    report.written = true;
                }
            }
        }
        Ok(report)
    }

    /// Exclusive mode: apply to the near cache, then write if the policy says so.
    async fn end_held(
        &mut self,
        held: &Arc<Held>,
        changes: Vec<(String, Option<Bytes>)>,
    ) -> Result<bool, SessionError> {
        match held.phase() {
            Phase::Gone(GoneReason::Lost) => return Err(SessionError::TenureLost),
            Phase::Gone(GoneReason::Deleted) => return Err(SessionError::Gone),
            _ => {}
        }
        let wrote = !changes.is_empty();
        let whole = self.node.config.write_scope == WriteScope::Whole;
        held.apply_checked(changes, &self.node.config.limits, whole)?;
        if wrote && held.phase() == Phase::Draining {
            // Recalled: the release commit carries these changes, one round trip
            // instead of two. Complete only once it has.
            self.detach();
            held.gone().await;
            return match held.phase() {
                Phase::Gone(GoneReason::Released) => Ok(true),
                Phase::Gone(GoneReason::Deleted) => Err(SessionError::Gone),
                _ => Err(SessionError::TenureLost),
            };
        }
        let policy = self.node.config.write_policy;
        let now = Instant::now();
        // Never acknowledge a change into a copy whose lease may have lapsed: write it
        // now, and let the fence decide.
        if held.due(&policy, now) || (held.is_dirty() && !held.lease_valid(now)) {
            self.node.flush(held, false).await?;
            return Ok(true);
        }
        if held.is_dirty() {
            self.node.arm_timer(held);
        }
        Ok(false)
    }

    /// Write on create: the new session is in the store before the request completes.
    async fn create(
        &self,
        changes: Vec<(String, Option<Bytes>)>,
    ) -> Result<SessionId, SessionError> {
        let node = &self.node;
        let attrs: Vec<(String, Bytes)> = changes
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
        let size = attrs.iter().map(|(k, v)| k.len() + v.len()).sum();
        node.config.limits.check_session(attrs.len(), size)?;
        let exclusive = node.config.consistency == Consistency::Exclusive;
        // Counted before the check, so shutdown either sees this grant coming or we
        // see shutdown (it sets its flag before it waits for grants).
        let _granting = node.granting();
        if exclusive && node.is_shutting_down() {
            return Err(SessionError::ShuttingDown);
        }
        let tenure = exclusive.then_some((&node.owner, node.config.lease));
        for _ in 0..ID_ATTEMPTS {
            let sid = new_id()?;
            let sent = Instant::now();
            match node
                .store
                .create(&sid, attrs.clone(), node.config.expiry, tenure)
                .await?
            {
                CreateReply::Created { fence } => {
                    count!(node.stats, commits);
                    count!(node.stats, commit_bytes, size as u64);
                    if let Some(fence) = fence {
                        count!(node.stats, grants);
                        let until = node.lease_until(sent, node.config.lease);
                        let held = Held::new(
                            sid.clone(),
                            fence,
                            until,
                            Snapshot::new(1, attrs),
                            sent,
                            node.config.expiry,
                            sent,
                        );
                        node.install(Arc::new(held));
                    }
                    return Ok(sid);
                }
                CreateReply::Exists => continue,
                _ => return Err(StoreError::Protocol("unknown create reply".into()).into()),
            }
        }
        Err(StoreError::Protocol("no free session id found".into()).into())
    }

    /// Optimistic and last-writer-wins modes: one lock-free commit.
    async fn commit_loaded(
        &self,
        snapshot: &Snapshot,
        changes: Vec<(String, Option<Bytes>)>,
    ) -> Result<(), SessionError> {
        let node = &self.node;
        let (mut count, mut size) = (snapshot.attrs.len(), snapshot.size_bytes());
        for (name, value) in &changes {
            if let Some(old) = snapshot.value(name) {
                count -= 1;
                size -= name.len() + old.len();
            }
            if let Some(v) = value {
                count += 1;
                size += name.len() + v.len();
            }
        }
        node.config.limits.check_session(count, size)?;
        let Some(sid) = &self.id else {
            return Err(SessionError::Gone);
        };
        let mut delta = Delta::default();
        if node.config.consistency == Consistency::LastWriterWins {
            // What session libraries without tracking do: write the whole record back.
            let mut whole: BTreeMap<String, Bytes> = snapshot
                .attrs
                .iter()
                .map(|(k, e)| (k.clone(), e.value.clone()))
                .collect();
            for (name, value) in changes {
                match value {
                    Some(v) => whole.insert(name, v),
                    None => whole.remove(&name),
                };
            }
            for (name, value) in whole {
                delta.set(name, value);
            }
            delta.replace_all = true;
        } else {
            for (name, value) in changes {
                let expect = snapshot
                    .attrs
                    .get(&name)
                    .map_or(Expect::Absent, |e| Expect::Version(e.version));
                let change = value.map_or(Change::Remove, Change::Set);
                delta.push(name, change, expect);
            }
        }
        let bytes = delta.payload_bytes() as u64;
        match node.store.commit_optimistic(sid, delta).await? {
            OptimisticReply::Committed { .. } => {
                count!(node.stats, commits);
                count!(node.stats, commit_bytes, bytes);
                Ok(())
            }
            OptimisticReply::Conflict(conflict) => {
                count!(node.stats, conflicts);
                Err(SessionError::Conflict {
                    attrs: conflict.attrs,
                })
            }
            OptimisticReply::Locked => Err(SessionError::Locked),
            OptimisticReply::NotFound => Err(SessionError::Gone),
            _ => Err(StoreError::Protocol("unknown optimistic commit reply".into()).into()),
        }
    }

    /// Releases the request's attribute locks and its admission to a held session.
    /// Idempotent: a request leaves a held session once.
    fn detach(&mut self) {
        if let Some(admission) = self.admission.take() {
            crate::locks_guard(&admission.held().locks)
                .release_all(self.req, self.locked.iter().map(String::as_str));
            drop(admission);
        }
        self.locked.clear();
    }
}

impl<C: Codec> Drop for Session<C> {
    fn drop(&mut self) {
        if !self.finished {
            self.finished = true;
            self.detach();
        }
    }
}

fn encode_err(name: &str, source: tenure_core::EncodeError) -> SessionError {
    SessionError::Encode {
        attr: name.to_string(),
        source,
    }
}

fn new_id() -> Result<SessionId, SessionError> {
    SessionId::generate()
        .map_err(|e| StoreError::Protocol(format!("session id generation failed: {e}")).into())
}
