//! A request's store calls on a held session (exclusive mode): creating a session
//! with tenure, ending a request under the write policy, rotating the id, deleting.
//!
//! The request side ([`crate::session`]) decides *what* changed; this decides when it
//! reaches the store and keeps the tenure consistent while it does.

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
}

impl HeldRequest {
    pub(crate) fn new(admission: Admission, req: ReqId) -> Self {
        Self {
            locks: AttrLocks::new(admission.held().locks.clone(), req),
            admission,
        }
    }

    pub(crate) fn held(&self) -> &Arc<Held> {
        self.admission.held()
    }

    pub(crate) fn locks(&mut self) -> &mut AttrLocks {
        &mut self.locks
    }
}

impl<C: Codec> NodeInner<C> {
    /// Ends a request on a held session: applies its changes to the near cache, then
    /// writes if the policy says so. True if the changes reached the store.
    pub(crate) async fn end_held(
        self: &Arc<Self>,
        request: HeldRequest,
        changes: Vec<(String, Option<Bytes>)>,
        rewrite: Rewrite,
        timeouts: Option<Expiry>,
    ) -> Result<bool, SessionError> {
        let held = request.held().clone();
        match held.phase() {
            Phase::Gone(GoneReason::Lost | GoneReason::InDoubt) => {
                return Err(SessionError::TenureLost)
            }
            Phase::Gone(GoneReason::Deleted) => return Err(SessionError::Gone),
            _ => {}
        }
        let wrote =
            !changes.is_empty() || !matches!(rewrite, Rewrite::Nothing) || timeouts.is_some();
        if wrote && held.phase() == Phase::Draining {
            // Recalled: the release commit carries these changes, one round trip
            // instead of two. Complete only once it has (I12).
            held.apply_checked(changes, &self.config.limits, &rewrite, timeouts)?;
            drop(request);
            held.gone().await;
            return match held.phase() {
                Phase::Gone(GoneReason::Released) => Ok(true),
                Phase::Gone(GoneReason::Deleted) => Err(SessionError::Gone),
                Phase::Gone(GoneReason::InDoubt) => Err(SessionError::OutcomeUnknown),
                _ => Err(SessionError::TenureLost),
            };
        }
        let policy = self.config.write_policy;
        let now = Instant::now();
        let pending = changes.len() + usize::from(wrote && changes.is_empty());
        // I9: never acknowledge a change into a copy whose lease may have lapsed:
        // write it now, and let the fence decide.
        let lapsed = (!held.lease_valid(now) || !self.alive(now)) && (wrote || held.is_dirty());
        if held.due_with(&policy, pending, now) || lapsed {
            held.check_fits(&changes, &self.config.limits)?;
            // I11: the request keeps its locks until its commit is done. The cache
            // takes the changes only once they are stored.
            self.flush_request(&held, changes, &rewrite, timeouts)
                .await?;
            return Ok(true);
        }
        held.apply_checked(changes, &self.config.limits, &rewrite, timeouts)?;
        if held.is_dirty() {
            self.arm_timer(&held);
        }
        Ok(false)
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
