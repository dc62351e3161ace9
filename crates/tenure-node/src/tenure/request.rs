//! A request's store calls on a held session (exclusive mode): creating a session
//! with tenure, ending a request under the write policy, rotating the id, deleting.
//!
//! The request side ([`crate::session`]) decides *what* changed; this decides when it
//! reaches the store and keeps the tenure consistent while it does.
//!
//! Under the end-of-request policy a request's changes enter the near cache at its
//! end and its attribute locks go at once (I11), so the next request of the session
//! does not wait for this one's commit; the response waits instead until the store
//! has every change the request saw (I18). Requests that end while a commit is in
//! flight go into the next one together (group commit).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tenure_core::{Bytes, Codec, Expiry, SessionId, Snapshot};
use tenure_store::{CreateReply, RotateReply, StoreError};
use tokio::time::Instant;

use crate::inner::NodeInner;
use crate::locks::{AttrLocks, ReqId};
use crate::stats::count;
use crate::tenure::held::{Admission, GoneReason, Held, Phase, Rewrite};
use crate::tenure::GrantOf;
use crate::SessionError;

/// Attempts at finding an unused id for a new or rotated session (ids are 192 random
/// bits: a second attempt is already astronomically unlikely).
pub(crate) const ID_ATTEMPTS: usize = 3;

/// One request's place in a held session: its attribute locks and its admission.
/// Dropping it releases the locks, then leaves the session (I14), so a request that
/// fails or is cancelled anywhere can neither keep an attribute locked nor keep a
/// release waiting for its drain.
#[derive(Debug)]
pub(crate) struct HeldRequest {
    // Field order is drop order: locks first, so nothing waits on a request that left.
    locks: AttrLocks,
    admission: Admission,
    /// The highest write sequence number among the cache entries this request read:
    /// what it saw may not be stored yet, and its response must wait for it (I18).
    /// Atomic because reads go through `&self`.
    seen: AtomicU64,
}

impl HeldRequest {
    pub(crate) fn new(admission: Admission, req: ReqId) -> Self {
        Self {
            locks: AttrLocks::new(admission.held().locks.clone(), req),
            admission,
            seen: AtomicU64::new(0),
        }
    }

    /// An attribute's value in the near cache, noted as seen.
    pub(crate) fn read(&self, name: &str) -> Option<Bytes> {
        let (value, seq) = self.held().read(name);
        self.seen.fetch_max(seq, Ordering::Relaxed);
        value
    }

    /// The attributes present in the near cache, noted as seen.
    pub(crate) fn read_names(&self) -> Vec<String> {
        let (names, seq) = self.held().read_names();
        self.seen.fetch_max(seq, Ordering::Relaxed);
        names
    }

    pub(crate) fn held(&self) -> &Arc<Held> {
        self.admission.held()
    }

    pub(crate) fn locks(&mut self) -> &mut AttrLocks {
        &mut self.locks
    }
}

impl<C: Codec> NodeInner<C> {
    /// Ends a request on a held session: applies its changes to the near cache and
    /// lets go of its attribute locks, then, if the policy says so (or the session is
    /// draining, or the lease may have lapsed), waits until the store has every change
    /// the request saw (I18). True if the request's changes reached the store.
    pub(crate) async fn end_held(
        self: &Arc<Self>,
        request: HeldRequest,
        changes: Vec<(String, Option<Bytes>)>,
        rewrite: Rewrite,
        timeouts: Option<Expiry>,
        structural: &BTreeSet<String>,
    ) -> Result<bool, SessionError> {
        let held = request.held().clone();
        if held.in_doubt() {
            // As before a read (I16): a commit that went into doubt while this request
            // ran is resolved before its changes join the copy. Failing here, nothing
            // of this request is in the cache, so it has stored nothing.
            self.resolve_doubt_now(&held).await?;
        }
        match held.phase() {
            Phase::Gone(GoneReason::Lost | GoneReason::InDoubt) => {
                return Err(SessionError::TenureLost)
            }
            Phase::Gone(GoneReason::Deleted) => return Err(SessionError::Gone),
            _ => {}
        }
        let wrote =
            !changes.is_empty() || !matches!(rewrite, Rewrite::Nothing) || timeouts.is_some();
        let policy = self.config.write_policy;
        let now = Instant::now();
        let pending = changes.len() + usize::from(wrote && changes.is_empty());
        // I9: never acknowledge a change into a copy whose lease may have lapsed:
        // write it now, and let the fence decide.
        let lapsed = (!held.lease_valid(now) || !self.alive(now)) && (wrote || held.is_dirty());
        // Decided before the changes are counted in: `due_with` counts them itself.
        let due = held.due_with(&policy, pending, now) || lapsed;
        // A recalled request rides on the release commit, one round trip instead of
        // two, and completes only once it has (I12).
        let draining = held.phase() == Phase::Draining;
        let seen = request.seen.load(Ordering::Relaxed);
        let last =
            held.apply_checked(changes, &self.config.limits, &rewrite, timeouts, structural)?;
        // I11: its changes are in the cache, so the request lets go of its attributes
        // and leaves (a release need not wait for its commit); I18: it answers only
        // once the store has what it saw.
        drop(request);
        let wait = match last {
            Some(own) if due || draining => Some(own.max(seen)),
            // Write-behind: acknowledged from memory, written later.
            Some(_) => None,
            // Read only. Under end of request, it waits for what it saw; under a
            // write-behind policy that is due, it writes what is unwritten, as a
            // writing request would (and waits, as before group commit).
            None if policy.is_end_of_request() => Some(seen),
            None if due => Some(held.last_seq()),
            None => None,
        };
        let Some(dep) = wait else {
            if held.is_dirty() {
                self.arm_timer(&held);
            }
            return Ok(false);
        };
        self.await_stored(&held, dep).await?;
        Ok(last.is_some())
    }

    /// Waits until the store has every change of `held` up to `dep` (I18), sending a
    /// group commit if no one else does. One committer at a time (the flush lock):
    /// requests that end while a commit is in flight wait for it, and the first of
    /// them to find its dependency unstored sends the next commit for all of them.
    async fn await_stored(
        self: &Arc<Self>,
        held: &Arc<Held>,
        dep: u64,
    ) -> Result<(), SessionError> {
        loop {
            if let Some(answer) = held.settled(dep) {
                return answer;
            }
            if held.phase() == Phase::Draining {
                // The release commit carries every change of the copy (deviation 6).
                held.gone().await;
                continue;
            }
            // In a task of its own: a request cancelled while it waits (I14) neither
            // abandons a commit half sent nor keeps the others waiting; its changes
            // are stored with the group, and its client, which got no answer, is as
            // after a lost reply.
            let step = tokio::spawn({
                let (node, held) = (self.clone(), held.clone());
                async move { node.commit_through(&held, dep).await }
            });
            match step.await {
                Ok(Some(answer)) => return answer,
                Ok(None) => continue,
                // The runtime is going away: the commit may have been sent.
                Err(_) => return Err(SessionError::OutcomeUnknown),
            }
        }
    }

    /// Write on create: the new session is in the store before the request completes.
    /// In the exclusive mode the store grants this node its tenure in the same call.
    pub(crate) async fn create(
        self: &Arc<Self>,
        attrs: Vec<(String, Bytes)>,
        exclusive: bool,
        expiry: Expiry,
    ) -> Result<SessionId, SessionError> {
        let size = attrs.iter().map(|(k, v)| k.len() + v.len()).sum();
        self.config.limits.check_session(attrs.len(), size)?;
        // Counted before the check, so shutdown either sees this grant coming or we
        // see shutdown (it sets its flag before it waits for grants, I14).
        let _granting = self.granting();
        if exclusive && self.is_shutting_down() {
            return Err(SessionError::ShuttingDown);
        }
        let owner = self.owner();
        let tenure = exclusive.then_some((&owner, self.config.lease));
        for _ in 0..ID_ATTEMPTS {
            let sid = new_id()?;
            let sent = Instant::now();
            match self
                .store
                .create(&sid, attrs.clone(), expiry, tenure)
                .await?
            {
                CreateReply::Created { fence } => {
                    count!(self.stats, commits);
                    count!(self.stats, commit_bytes, size as u64);
                    if let Some(fence) = fence {
                        // The creating request is done with it: its admission leaves.
                        drop(self.hold(GrantOf {
                            sid: sid.clone(),
                            owner: owner.clone(),
                            fence,
                            lease: self.config.lease,
                            snapshot: Snapshot::new(1, attrs),
                            expiry,
                            age: std::time::Duration::ZERO,
                            sent,
                        }));
                    }
                    return Ok(sid);
                }
                CreateReply::Exists => continue,
                _ => return Err(StoreError::Protocol("unknown create reply".into()).into()),
            }
        }
        Err(SessionError::NoFreeId)
    }

    /// Gives a held session a new id at the store, keeping the tenure (new fence).
    pub(crate) async fn rotate_held(
        self: &Arc<Self>,
        held: &Arc<Held>,
    ) -> Result<SessionId, SessionError> {
        let _serial = held.flush_lock.lock().await;
        self.resolve_doubt(held).await?;
        if matches!(held.phase(), Phase::Gone(_)) {
            return Err(SessionError::TenureLost);
        }
        let old = held.sid();
        for _ in 0..ID_ATTEMPTS {
            let new = new_id()?;
            let reply = self
                .store
                .rotate_id(&old, &new, Some((&held.owner(), held.fence())))
                .await;
            // Sent and not answered: the session may live under `new` now, which the
            // client will never be told. The copy cannot tell which id is current.
            let reply = reply.map_err(|e| {
                tracing::warn!(session = old.prefix(), error = %e, "rotate_id unconfirmed; outcome unknown");
                self.lose(held);
                SessionError::OutcomeUnknown
            })?;
            match reply {
                RotateReply::Rotated { fence: Some(fence) } => {
                    held.rotated(new.clone(), fence);
                    self.rekey(&old, held);
                    return Ok(new);
                }
                RotateReply::Exists => continue,
                RotateReply::NotFound => {
                    self.forget(held);
                    return Err(SessionError::Gone);
                }
                _ => {
                    self.lose(held);
                    return Err(SessionError::TenureLost);
                }
            }
        }
        Err(SessionError::NoFreeId)
    }

    /// Deletes a held session at the store and drops the copy.
    pub(crate) async fn delete_held(&self, held: &Arc<Held>) -> Result<(), SessionError> {
        // Sent and not answered: it may be deleted (sending it again is harmless).
        self.store
            .delete(&held.sid())
            .await
            .map_err(|_| SessionError::OutcomeUnknown)?;
        // Whatever became of a commit in doubt, the session is gone now.
        held.take_doubt();
        self.forget(held);
        Ok(())
    }
}

/// A fresh session id from the OS random number generator.
pub(crate) fn new_id() -> Result<SessionId, SessionError> {
    SessionId::generate().map_err(SessionError::IdGeneration)
}
