//! One fenced commit, sent until the store says whether it applied (I2a).
//!
//! A store call that fails (a timeout, a dropped connection) may have applied or not;
//! the reply is what was lost. Every commit therefore carries a [`CommitId`], and the
//! store applies a given commit at most once however often it arrives. So the node
//! can simply send the same commit again: `Committed` or `AlreadyApplied` then means
//! stored, and a late copy of the first sending changes nothing.
//!
//! | what the store said | the answer of each request whose changes it carried (I18) | the held copy |
//! |---|---|---|
//! | applied (now or before) | success | marks the changes clean |
//! | `Stale` on the first sending | nothing stored (503) | dropped, tenure lost |
//! | `PatchRefused` | nothing applied yet: the same commit is sent at once with whole values | unchanged |
//! | no answer within `outcome_timeout` | unknown (504) | keeps the commit in doubt and is not served until it is resolved |
//! | `Stale` after a failed sending | unknown (504) | dropped: the tenure ended, so sending again can teach nothing |
//!
//! The cache already holds the changes a commit carries (they enter it at the end of
//! their requests), so the copy's [`stored_through`](Held::stored_through) and
//! [`outcome_unknown`](Held::outcome_unknown) marks are what tells the waiting
//! requests their answers.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tenure_core::Codec;
use tenure_store::{CommitId, CommitReply, StoreError};
use tokio::time::Instant;

use crate::inner::{deadline_after, NodeInner};
use crate::stats::count;
use crate::tenure::held::{GoneReason, Held, Pending};
use crate::SessionError;

/// First pause before a commit is sent again; it doubles up to `max_poll`.
const FIRST_RETRY: Duration = Duration::from_millis(25);

/// What became of a commit.
pub(crate) enum Outcome {
    /// Applied, now or by an earlier sending; the session version it made.
    Stored(u64),
    /// The store answered that it applied nothing, and no earlier sending exists.
    NotStored,
    /// The store may or may not have applied it; sending it again may tell.
    Unknown(StoreError),
    /// The store may or may not have applied it, and the tenure has ended (`Stale`
    /// after a failed sending): nothing will tell any more.
    Unresolvable,
}

impl<C: Codec> NodeInner<C> {
    /// A commit id above every one this node used before (ids need only increase
    /// within one tenure; one counter for the node does that).
    pub(crate) fn next_commit_id(&self) -> CommitId {
        CommitId(self.next_commit.fetch_add(1, Ordering::Relaxed))
    }

    /// Sends `pending` and settles the held copy by the outcome, sending it again for
    /// up to `outcome_timeout` while the store does not answer.
    pub(crate) async fn commit_pending(
        &self,
        held: &Arc<Held>,
        mut pending: Pending,
    ) -> Result<(), SessionError> {
        let outcome = self
            .send(held, &mut pending, self.config.outcome_timeout, false)
            .await;
        self.settle(held, pending, outcome)
    }

    /// [`resolve_doubt`](Self::resolve_doubt) for a caller that does not hold the
    /// flush lock: a request about to use the copy, or the renewal tick.
    pub(crate) async fn resolve_doubt_now(&self, held: &Arc<Held>) -> Result<(), SessionError> {
        let _serial = held.flush_lock.lock().await;
        self.resolve_doubt(held).await
    }

    /// Sends the commit in doubt again, once; the caller holds the flush lock. Ok if
    /// there was none or it is now known to be stored. A copy whose commit stays in
    /// doubt keeps it (`Store` error: a caller whose changes are not in the cache yet
    /// stored nothing of its own; a group commit's waiter, whose are, answers
    /// `OutcomeUnknown` instead); one the store no longer lets write is dropped.
    pub(crate) async fn resolve_doubt(&self, held: &Arc<Held>) -> Result<(), SessionError> {
        let Some(mut pending) = held.take_doubt() else {
            return Ok(());
        };
        match self.send(held, &mut pending, Duration::ZERO, true).await {
            Outcome::Unknown(e) => {
                held.set_doubt(pending);
                Err(e.into())
            }
            outcome => {
                count!(self.stats, doubts_resolved);
                self.settle(held, pending, outcome).map_err(|e| match e {
                    // The caller's own request stored nothing: it may retry.
                    SessionError::OutcomeUnknown => SessionError::TenureLost,
                    e => e,
                })
            }
        }
    }

    /// Sends `pending` until the store answers or `patience` is spent (and while the
    /// lease lasts: after it, a sending could only be refused). A refused patch
    /// turns `pending` into the same commit with whole values, sent at once: the
    /// refusal applied nothing and left the commit id unused.
    async fn send(
        &self,
        held: &Held,
        pending: &mut Pending,
        patience: Duration,
        mut sent_before: bool,
    ) -> Outcome {
        let deadline = deadline_after(Instant::now(), patience);
        let mut pause = FIRST_RETRY;
        loop {
            let reply = self
                .store
                .commit(
                    &pending.sid,
                    &pending.owner,
                    pending.fence,
                    pending.id,
                    pending.delta.clone(),
                    pending.release,
                )
                .await;
            match reply {
                Ok(
                    CommitReply::Committed { version } | CommitReply::AlreadyApplied { version },
                ) => {
                    return Outcome::Stored(version);
                }
                Ok(CommitReply::Stale { .. }) if !sent_before => return Outcome::NotStored,
                // An earlier sending may have applied before the tenure moved on.
                Ok(CommitReply::Stale { .. }) => return Outcome::Unresolvable,
                Ok(CommitReply::PatchRefused(refused)) if pending.delta.has_patches() => {
                    count!(self.stats, patches_refused);
                    tracing::warn!(session = held.sid().prefix(), attrs = ?refused.attrs, "store refused a patch; sending whole values");
                    pending.delta = std::mem::take(&mut pending.delta).without_patches();
                }
                Ok(_) => {
                    return Outcome::Unknown(StoreError::Protocol("unknown commit reply".into()))
                }
                Err(e) => {
                    sent_before = true;
                    count!(self.stats, commit_retries);
                    let next = Instant::now() + pause;
                    if next >= deadline || !held.lease_valid(next) {
                        return Outcome::Unknown(e);
                    }
                    tracing::debug!(session = held.sid().prefix(), error = %e, "commit unconfirmed; sending it again");
                    tokio::time::sleep_until(next).await;
                    pause = (pause * 2).min(self.config.max_poll);
                }
            }
        }
    }

    /// Brings the held copy in line with what became of `pending`.
    pub(crate) fn settle(
        &self,
        held: &Arc<Held>,
        pending: Pending,
        outcome: Outcome,
    ) -> Result<(), SessionError> {
        match outcome {
            Outcome::Stored(version) => {
                held.mark_clean(&pending.collected, Instant::now(), version);
                // Before the copy may go (release): a waiter that sees it gone reads
                // this after.
                held.stored_through(pending.mark);
                count!(self.stats, commits);
                count!(
                    self.stats,
                    commit_bytes,
                    pending.delta.payload_bytes() as u64
                );
                count!(self.stats, patches, pending.delta.patch_count() as u64);
                if pending.release {
                    // Before the copy goes, so a request here that waits for it to go
                    // and then takes the session back finds it remembered.
                    self.remember(held, version);
                    held.set_gone(GoneReason::Released);
                    self.uninstall(held);
                }
                Ok(())
            }
            Outcome::NotStored => {
                self.lose(held);
                Err(SessionError::TenureLost)
            }
            Outcome::Unresolvable => {
                held.outcome_unknown(pending.mark);
                count!(self.stats, outcomes_unknown);
                tracing::warn!(
                    session = held.sid().prefix(),
                    "commit outcome unknown and the tenure ended; cached copy dropped"
                );
                self.drop_in_doubt(held);
                Err(SessionError::OutcomeUnknown)
            }
            Outcome::Unknown(e) => {
                held.outcome_unknown(pending.mark);
                held.restore_counts(pending.counts);
                count!(self.stats, outcomes_unknown);
                if held.lease_valid(Instant::now()) {
                    tracing::warn!(session = held.sid().prefix(), error = %e, "commit outcome unknown; the session is not served until the store confirms it");
                    held.set_doubt(pending);
                } else {
                    tracing::warn!(session = held.sid().prefix(), error = %e, "commit outcome unknown and the lease ended; cached copy dropped");
                    self.drop_in_doubt(held);
                }
                Err(SessionError::OutcomeUnknown)
            }
        }
    }

    /// Drops a copy whose commit outcome will not be learned (the lease ended).
    pub(crate) fn drop_in_doubt(&self, held: &Arc<Held>) {
        held.take_doubt();
        if held.set_gone(GoneReason::InDoubt) {
            count!(self.stats, tenure_lost);
        }
        self.uninstall(held);
    }
}
