//! Giving back many unused sessions in one store call.
//!
//! The renewal tick gives back idle and cold sessions, and eviction the least recently
//! used ones, often hundreds at a time on a node that sees many short visits. One
//! release commit each costs a round trip and a script call apiece, most of what such
//! a session costs the store. So sessions that have nothing to write, no request in
//! flight and no commit under way or in doubt go back together, through
//! [`Store::release_many`](tenure_store::Store::release_many): the same fenced,
//! idempotent release commit per session (I2a), one call for all. Every other session
//! of the batch takes the one-at-a-time path, [`NodeInner::finish_release`].
//!
//! A release the batch could not confirm (the call failed, or its item did) is kept
//! in doubt and handed to the one-at-a-time path, which sends the same commit again
//! first: a release that did apply is then answered `AlreadyApplied`, not lost.

use std::sync::Arc;

use tenure_core::Codec;
use tenure_store::{CommitReply, Release, StoreError};
use tokio::time::Instant;

use crate::inner::NodeInner;
use crate::tenure::commit::Outcome;
use crate::tenure::held::{Held, Pending};
use crate::tenure::release::{still_writable, ReleaseReason};
use crate::SessionError;

impl<C: Codec> NodeInner<C> {
    /// Releases `helds` in a task of its own (see [`release_all`](Self::release_all)).
    pub(crate) fn spawn_release_all(
        self: &Arc<Self>,
        helds: Vec<Arc<Held>>,
        reason: ReleaseReason,
    ) {
        if !helds.is_empty() {
            tokio::spawn(self.clone().release_all(helds, reason));
        }
    }

    /// Gives back every session of `helds`: the quiet and clean ones in one store
    /// call, the others one at a time. Returns when each has been given back or
    /// dropped (also those whose release had begun elsewhere, as
    /// [`release`](Self::release) does), with the first error met.
    pub(crate) async fn release_all(
        self: Arc<Self>,
        helds: Vec<Arc<Held>>,
        reason: ReleaseReason,
    ) -> Result<(), SessionError> {
        let owner = self.owner();
        let mut together = Vec::new();
        let mut alone = Vec::new();
        let mut leaving = Vec::new();
        for held in helds {
            if !held.start_release() {
                leaving.push(held); // whoever began its release finishes it
                continue;
            }
            held.begin_drain();
            if held.quiet_for(std::time::Duration::ZERO, Instant::now())
                && !held.in_doubt()
                && !held.is_dirty()
                && held.owner() == owner
            {
                together.push(held);
            } else {
                alone.push(held);
            }
        }
        let (not_batched, mut first_err) = self.release_together(&together, reason).await;
        let rest = alone
            .into_iter()
            .chain(not_batched.into_iter().map(|i| together[i].clone()));
        let mut releases = tokio::task::JoinSet::new();
        for held in rest {
            let node = self.clone();
            releases.spawn(async move { node.finish_release(&held, reason).await });
        }
        for held in leaving {
            releases.spawn(async move {
                held.gone().await;
                Ok(())
            });
        }
        while let Some(done) = releases.join_next().await {
            match done {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(join) => tracing::error!(error = %join, "release task failed"),
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// One `release_many` call for `helds`; answers the indexes of those it did not
    /// settle, for the one-at-a-time path, and the first error of those it did.
    async fn release_together(
        &self,
        helds: &[Arc<Held>],
        reason: ReleaseReason,
    ) -> (Vec<usize>, Option<SessionError>) {
        let mut not_batched = Vec::new();
        let mut first_err = None;
        // I10: one commit of a session at a time; a flush under way keeps its session
        // out of the batch.
        let mut batch: Vec<(usize, Pending, tokio::sync::MutexGuard<'_, ()>)> = Vec::new();
        for (i, held) in helds.iter().enumerate() {
            let Ok(guard) = held.flush_lock.try_lock() else {
                not_batched.push(i);
                continue;
            };
            match still_writable(held) {
                Ok(true) => {}
                // Gone meanwhile: nothing to give back.
                _ => continue,
            }
            if held.is_dirty() {
                // Changes to write: a commit of its own (collecting them here would
                // work out their patches only to drop them).
                not_batched.push(i);
                continue;
            }
            let pending = self.pending(held, true);
            if !pending.delta.is_empty() {
                // Something to write after all (new timeouts): a commit of its own.
                held.restore_counts(pending.counts);
                not_batched.push(i);
                continue;
            }
            batch.push((i, pending, guard));
        }
        if batch.is_empty() {
            return (not_batched, None);
        }
        let items: Vec<Release> = batch
            .iter()
            .map(|(_, p, _)| Release {
                sid: p.sid.clone(),
                fence: p.fence,
                id: p.id,
            })
            .collect();
        let owner = batch[0].1.owner.clone();
        let answers = match self.store.release_many(&owner, &items).await {
            Ok(answers) if answers.len() == items.len() => answers,
            Ok(_) => unanswered(items.len(), "release_many: one answer per item expected"),
            Err(e) => {
                tracing::warn!(error = %e, sessions = items.len(), "batched release failed; releasing one at a time");
                unanswered(items.len(), "release_many failed")
            }
        };
        for ((i, pending, guard), answer) in batch.into_iter().zip(answers) {
            let held = &helds[i];
            match answer {
                Ok(
                    CommitReply::Committed { version } | CommitReply::AlreadyApplied { version },
                ) => {
                    if self.settle(held, pending, Outcome::Stored(version)).is_ok() {
                        self.count_release(reason);
                    }
                }
                Ok(CommitReply::Stale { .. }) => {
                    if let Err(e) = self.settle(held, pending, Outcome::NotStored) {
                        first_err.get_or_insert(e);
                    }
                }
                // Applied or not: the one-at-a-time path sends it again first.
                Ok(_) | Err(_) => {
                    held.restore_counts(pending.counts);
                    held.set_doubt(pending);
                    not_batched.push(i);
                }
            }
            drop(guard);
        }
        (not_batched, first_err)
    }
}

/// `n` answers that say the release is not known to have applied.
fn unanswered(n: usize, why: &str) -> Vec<Result<CommitReply, StoreError>> {
    (0..n)
        .map(|_| Err(StoreError::Unavailable(why.into())))
        .collect()
}
