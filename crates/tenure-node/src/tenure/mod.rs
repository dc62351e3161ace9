//! Exclusive-mode tenure: the sessions this node holds, how it gets them, keeps them
//! and gives them back.
//!
//! | file | what it does |
//! |---|---|
//! | this one | the tenure table: installing a grant, re-keying, dropping copies |
//! | [`held`] | one held session: tenure, near cache, state machine (its header) |
//! | [`acquire`] | admission of a request, single-flight `acquire`, queueing, grant hints |
//! | [`request`] | a request's store calls on a held session: create, end, rotate, delete |
//! | [`evict`] | keeping the table within `max_held`: LRU eviction in batches |
//! | [`release`] | flush (write) and release, the write-behind timer, shutdown |
//! | [`commit`] | one fenced commit, sent again until its outcome is known (I2a) |
//! | [`release_batch`] | giving back many unused sessions in one store call |
//! | [`renew`] | lease renewal, idle sweep, hints: the node's background tasks |
//! | [`liveness`] | the node's keep-alive at the store, and a new owner id after a lapse (I15) |
//! | [`remembered`] | copies of given-back sessions, so a takeover carries only what changed |

pub(crate) mod acquire;
pub(crate) mod commit;
pub(crate) mod evict;
pub(crate) mod held;
pub(crate) mod liveness;
pub(crate) mod release;
pub(crate) mod release_batch;
pub(crate) mod remembered;
pub(crate) mod renew;
pub(crate) mod request;

use std::sync::Arc;
use std::time::Duration;

use tenure_core::sync::lock;
use tenure_core::{Codec, OwnerId, SessionId, Snapshot};
use tenure_store::{Expiry, Fence};
use tokio::time::Instant;

use crate::inner::NodeInner;
use crate::stats::count;
use held::{Admission, GoneReason, Held, Phase};
use release::ReleaseReason;

/// What the store granted: from `acquire`, or from a `create` with tenure.
pub(crate) struct GrantOf {
    pub(crate) sid: SessionId,
    /// Who asked: the node's owner id when the call was sent.
    pub(crate) owner: OwnerId,
    pub(crate) fence: Fence,
    pub(crate) lease: Duration,
    pub(crate) snapshot: Snapshot,
    pub(crate) expiry: Expiry,
    /// The session's age at the store.
    pub(crate) age: Duration,
    /// When the granting call was sent (the lease runs from then, to be safe).
    pub(crate) sent: Instant,
}

impl<C: Codec> NodeInner<C> {
    /// The held copy for a grant, put in the table, with the granted request admitted
    /// (before the copy is in the table, so a release that starts at once, as at
    /// shutdown, drains it instead of turning it away). The one place a held copy is
    /// made.
    pub(crate) fn hold(self: &Arc<Self>, grant: GrantOf) -> Admission {
        count!(self.stats, grants);
        // Held here now: wherever this node last heard the session was is stale.
        self.locations.forget(&grant.sid);
        let until = self.lease_until(grant.sent, grant.lease);
        let created_at = grant.sent.checked_sub(grant.age).unwrap_or(grant.sent);
        let held = Arc::new(Held::new(
            grant.sid,
            grant.owner,
            grant.fence,
            until,
            grant.snapshot,
            grant.sent,
            grant.expiry,
            created_at,
        ));
        let admission = held.admit_granted(grant.sent);
        self.install(held);
        admission
    }

    pub(crate) fn held(&self, sid: &SessionId) -> Option<Arc<Held>> {
        lock(&self.table).get(sid).cloned()
    }

    /// Whether the node holds `sid` now (an active copy).
    pub(crate) fn holds(&self, sid: &SessionId) -> bool {
        self.held(sid).is_some_and(|h| h.phase() == Phase::Active)
    }

    pub(crate) fn all_held(&self) -> Vec<Arc<Held>> {
        lock(&self.table).values().cloned().collect()
    }

    /// Puts a newly held session in the table and keeps the table within `max_held`.
    /// A grant that lands after shutdown began is released at once (I14).
    fn install(self: &Arc<Self>, held: Arc<Held>) {
        let victims = {
            let mut table = lock(&self.table);
            table.insert(held.sid(), held.clone());
            self.victims(&table)
        };
        if self.is_shutting_down() {
            tokio::spawn(self.clone().release(held, ReleaseReason::Shutdown));
        }
        self.evict(victims);
    }

    /// Removes `held` from the table (if it is still the entry for its id).
    pub(crate) fn uninstall(&self, held: &Arc<Held>) {
        let mut table = lock(&self.table);
        let sid = held.sid();
        if table.get(&sid).is_some_and(|h| Arc::ptr_eq(h, held)) {
            table.remove(&sid);
        }
    }

    /// Re-keys a held session after `rotate_id`. A copy that is gone stays out.
    pub(crate) fn rekey(&self, old: &SessionId, held: &Arc<Held>) {
        // The old id names no session any more.
        self.remembered.forget(old);
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
        self.remembered.forget(&held.sid());
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
        self.remembered.forget(&held.sid());
        self.uninstall(held);
    }

    /// `held` was given back by a release commit that made session version
    /// `version`: remember the copy as the store has it now, for a later takeover.
    pub(crate) fn remember(&self, held: &Held, version: u64) {
        match held.released_copy(version) {
            Some(copy) => self.remembered.put(held.sid(), copy),
            // Something was left unwritten: no exact copy to name.
            None => self.remembered.forget(&held.sid()),
        }
    }
}
