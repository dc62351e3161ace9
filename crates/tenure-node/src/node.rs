//! The node: one per app-server process. It holds tenures, serves held sessions from
//! memory, and gives them back when asked, when idle, when over its bound, or at
//! shutdown, always writing first.
//!
//! Every long-running step that must finish once begun (a release) runs in a task of
//! its own, so a caller that stops waiting cannot leave a session half released.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tenure_core::{Codec, MessagePack, OwnerId, SessionId};
use tenure_store::{AcquireReply, CommitReply, RenewOutcome, Renewal, Store, StoreError};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::held::{Admission, GoneReason, Held, Phase};
use crate::stats::{count, Counters, NodeStats};
use crate::{ConfigError, NodeConfig, Session, SessionError};

/// Why a held session is being given back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReleaseReason {
    Recall,
    Idle,
    Evict,
    Shutdown,
}

/// One app-server process's view of the sessions: the tenure table, the near cache
/// and the background work that keeps them. Cheap to clone (a handle).
///
/// ```
/// use std::sync::Arc;
/// use tenure_node::{Node, NodeConfig};
/// use tenure_store::MemoryStore;
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let node = Node::start(Arc::new(MemoryStore::new()), NodeConfig::default()).await?;
/// let mut session = node.session(None);
/// session.insert("user", "ada".to_string()).await?;
/// let id = session.end().await?.id.expect("a new session was created");
///
/// let mut again = node.session(Some(id));
/// assert_eq!(again.get::<String>("user").await?.as_deref(), Some("ada"));
/// again.end().await?;
/// node.shutdown().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Node<C: Codec = MessagePack> {
    pub(crate) inner: Arc<NodeInner<C>>,
}

impl<C: Codec> Clone for Node<C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

#[derive(Debug)]
pub(crate) struct NodeInner<C> {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) owner: OwnerId,
    pub(crate) config: NodeConfig,
    pub(crate) codec: C,
    table: Mutex<HashMap<SessionId, Arc<Held>>>,
    /// One acquisition at a time per session on this node (single flight).
    acquiring: Mutex<HashMap<SessionId, Arc<tokio::sync::Mutex<()>>>>,
    /// Wakes a queued acquisition when a grant hint arrives.
    grant_waiters: Mutex<HashMap<SessionId, Arc<Notify>>>,
    /// Store calls under way that may grant this node a tenure (acquire, create);
    /// shutdown waits for them so that nothing granted escapes its final release.
    granting: AtomicUsize,
    granting_done: Notify,
    next_req: AtomicU64,
    pub(crate) stats: Counters,
    shutting_down: AtomicBool,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Node<MessagePack> {
    /// Starts a node on `store` with the default codec, and its background tasks
    /// (hint listener, lease renewal, idle release). Must run inside a tokio runtime.
    pub async fn start(store: Arc<dyn Store>, config: NodeConfig) -> Result<Self, StartError> {
        Self::start_with_codec(store, config, MessagePack).await
    }
}

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration is inconsistent.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The hint stream could not be opened.
    #[error("could not subscribe to hints")]
    Store(#[from] StoreError),
}

impl<C: Codec> Node<C> {
    /// Starts a node with a codec of your choice.
    pub async fn start_with_codec(
        store: Arc<dyn Store>,
        config: NodeConfig,
        codec: C,
    ) -> Result<Self, StartError> {
        config.validate()?;
        let owner =
            OwnerId::generate(&config.label).map_err(|e| ConfigError::Label(e.to_string()))?;
        let hints = store.hints(&owner).await?;
        let inner = Arc::new(NodeInner {
            store,
            owner,
            config,
            codec,
            table: Mutex::default(),
            acquiring: Mutex::default(),
            grant_waiters: Mutex::default(),
            granting: AtomicUsize::new(0),
            granting_done: Notify::new(),
            next_req: AtomicU64::new(1),
            stats: Counters::default(),
            shutting_down: AtomicBool::new(false),
            tasks: Mutex::default(),
        });
        let tasks = vec![
            tokio::spawn(crate::tasks::listen_hints(Arc::downgrade(&inner), hints)),
            tokio::spawn(crate::tasks::renew_and_sweep(Arc::downgrade(&inner))),
        ];
        *lock(&inner.tasks) = tasks;
        Ok(Self { inner })
    }

    /// A request-scoped handle on the session `id` (or a new session if `None`).
    /// Nothing happens at the store until the handle is first used.
    pub fn session(&self, id: Option<SessionId>) -> Session<C> {
        Session::new(self.inner.clone(), id)
    }

    /// This node's owner id at the store.
    pub fn owner(&self) -> &OwnerId {
        &self.inner.owner
    }

    /// The node's configuration.
    pub fn config(&self) -> &NodeConfig {
        &self.inner.config
    }

    /// A snapshot of the node's counters.
    pub fn stats(&self) -> NodeStats {
        self.inner.stats.snapshot()
    }

    /// How many sessions the node holds.
    pub fn held_count(&self) -> usize {
        lock(&self.inner.table).len()
    }

    /// Whether the node holds `id` now.
    pub fn holds(&self, id: &SessionId) -> bool {
        lock(&self.inner.table)
            .get(id)
            .is_some_and(|h| h.phase() == Phase::Active)
    }

    /// Writes the unwritten changes of a held session now (the manual write policy).
    /// Does nothing if the node does not hold it.
    pub async fn flush(&self, id: &SessionId) -> Result<(), SessionError> {
        match self.inner.held(id) {
            Some(held) => self.inner.flush(&held, false).await,
            None => Ok(()),
        }
    }

    /// Writes the unwritten changes of every held session now.
    pub async fn flush_all(&self) -> Result<(), SessionError> {
        let mut first_err = None;
        for held in self.inner.all_held() {
            if let Err(e) = self.inner.flush(&held, false).await {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Gives `id` back to the store now (after writing it), as an idle release would.
    /// The release runs to the end even if the caller stops waiting.
    pub async fn release(&self, id: &SessionId) -> Result<(), SessionError> {
        match self.inner.held(id) {
            Some(held) => {
                let release = tokio::spawn(self.inner.clone().release(held, ReleaseReason::Idle));
                release.await.unwrap_or(Err(SessionError::ShuttingDown))
            }
            None => Ok(()),
        }
    }

    /// Graceful shutdown: takes no new requests, lets in-flight ones finish, writes
    /// and releases every held session (also those whose grant was under way), and
    /// stops the background tasks. Answers the first error met; every session is
    /// attempted.
    pub async fn shutdown(&self) -> Result<(), SessionError> {
        let inner = &self.inner;
        inner.shutting_down.store(true, Ordering::SeqCst);
        let mut first_err = None;
        loop {
            inner.grants_settled().await;
            let all = inner.all_held();
            if all.is_empty() {
                break;
            }
            let releases: Vec<_> = all
                .into_iter()
                .map(|held| tokio::spawn(inner.clone().release(held, ReleaseReason::Shutdown)))
                .collect();
            for r in releases {
                match r.await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        first_err.get_or_insert(e);
                    }
                    Err(join) => tracing::error!(error = %join, "release task failed"),
                }
            }
        }
        for task in lock(&inner.tasks).drain(..) {
            task.abort();
        }
        first_err.map_or(Ok(()), Err)
    }
}

impl<C> Drop for NodeInner<C> {
    fn drop(&mut self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }
}

/// Counts a store call that may grant a tenure, for the duration of the call.
struct Granting<'a> {
    count: &'a AtomicUsize,
    done: &'a Notify,
}

impl<'a> Granting<'a> {
    fn new(count: &'a AtomicUsize, done: &'a Notify) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self { count, done }
    }
}

impl Drop for Granting<'_> {
    fn drop(&mut self) {
        if self.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.done.notify_waiters();
        }
    }
}

impl<C: Codec> NodeInner<C> {
    pub(crate) fn next_req(&self) -> u64 {
        self.next_req.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    pub(crate) fn held(&self, sid: &SessionId) -> Option<Arc<Held>> {
        lock(&self.table).get(sid).cloned()
    }

    pub(crate) fn all_held(&self) -> Vec<Arc<Held>> {
        lock(&self.table).values().cloned().collect()
    }

    /// Marks a store call that may grant this node a tenure.
    pub(crate) fn granting(&self) -> impl Drop + '_ {
        Granting::new(&self.granting, &self.granting_done)
    }

    /// Waits until no grant is under way.
    async fn grants_settled(&self) {
        loop {
            let done = self.granting_done.notified();
            tokio::pin!(done);
            done.as_mut().enable();
            if self.granting.load(Ordering::SeqCst) == 0 {
                return;
            }
            done.await;
        }
    }

    /// Admits a request to the held session `sid`, acquiring it from the store if the
    /// node does not hold it. `None`: the store has no such session.
    pub(crate) async fn attach(
        self: &Arc<Self>,
        sid: &SessionId,
    ) -> Result<Option<Admission>, SessionError> {
        let deadline = deadline_after(Instant::now(), self.config.acquire_timeout);
        loop {
            if self.is_shutting_down() {
                return Err(SessionError::ShuttingDown);
            }
            if let Some(held) = self.held(sid) {
                if matches!(held.phase(), Phase::Gone(_)) {
                    // Gone entries leave the table as they go; never spin on one.
                    self.uninstall(&held);
                    continue;
                }
                let now = Instant::now();
                if held.expired(now) {
                    // Expired: the request starts a new session, as it would at the
                    // store. Delete it there too, so no one is served from it.
                    self.expire(&held);
                    return Ok(None);
                }
                if let Some(admission) = held.try_admit(now) {
                    if held.lease_valid(now) {
                        count!(self.stats, cache_hits);
                        return Ok(Some(admission));
                    }
                    // The lease may have lapsed (renewals failing): confirm with the
                    // store before serving anything from the cache (I9). If this
                    // request is cancelled meanwhile, the admission leaves on drop.
                    if self.confirm_lease(&held).await? {
                        return Ok(Some(admission));
                    }
                    continue;
                }
                // Draining: wait until it is gone, then queue at the store behind the
                // node that recalled it.
                if tokio::time::timeout_at(deadline, held.gone())
                    .await
                    .is_err()
                {
                    return Err(SessionError::AcquireTimeout(self.config.acquire_timeout));
                }
                continue;
            }
            let gate = lock(&self.acquiring)
                .entry(sid.clone())
                .or_default()
                .clone();
            let acquired = {
                let _one_at_a_time = gate.lock().await;
                if self.held(sid).is_some() {
                    None
                } else {
                    Some(self.acquire_from_store(sid, deadline).await)
                }
            };
            {
                let mut acquiring = lock(&self.acquiring);
                if Arc::strong_count(&gate) <= 2 {
                    acquiring.remove(sid);
                }
            }
            match acquired {
                None => continue,
                Some(result) => return result,
            }
        }
    }

    /// Calls `acquire` until granted, waiting on grant hints or polling.
    async fn acquire_from_store(
        self: &Arc<Self>,
        sid: &SessionId,
        deadline: Instant,
    ) -> Result<Option<Admission>, SessionError> {
        // Counted before the check, so shutdown either sees this grant coming or we
        // see shutdown (it sets its flag before it waits for grants).
        let _granting = self.granting();
        if self.is_shutting_down() {
            return Err(SessionError::ShuttingDown);
        }
        let result = loop {
            let sent = Instant::now();
            let reply = self
                .store
                .acquire(
                    sid,
                    &self.owner,
                    self.config.lease,
                    self.config.queue_wait(),
                )
                .await;
            match reply? {
                AcquireReply::Granted(grant) => {
                    count!(self.stats, grants);
                    let until = self.lease_until(sent, grant.lease);
                    let created_at = sent.checked_sub(grant.age).unwrap_or(sent);
                    let held = Arc::new(Held::new(
                        sid.clone(),
                        grant.fence,
                        until,
                        grant.snapshot,
                        sent,
                        grant.expiry,
                        created_at,
                    ));
                    let admission = held.try_admit(Instant::now());
                    self.install(held);
                    break Ok(admission);
                }
                AcquireReply::NotFound => break Ok(None),
                AcquireReply::Queued { retry_after, .. } => {
                    count!(self.stats, queued);
                    if self.is_shutting_down() {
                        break Err(SessionError::ShuttingDown);
                    }
                    let now = Instant::now();
                    if now >= deadline {
                        break Err(SessionError::AcquireTimeout(self.config.acquire_timeout));
                    }
                    let notify = lock(&self.grant_waiters)
                        .entry(sid.clone())
                        .or_default()
                        .clone();
                    let wait = retry_after
                        .min(self.config.max_poll)
                        .max(Duration::from_millis(1));
                    let until = deadline_after(now, wait).min(deadline);
                    let _ = tokio::time::timeout_at(until, notify.notified()).await;
                }
                _ => break Err(StoreError::Protocol("unknown acquire reply".into()).into()),
            }
        };
        lock(&self.grant_waiters).remove(sid);
        result
    }

    /// When the node must consider a lease granted or renewed at `sent` ended.
    pub(crate) fn lease_until(&self, sent: Instant, lease: Duration) -> Instant {
        deadline_after(sent, lease.saturating_sub(self.config.lease_margin))
    }

    /// Puts a newly held session in the table and keeps the table within `max_held`.
    /// A grant that lands after shutdown began is released at once.
    pub(crate) fn install(self: &Arc<Self>, held: Arc<Held>) {
        let victim = {
            let mut table = lock(&self.table);
            table.insert(held.sid(), held.clone());
            if table.len() <= self.config.max_held {
                None
            } else {
                table
                    .values()
                    .filter_map(|h| h.evictable_since().map(|t| (t, h.clone())))
                    .min_by_key(|(t, _)| *t)
                    .map(|(_, h)| h)
            }
        };
        if self.is_shutting_down() {
            tokio::spawn(self.clone().release(held, ReleaseReason::Shutdown));
        }
        if let Some(victim) = victim {
            tokio::spawn(self.clone().release(victim, ReleaseReason::Evict));
        }
    }

    /// Removes `held` from the table (if it is still the entry for its id).
    fn uninstall(&self, held: &Arc<Held>) {
        let mut table = lock(&self.table);
        let sid = held.sid();
        if table.get(&sid).is_some_and(|h| Arc::ptr_eq(h, held)) {
            table.remove(&sid);
        }
    }

    /// Re-keys a held session after `rotate_id`. A copy that is gone stays out.
    pub(crate) fn rekey(&self, old: &SessionId, held: &Arc<Held>) {
        let mut table = lock(&self.table);
        if table.get(old).is_some_and(|h| Arc::ptr_eq(h, held)) {
            table.remove(old);
        }
        if !matches!(held.phase(), Phase::Gone(_)) {
            table.insert(held.sid(), held.clone());
        }
    }

    /// The tenure is lost: drop the copy, never write it (I8).
    pub(crate) fn lose(&self, held: &Arc<Held>) {
        if held.set_gone(GoneReason::Lost) {
            count!(self.stats, tenure_lost);
            tracing::warn!(
                session = held.sid().prefix(),
                "tenure lost; cached copy dropped"
            );
        }
        self.uninstall(held);
    }

    /// The session passed its idle or absolute timeout while this node held it: drop
    /// the copy and delete the session at the store.
    pub(crate) fn expire(self: &Arc<Self>, held: &Arc<Held>) {
        if !held.set_gone(GoneReason::Deleted) {
            return;
        }
        self.uninstall(held);
        let (store, sid) = (self.store.clone(), held.sid());
        tokio::spawn(async move {
            if let Err(e) = store.delete(&sid).await {
                tracing::warn!(session = sid.prefix(), error = %e, "could not delete an expired session");
            }
        });
    }

    /// The session no longer exists at the store (deleted by this node, or found gone).
    pub(crate) fn forget(&self, held: &Arc<Held>) {
        held.set_gone(GoneReason::Deleted);
        self.uninstall(held);
    }

    /// Confirms one held session's lease with the store. Ok(false): lost.
    pub(crate) async fn confirm_lease(
        self: &Arc<Self>,
        held: &Arc<Held>,
    ) -> Result<bool, SessionError> {
        let item = Renewal {
            sid: held.sid(),
            fence: held.fence(),
            touch: held.take_touched(),
        };
        let sent = Instant::now();
        let outcomes = self
            .store
            .renew(&self.owner, self.config.lease, std::slice::from_ref(&item))
            .await?;
        Ok(self.apply_renewal(held, &item, outcomes.first().copied(), sent))
    }

    /// Applies one renewal outcome. True if the session is still held.
    ///
    /// A renewal only speaks for the tenure it named: if the session was rotated (new
    /// id, new fence) or released since, its answer is ignored. And while a fenced
    /// call is under way for the session (a commit, a release, a rotation), that
    /// call's own reply decides: a `Lost` sent before it cannot tell whether the call
    /// applied, and acting on it would report "nothing applied" for a change that was.
    pub(crate) fn apply_renewal(
        self: &Arc<Self>,
        held: &Arc<Held>,
        item: &Renewal,
        outcome: Option<RenewOutcome>,
        sent: Instant,
    ) -> bool {
        let Ok(_serial) = held.flush_lock.try_lock() else {
            return true;
        };
        if matches!(held.phase(), Phase::Gone(_)) {
            return false;
        }
        if held.sid() != item.sid || held.fence() != item.fence {
            return true;
        }
        match outcome {
            Some(RenewOutcome::Renewed { recall }) => {
                held.set_lease_until(self.lease_until(sent, self.config.lease));
                if recall {
                    self.spawn_release(held.clone(), ReleaseReason::Recall);
                }
                true
            }
            _ => {
                self.lose(held);
                false
            }
        }
    }

    pub(crate) fn spawn_release(self: &Arc<Self>, held: Arc<Held>, reason: ReleaseReason) {
        if held.phase() == Phase::Active {
            tokio::spawn(self.clone().release(held, reason));
        }
    }

    /// Gives a held session back: (after the minimum hold, for a recall) stop
    /// admitting, drain in-flight requests, then write and release in one commit.
    /// Runs in a task of its own: once draining has begun, only this finishes it.
    pub(crate) async fn release(
        self: Arc<Self>,
        held: Arc<Held>,
        reason: ReleaseReason,
    ) -> Result<(), SessionError> {
        if !held.start_release() {
            held.gone().await;
            return Ok(());
        }
        if reason == ReleaseReason::Recall {
            tokio::time::sleep_until(held.acquired_at() + self.config.min_hold).await;
        }
        held.begin_drain();
        held.drained().await;
        let result = loop {
            match self.flush(&held, true).await {
                // The store could not be reached. While the lease runs, the changes
                // can still be written: try again; after that, they cannot.
                Err(SessionError::Store(e)) if held.lease_valid(Instant::now()) => {
                    tracing::warn!(session = held.sid().prefix(), error = %e, "release failed; retrying");
                    tokio::time::sleep(self.config.max_poll).await;
                }
                other => break other,
            }
        };
        match &result {
            Ok(()) => match reason {
                ReleaseReason::Recall => count!(self.stats, recalls),
                ReleaseReason::Idle => count!(self.stats, idle_releases),
                ReleaseReason::Evict => count!(self.stats, evictions),
                ReleaseReason::Shutdown => count!(self.stats, shutdown_releases),
            },
            Err(SessionError::TenureLost | SessionError::Gone) => {}
            Err(e) => {
                tracing::warn!(session = held.sid().prefix(), error = %e, "release failed; dropping copy");
                self.lose(&held);
            }
        }
        result
    }

    /// Writes a held session's unwritten changes; with `release`, gives it back in the
    /// same commit.
    pub(crate) async fn flush(&self, held: &Arc<Held>, release: bool) -> Result<(), SessionError> {
        let _serial = held.flush_lock.lock().await;
        match held.phase() {
            Phase::Gone(GoneReason::Lost) => return Err(SessionError::TenureLost),
            Phase::Gone(GoneReason::Deleted) => return Err(SessionError::Gone),
            Phase::Gone(GoneReason::Released) => return Ok(()),
            Phase::Active | Phase::Draining => {}
        }
        let (sid, fence, delta, collected, counts) = held.collect();
        if delta.is_empty() && !release {
            return Ok(());
        }
        let bytes = delta.payload_bytes() as u64;
        let reply = match self
            .store
            .commit(&sid, &self.owner, fence, delta, release)
            .await
        {
            Ok(reply) => reply,
            Err(e) => {
                held.restore_counts(counts);
                return Err(e.into());
            }
        };
        match reply {
            CommitReply::Committed { .. } => {
                held.mark_clean(&collected, Instant::now());
                count!(self.stats, commits);
                count!(self.stats, commit_bytes, bytes);
                if release {
                    held.set_gone(GoneReason::Released);
                    self.uninstall(held);
                }
                Ok(())
            }
            CommitReply::Stale { .. } => {
                self.lose(held);
                Err(SessionError::TenureLost)
            }
            _ => Err(StoreError::Protocol("unknown commit reply".into()).into()),
        }
    }

    /// Starts the write-behind timer of a session under a time-based policy.
    pub(crate) fn arm_timer(self: &Arc<Self>, held: &Arc<Held>) {
        let Some(interval) = self.config.write_policy.interval() else {
            return;
        };
        if !held.arm_timer() {
            return;
        }
        let node: Weak<Self> = Arc::downgrade(self);
        let held = held.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep_until(deadline_after(held.last_write(), interval)).await;
                let Some(node) = node.upgrade() else { return };
                if held.due(&node.config.write_policy, Instant::now()) {
                    if let Err(e) = node.flush(&held, false).await {
                        tracing::warn!(session = held.sid().prefix(), error = %e, "timed write failed");
                    }
                }
                if held.disarm_timer_if_clean() {
                    return;
                }
                if deadline_after(held.last_write(), interval) <= Instant::now() {
                    // The write failed; try again after a pause instead of spinning.
                    tokio::time::sleep(node.config.max_poll).await;
                }
            }
        });
    }

    /// Wakes every queued acquisition, so each asks the store again.
    pub(crate) fn wake_all_waiters(&self) {
        for n in lock(&self.grant_waiters).values() {
            n.notify_one();
        }
    }

    /// Wakes the queued acquisition of `sid`, if any.
    pub(crate) fn grant_hint(&self, sid: &SessionId) {
        if let Some(n) = lock(&self.grant_waiters).get(sid) {
            n.notify_one();
        }
    }
}

/// `now + d`, saturating far in the future instead of overflowing.
pub(crate) fn deadline_after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}
