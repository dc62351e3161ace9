//! Writing held sessions, and giving them back.
//!
//! A flush commits a session's dirty attributes; a request that must wait for the
//! store (end of request) sends a group commit of them; a release (recall, idle,
//! eviction, shutdown) stops admissions, drains the requests in flight and then
//! writes and releases in one commit. A release runs in a task of its own: once
//! draining has begun, only it can finish it (I14). Commits of one session are
//! serialized and carry whole requests, in order (I10).

use std::sync::{Arc, Weak};

use tenure_core::Codec;
use tokio::time::Instant;

use crate::inner::{deadline_after, NodeInner};
use crate::stats::count;
use crate::tenure::held::{GoneReason, Held, Pending, Phase};
use crate::SessionError;

/// Whether a flush may write `held`: `Ok(false)` once released (nothing to write).
pub(crate) fn still_writable(held: &Held) -> Result<bool, SessionError> {
    match held.phase() {
        Phase::Gone(GoneReason::Lost) => Err(SessionError::TenureLost),
        Phase::Gone(GoneReason::InDoubt) => Err(SessionError::OutcomeUnknown),
        Phase::Gone(GoneReason::Deleted) => Err(SessionError::Gone),
        Phase::Gone(GoneReason::Released) => Ok(false),
        Phase::Active | Phase::Draining => Ok(true),
    }
}

/// How long a recalled session must have been unused to be given up before its
/// minimum hold ends.
const QUIET: std::time::Duration = std::time::Duration::from_millis(2);

/// Why a held session is being given back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReleaseReason {
    Recall,
    Idle,
    Evict,
    Shutdown,
    /// The node's liveness lapsed (I15): copies of the old owner id go back.
    Lapsed,
    /// Given up for the node that keeps forwarding its requests (the move rule).
    Moved,
}

impl<C: Codec> NodeInner<C> {
    /// Starts releasing `held` in a task of its own, unless it is already leaving.
    pub(crate) fn spawn_release(self: &Arc<Self>, held: Arc<Held>, reason: ReleaseReason) {
        if held.phase() == Phase::Active {
            tokio::spawn(self.clone().release(held, reason));
        }
    }

    /// Gives a held session back: (after the minimum hold, for a recall) stop
    /// admitting, drain in-flight requests, then write and release in one commit.
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
            self.hold_before_recall(&held).await;
        }
        self.finish_release(&held, reason).await
    }

    /// The rest of a release once it has begun (and, for a recall, the minimum hold
    /// is over): stop admitting, drain in-flight requests, then write and release in
    /// one commit, retried while the store does not answer.
    pub(crate) async fn finish_release(
        &self,
        held: &Arc<Held>,
        reason: ReleaseReason,
    ) -> Result<(), SessionError> {
        held.begin_drain();
        held.drained().await;
        let started = Instant::now();
        let result = loop {
            match self.flush(held, true).await {
                // The store could not be reached, or did not confirm the commit (it is
                // kept in doubt and sent again first). Try again for `outcome_timeout`,
                // while the lease runs (after it, the changes cannot be written, I8):
                // requests that rode on this release wait for it (I16).
                Err(e @ (SessionError::Store(_) | SessionError::OutcomeUnknown))
                    if held.lease_valid(Instant::now())
                        && !matches!(held.phase(), Phase::Gone(_))
                        && started.elapsed() < self.config.outcome_timeout =>
                {
                    held.set_release_failing();
                    tracing::warn!(session = held.sid().prefix(), error = %e, "release failed; retrying");
                    tokio::time::sleep(self.config.max_poll).await;
                }
                other => break other,
            }
        };
        match &result {
            Ok(()) => self.count_release(reason),
            Err(SessionError::TenureLost | SessionError::Gone) => {}
            Err(e) if held.in_doubt() || e.is_outcome_unknown() => {
                tracing::warn!(session = held.sid().prefix(), error = %e, "release failed with a commit in doubt; dropping copy");
                self.drop_in_doubt(held);
            }
            Err(e) => {
                tracing::warn!(session = held.sid().prefix(), error = %e, "release failed; dropping copy");
                self.lose(held);
            }
        }
        result
    }

    /// Counts a release that went through, by its reason.
    pub(crate) fn count_release(&self, reason: ReleaseReason) {
        match reason {
            ReleaseReason::Recall => count!(self.stats, recalls),
            ReleaseReason::Idle => count!(self.stats, idle_releases),
            ReleaseReason::Evict => count!(self.stats, evictions),
            ReleaseReason::Shutdown => count!(self.stats, shutdown_releases),
            ReleaseReason::Lapsed => {}
            ReleaseReason::Moved => count!(self.stats, moves),
        }
    }

    /// The adaptive minimum hold: a recalled session is kept for `min_hold` after its
    /// grant while requests keep using it (two busy nodes then do not hand it back and
    /// forth per request), but given up at once when it is quiet: no request in
    /// flight and none for [`QUIET`]. A session used once waits for nothing.
    async fn hold_before_recall(&self, held: &Held) {
        let until = held.acquired_at() + self.config.min_hold;
        loop {
            let now = Instant::now();
            if now >= until || held.quiet_for(QUIET, now) {
                return;
            }
            tokio::time::sleep_until(until.min(now + QUIET)).await;
        }
    }

    /// Writes a held session's unwritten changes; with `release`, gives it back in the
    /// same commit.
    pub(crate) async fn flush(&self, held: &Arc<Held>, release: bool) -> Result<(), SessionError> {
        // I10: one commit of this session at a time, in the order they were collected.
        let _serial = held.flush_lock.lock().await;
        // A commit in doubt goes first: it was collected before anything here.
        self.resolve_doubt(held).await?;
        if !still_writable(held)? {
            return Ok(());
        }
        let pending = self.pending(held, release);
        if pending.delta.is_empty() && !release {
            return Ok(());
        }
        self.commit_pending(held, pending).await
    }

    /// One step of a request's wait for its dependency `dep` (I18): under the flush
    /// lock, answers if an earlier commit settled it; otherwise sends one commit of
    /// everything dirty, which carries the changes of every request that ended before
    /// it was collected (a group commit), and answers by its outcome. `None` while the
    /// session drains: its release commit will carry the changes (deviation 6).
    ///
    /// Runs in a task of its own (see `await_stored`), so a request cancelled while
    /// it waits never abandons a commit half sent, and its changes, already in the
    /// cache, are stored with the group.
    pub(crate) async fn commit_through(
        &self,
        held: &Arc<Held>,
        dep: u64,
    ) -> Option<Result<(), SessionError>> {
        let _serial = held.flush_lock.lock().await;
        if let Some(answer) = held.settled(dep) {
            return Some(answer);
        }
        if held.phase() == Phase::Draining {
            return None;
        }
        if held.in_doubt() {
            // A commit in doubt goes first (I10); `dep` is above it, or `settled`
            // would have answered. If it stays in doubt, this request's changes, in
            // the cache, may still be stored once it is resolved: unknown, not 503.
            if let Err(e) = self.resolve_doubt(held).await {
                tracing::debug!(session = held.sid().prefix(), error = %e, "commit in doubt not resolved; the waiting request's outcome is unknown");
                return Some(
                    held.settled(dep)
                        .unwrap_or(Err(SessionError::OutcomeUnknown)),
                );
            }
            if let Some(answer) = held.settled(dep) {
                return Some(answer);
            }
        }
        let pending = self.pending(held, false);
        // The outcome is in the copy's marks (stored, unknown, or the copy gone),
        // which answer every waiter alike; the commit's own error says no more.
        let _ = self.commit_pending(held, pending).await;
        // `dep` was below the mark of what was just sent, so this is settled; were
        // it not, success could not be claimed.
        Some(
            held.settled(dep)
                .unwrap_or(Err(SessionError::OutcomeUnknown)),
        )
    }

    /// A commit of everything dirty in `held`, with a new id.
    pub(crate) fn pending(&self, held: &Held, release: bool) -> Pending {
        let c = held.collect();
        Pending {
            id: self.next_commit_id(),
            sid: c.sid,
            owner: held.owner(),
            fence: c.fence,
            delta: c.delta,
            release,
            collected: c.collected,
            counts: c.counts,
            mark: c.mark,
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

    /// Gives `held` back now (after writing it), as an idle release would, in a task
    /// that runs to the end even if the caller stops waiting (I14).
    pub(crate) async fn release_now(self: &Arc<Self>, held: Arc<Held>) -> Result<(), SessionError> {
        let release = tokio::spawn(self.clone().release(held, ReleaseReason::Idle));
        release.await.unwrap_or(Err(SessionError::ShuttingDown))
    }

    /// Graceful shutdown: takes no new requests, lets in-flight ones finish, writes
    /// and releases every held session (also those whose grant was under way, I14),
    /// and stops the background tasks. Answers the first error met; every session is
    /// attempted.
    pub(crate) async fn shutdown(self: &Arc<Self>) -> Result<(), SessionError> {
        self.stop_admitting();
        let mut first_err = None;
        loop {
            self.grants_settled().await;
            let all = self.all_held();
            if all.is_empty() {
                break;
            }
            // Together (those with nothing to write in one store call), in a task of
            // its own: once begun, a release runs to its end even if the caller stops
            // waiting (I14).
            let releases = tokio::spawn(self.clone().release_all(all, ReleaseReason::Shutdown));
            match releases.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(join) => tracing::error!(error = %join, "release task failed"),
            }
        }
        for task in tenure_core::sync::lock(&self.tasks).drain(..) {
            task.abort();
        }
        first_err.map_or(Ok(()), Err)
    }
}
