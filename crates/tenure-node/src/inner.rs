//! The node's shared state, which every part of the node works on.
//!
//! Only the state and its smallest helpers live here; what the node does with it is in
//! the files of [`crate::tenure`] (exclusive-mode tenure: table, acquisition, release,
//! renewal) and [`crate::session`] (one request), each adding `impl NodeInner` blocks
//! of their own. That keeps this file the root of the module graph: it imports no
//! sibling that imports it back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tenure_core::sync::lock;
use tenure_core::{OwnerId, SessionId};
use tenure_store::Store;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::route::cache::Locations;
use crate::route::streak::Streaks;
use crate::stats::Counters;
use crate::tenure::held::Held;
use crate::tenure::remembered::Remembered;
use crate::NodeConfig;

/// What one node shares between its handles, requests and background tasks.
#[derive(Debug)]
pub(crate) struct NodeInner<C> {
    pub(crate) store: Arc<dyn Store>,
    /// Who this node is at the store: a new id whenever its liveness lapsed (I15).
    owner: Mutex<OwnerId>,
    /// When the last successful keep-alive was sent (`None`: not alive): the node may
    /// serve from its copies for [`NodeConfig::liveness_serving`] after it (I17).
    alive_sent: Mutex<Option<Instant>>,
    /// One re-registration at a time, after a lapse.
    pub(crate) reincarnating: tokio::sync::Mutex<()>,
    pub(crate) config: NodeConfig,
    pub(crate) codec: C,
    /// The tenure table: every session this node holds (exclusive mode).
    pub(crate) table: Mutex<HashMap<SessionId, Arc<Held>>>,
    /// Sessions chosen for eviction whose release has not ended.
    pub(crate) evicting: AtomicUsize,
    /// One acquisition at a time per session on this node (single flight).
    pub(crate) acquiring: Mutex<HashMap<SessionId, Arc<tokio::sync::Mutex<()>>>>,
    /// Wakes a queued acquisition when a grant hint arrives.
    pub(crate) grant_waiters: Mutex<HashMap<SessionId, Arc<Notify>>>,
    /// Store calls under way that may grant this node a tenure (acquire, create);
    /// shutdown waits for them so that nothing granted escapes its final release (I14).
    granting: AtomicUsize,
    granting_done: Notify,
    next_req: AtomicU64,
    /// Commit ids (I2a): one increasing counter for the node.
    pub(crate) next_commit: AtomicU64,
    pub(crate) stats: Counters,
    /// Copies of sessions this node gave back, for conditional takeover.
    pub(crate) remembered: Remembered,
    /// Where sessions this node does not hold live, for forwarding.
    pub(crate) locations: Locations,
    /// The move rule's counts of forwarded requests (holder side).
    pub(crate) streaks: Streaks,
    /// What other nodes present when they forward a request here; advertised with the
    /// address, so only nodes that read the store learn it.
    pub(crate) forward_token: String,
    shutting_down: AtomicBool,
    pub(crate) tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl<C> NodeInner<C> {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        owner: OwnerId,
        config: NodeConfig,
        codec: C,
        forward_token: String,
    ) -> Self {
        let remembered = Remembered::new(config.remembered_copies, config.remembered_bytes);
        Self {
            store,
            owner: Mutex::new(owner),
            alive_sent: Mutex::new(None),
            reincarnating: tokio::sync::Mutex::new(()),
            config,
            codec,
            table: Mutex::default(),
            evicting: AtomicUsize::new(0),
            acquiring: Mutex::default(),
            grant_waiters: Mutex::default(),
            granting: AtomicUsize::new(0),
            granting_done: Notify::new(),
            next_req: AtomicU64::new(1),
            next_commit: AtomicU64::new(1),
            stats: Counters::default(),
            remembered,
            locations: Locations::default(),
            streaks: Streaks::default(),
            forward_token,
            shutting_down: AtomicBool::new(false),
            tasks: Mutex::default(),
        }
    }

    /// This node's current owner id.
    pub(crate) fn owner(&self) -> OwnerId {
        lock(&self.owner).clone()
    }

    /// Makes `owner` the node's id from now on.
    pub(crate) fn set_owner(&self, owner: OwnerId) {
        *lock(&self.owner) = owner;
    }

    /// Whether the node may serve from its copies at `now` (I17).
    pub(crate) fn alive(&self, now: Instant) -> bool {
        lock(&self.alive_sent)
            .is_some_and(|sent| now < deadline_after(sent, self.config.liveness_serving()))
    }

    /// When the last successful keep-alive was sent, if the node is alive.
    pub(crate) fn alive_sent(&self) -> Option<Instant> {
        *lock(&self.alive_sent)
    }

    /// A keep-alive sent at `sent` succeeded.
    pub(crate) fn alive_since(&self, sent: Instant) {
        let mut current = lock(&self.alive_sent);
        if current.is_none_or(|c| sent > c) {
            *current = Some(sent);
        }
    }

    /// The node's liveness lapsed: serve nothing from copies until it is alive again.
    pub(crate) fn not_alive(&self) {
        *lock(&self.alive_sent) = None;
    }

    /// A new request id, unique within the node (for the attribute lock table).
    pub(crate) fn next_req(&self) -> u64 {
        self.next_req.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// From now on the node takes no new work.
    pub(crate) fn stop_admitting(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    /// Marks a store call that may grant this node a tenure, for as long as the
    /// returned guard lives.
    pub(crate) fn granting(&self) -> impl Drop + '_ {
        Granting::new(&self.granting, &self.granting_done)
    }

    /// Waits until no grant is under way.
    pub(crate) async fn grants_settled(&self) {
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

    /// When the node must consider a lease granted or renewed at `sent` ended.
    pub(crate) fn lease_until(&self, sent: Instant, lease: Duration) -> Instant {
        deadline_after(sent, lease.saturating_sub(self.config.lease_margin))
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

/// `now + d`, saturating far in the future instead of overflowing.
pub(crate) fn deadline_after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}
