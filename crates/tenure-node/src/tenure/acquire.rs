//! Admitting a request to a held session, acquiring the session from the store first
//! if this node does not hold it.
//!
//! One request per session per node asks the store (single flight); the others wait
//! for it and then find the session in the table. A queued acquisition waits for a
//! grant hint or polls, keeping its place at the store (a waiter that falls silent is
//! purged as dead, so a crashed waiter cannot hold up a released session).
//!
//! A session this node gave back earlier is asked for with the copy it remembers
//! (`acquire_since`), so the grant carries only what changed since; the node merges it
//! with the copy into the whole session.

use std::sync::Arc;
use std::time::Duration;

use tenure_core::sync::lock;
use tenure_core::{Codec, OwnerId, SessionId};
use tenure_store::{AcquireReply, Grant, Known, StoreError};
use tokio::time::Instant;

use crate::inner::{deadline_after, NodeInner};
use crate::stats::count;
use crate::tenure::held::{Admission, Phase};
use crate::tenure::release::ReleaseReason;
use crate::tenure::GrantOf;
use crate::SessionError;

impl<C: Codec> NodeInner<C> {
    /// Admits a request to the held session `sid` only if this node holds it (an
    /// active copy): `None` otherwise, without asking the store for it. For a request
    /// forwarded here (I19).
    pub(crate) async fn admit_held(
        self: &Arc<Self>,
        sid: &SessionId,
    ) -> Result<Option<Admission>, SessionError> {
        if !self.holds(sid) {
            return Ok(None);
        }
        self.admit_from(sid, false).await
    }

    /// Admits a request to the held session `sid`, acquiring it from the store if the
    /// node does not hold it. `None`: the store has no such session.
    pub(crate) async fn admit(
        self: &Arc<Self>,
        sid: &SessionId,
    ) -> Result<Option<Admission>, SessionError> {
        self.admit_from(sid, true).await
    }

    /// [`admit`](Self::admit); with `acquire` false, a copy that is not held (or
    /// leaves meanwhile) answers `None` instead of an `acquire`.
    async fn admit_from(
        self: &Arc<Self>,
        sid: &SessionId,
        acquire: bool,
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
                    if held.in_doubt() {
                        // The store may hold changes this copy lacks: learn the
                        // outcome of the commit in doubt before serving anything.
                        self.resolve_doubt_now(&held).await?;
                        if matches!(held.phase(), Phase::Gone(_)) {
                            drop(admission);
                            continue;
                        }
                    }
                    if !self.alive(now) {
                        // I15: the node's own liveness is unconfirmed (keep-alives
                        // failing, or the node was paused): another node may have
                        // taken the session. Confirm it, or learn of the lapse and
                        // give the copies back, before serving anything.
                        drop(admission);
                        self.confirm_alive().await?;
                        continue;
                    }
                    if held.owner() != self.owner() {
                        // Granted under an owner id that has since lapsed (the grant
                        // landed after the node re-registered): give it back.
                        drop(admission);
                        self.spawn_release(held.clone(), ReleaseReason::Lapsed);
                        if tokio::time::timeout_at(deadline, held.gone())
                            .await
                            .is_err()
                        {
                            return Err(
                                self.acquire_timeout(sid, "this node's release did not finish")
                            );
                        }
                        continue;
                    }
                    if held.lease_valid(now) {
                        count!(self.stats, cache_hits);
                        return Ok(Some(admission));
                    }
                    // The lease may have lapsed (renewals failing): confirm with the
                    // store before serving anything from the cache (I9). If this
                    // request is cancelled meanwhile, the admission leaves on drop (I14).
                    if self.confirm_lease(&held).await? {
                        return Ok(Some(admission));
                    }
                    continue;
                }
                if !acquire {
                    return Ok(None);
                }
                // Draining (I7): wait until it is gone, then queue at the store behind
                // the node that recalled it.
                if tokio::time::timeout_at(deadline, held.gone())
                    .await
                    .is_err()
                {
                    return Err(self.acquire_timeout(sid, "this node's release did not finish"));
                }
                continue;
            }
            if !acquire {
                return Ok(None);
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
        // Taken once for the whole wait: a partial grant is merged with the very copy
        // its `Known` was made of, whatever happens to the memory meanwhile.
        let mut copy = self.remembered.get(sid);
        let mut known = copy.as_ref().map(Known::of);
        let result = loop {
            let sent = Instant::now();
            let owner = self.owner();
            let (lease, wait) = (self.config.lease, self.config.queue_wait());
            let reply = match &known {
                Some(known) => {
                    self.store
                        .acquire_since(sid, &owner, lease, wait, known)
                        .await
                }
                None => self.store.acquire(sid, &owner, lease, wait).await,
            };
            let grant = match reply? {
                AcquireReply::Granted(grant) => {
                    count!(self.stats, grant_bytes, grant.snapshot.size_bytes() as u64);
                    grant
                }
                AcquireReply::Partial(partial) => {
                    let Some(held_copy) = &copy else {
                        // Only `acquire_since` answers this, and it was not called.
                        break Err(StoreError::Protocol(
                            "a partial grant for an acquire that named no copy".into(),
                        )
                        .into());
                    };
                    count!(self.stats, partial_grants);
                    let patch_bytes: usize = partial
                        .patched
                        .iter()
                        .flat_map(|p| &p.patches)
                        .map(|p| p.len())
                        .sum();
                    count!(
                        self.stats,
                        grant_bytes,
                        (partial.grant.snapshot.size_bytes() + patch_bytes) as u64
                    );
                    match partial.merge(held_copy.clone()) {
                        Ok(grant) => grant,
                        Err(e) => {
                            // Held now: asking again without the copy answers the
                            // whole session at once, with the same fence.
                            tracing::warn!(session = sid.prefix(), error = %e, "partial grant does not merge; asking for the whole session");
                            (copy, known) = (None, None);
                            continue;
                        }
                    }
                }
                AcquireReply::NotFound => {
                    // The id names no session now: a copy of it names nothing either.
                    self.remembered.forget(sid);
                    break Ok(None);
                }
                AcquireReply::Queued { retry_after, .. } => {
                    tracing::debug!(session = sid.prefix(), "acquire queued");
                    count!(self.stats, queued);
                    if self.is_shutting_down() {
                        break Err(SessionError::ShuttingDown);
                    }
                    let now = Instant::now();
                    if now >= deadline {
                        break Err(self.acquire_timeout(sid, "another node holds the session"));
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
                    continue;
                }
                _ => break Err(StoreError::Protocol("unknown acquire reply".into()).into()),
            };
            break Ok(Some(self.install_grant(sid, owner, grant, sent)));
        };
        lock(&self.grant_waiters).remove(sid);
        result
    }

    /// A grant received: the remembered copy it replaces is no longer needed (the
    /// next release leaves a newer one), and the held copy is made.
    fn install_grant(
        self: &Arc<Self>,
        sid: &SessionId,
        owner: OwnerId,
        grant: Grant,
        sent: Instant,
    ) -> Admission {
        self.remembered.forget(sid);
        self.hold(GrantOf {
            sid: sid.clone(),
            owner,
            fence: grant.fence,
            lease: grant.lease,
            snapshot: grant.snapshot,
            expiry: grant.expiry,
            age: grant.age,
            sent,
        })
    }

    /// The error for a wait that ran out, logged with its cause (a waiter that gives
    /// up is worth an operator's look: a holder may be stuck or dead).
    fn acquire_timeout(&self, sid: &SessionId, why: &'static str) -> SessionError {
        let waited = self.config.acquire_timeout;
        tracing::warn!(
            session = sid.prefix(),
            waited = ?waited,
            "gave up waiting for a session's tenure: {why} and did not give it up in time"
        );
        SessionError::AcquireTimeout(waited)
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
