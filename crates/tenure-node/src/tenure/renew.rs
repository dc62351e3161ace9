//! Keeping tenures: lease renewal, the idle sweep and hints. These are the node's
//! background tasks; both hold only a weak reference to the node between steps, so
//! dropping every `Node` handle ends them.

use std::sync::{Arc, Weak};

use tenure_core::Codec;
use tenure_store::{Hint, HintReceiver, RenewOutcome, Renewal};
use tokio::time::{Instant, MissedTickBehavior};

use crate::inner::NodeInner;
use crate::tenure::held::{Held, Phase};
use crate::tenure::liveness::{keep_alive_loop, maintain_loop};
use crate::tenure::release::ReleaseReason;
use crate::SessionError;

impl<C: Codec> NodeInner<C> {
    /// Starts the hint listener and the renewal tick.
    pub(crate) fn spawn_background(self: &Arc<Self>, hints: HintReceiver) {
        let tasks = vec![
            tokio::spawn(listen_hints(Arc::downgrade(self), hints)),
            tokio::spawn(renew_and_sweep(Arc::downgrade(self))),
            tokio::spawn(keep_alive_loop(Arc::downgrade(self))),
            tokio::spawn(maintain_loop(Arc::downgrade(self))),
        ];
        *tenure_core::sync::lock(&self.tasks) = tasks;
    }

    /// Listens to the hints of a new owner id (after a lapse, I15). The old id's
    /// listener stays: hints for copies still being given back may arrive there.
    pub(crate) fn spawn_hint_listener(self: &Arc<Self>, hints: HintReceiver) {
        let task = tokio::spawn(listen_hints(Arc::downgrade(self), hints));
        tenure_core::sync::lock(&self.tasks).push(task);
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
            .renew(
                &held.owner(),
                self.config.lease,
                std::slice::from_ref(&item),
            )
            .await?;
        Ok(self.apply_renewal(held, &item, outcomes.first().copied(), sent))
    }

    /// Applies one renewal outcome. True if the session is still held.
    ///
    /// I13: a renewal only speaks for the tenure it named: if the session was rotated
    /// (new id, new fence) or released since, its answer is ignored. And while a fenced
    /// call is under way for the session (a commit, a release, a rotation), that
    /// call's own reply decides: a `Lost` sent before it cannot tell whether the call
    /// applied, and acting on it would report "nothing applied" for a change that was.
    fn apply_renewal(
        self: &Arc<Self>,
        held: &Arc<Held>,
        item: &Renewal,
        outcome: Option<RenewOutcome>,
        sent: Instant,
    ) -> bool {
        if matches!(held.phase(), Phase::Gone(_)) {
            return false;
        }
        if held.sid() != item.sid || held.fence() != item.fence {
            return true;
        }
        match outcome {
            // A successful renewal is true whatever a fenced call under way does (it
            // cannot change the fence without changing what was compared above):
            // apply it even while commits run back to back, or a hot session's local
            // lease would lapse and every request would confirm it with the store.
            Some(RenewOutcome::Renewed { recall }) => {
                held.set_lease_until(self.lease_until(sent, self.config.lease));
                if recall {
                    self.spawn_release(held.clone(), ReleaseReason::Recall);
                }
                true
            }
            _ => {
                // I13: while a fenced call is under way, its own reply decides.
                let Ok(_serial) = held.flush_lock.try_lock() else {
                    return true;
                };
                if held.sid() != item.sid || held.fence() != item.fence {
                    return true;
                }
                self.lose(held);
                false
            }
        }
    }

    /// The cold path: while the node holds more than [`COLD_ABOVE`] sessions, one that
    /// served fewer than [`FEW_USES`] requests and none for [`COLD_IDLE`] is released
    /// at this tick, not after `idle_release`.
    /// Sessions used once or twice (a visitor who never comes back, a health check
    /// with a cookie) would otherwise be renewed, and fill the table, for 30 s; a
    /// busy session keeps its `idle_release`. Getting one back costs one `acquire`
    /// (of only what changed, if the node still remembers the copy).
    fn cold(&self, held: &Held, now: Instant, holding: usize) -> bool {
        let idle = COLD_IDLE
            .min(self.config.renew_interval)
            .min(self.config.idle_release);
        holding > COLD_ABOVE
            && held.uses() < FEW_USES
            && held.idle_for(idle, now)
            && !held.in_doubt()
    }

    /// One renewal tick: renews all held sessions in one store call (the guaranteed
    /// recall path, I4), drops lost ones, and releases idle and expired ones.
    async fn tick(self: &Arc<Self>) {
        // Copies granted under an earlier owner id (before a lapse, I15) are given
        // back (also one whose grant landed after the node re-registered); only the
        // current id's are renewed, in one call. A copy whose release keeps failing is
        // not renewed either, so that its lease, not the failures, ends it.
        let owner = self.owner();
        let mut held = Vec::new();
        let now = Instant::now();
        let all = self.all_held();
        let holding = all.len();
        let mut idle = Vec::new();
        for h in all {
            if h.owner() != owner {
                self.spawn_release(h, ReleaseReason::Lapsed);
            } else if self.cold(&h, now, holding) {
                // Given back instead of renewed: it would only be renewed again.
                idle.push(h);
            } else if !h.release_failing() {
                held.push(h);
            }
        }
        if !held.is_empty() {
            let items: Vec<Renewal> = held
                .iter()
                .map(|h| Renewal {
                    sid: h.sid(),
                    fence: h.fence(),
                    touch: h.take_touched(),
                })
                .collect();
            let sent = Instant::now();
            match self.store.renew(&owner, self.config.lease, &items).await {
                Ok(outcomes) => {
                    let mut outcomes = outcomes.into_iter();
                    for (h, item) in held.iter().zip(&items) {
                        self.apply_renewal(h, item, outcomes.next(), sent);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, sessions = items.len(), "lease renewal failed");
                }
            }
        }
        let now = Instant::now();
        for h in self.all_held() {
            if h.in_doubt() {
                // Learn the outcome of a commit in doubt as soon as the store answers,
                // rather than at the session's next request.
                let node = self.clone();
                tokio::spawn(async move {
                    if let Err(e) = node.resolve_doubt_now(&h).await {
                        tracing::debug!(session = h.sid().prefix(), error = %e, "commit still in doubt");
                    }
                });
                continue;
            }
            if h.expired(now) {
                self.expire(&h);
            } else if h.idle_for(self.config.idle_release, now) {
                idle.push(h);
            }
        }
        // Together, in one store call for those with nothing to write.
        self.spawn_release_all(idle, ReleaseReason::Idle);
    }
}

/// Below this many requests since its grant, an idle session is cold (see `cold`).
const FEW_USES: u64 = 4;
/// How long a session with few uses must have been unused to be cold. Short, so that
/// a session used once is given back at the first tick after its visit rather than
/// renewed first (a renewal costs the store about what the release does); a visitor
/// who comes back after it pays one `acquire`.
const COLD_IDLE: std::time::Duration = std::time::Duration::from_secs(1);
/// The cold path applies while the node holds more sessions than this: a node with
/// few keeps each for `idle_release`, as configured.
const COLD_ABOVE: usize = 1_000;

/// Acts on pushed hints. Hints only speed things up: renewals carry recalls and
/// queued acquisitions poll, so a lost hint costs latency, never correctness.
async fn listen_hints<C: Codec>(node: Weak<NodeInner<C>>, mut hints: HintReceiver) {
    while let Some(hint) = hints.recv().await {
        let Some(node) = node.upgrade() else { return };
        match hint {
            Hint::Recall(sid) => {
                if let Some(held) = node.held(&sid) {
                    node.spawn_release(held, ReleaseReason::Recall);
                }
            }
            Hint::Grant(sid) => node.grant_hint(&sid),
            Hint::Resync => {
                node.wake_all_waiters();
                let node = node.clone();
                tokio::spawn(async move { node.tick().await });
            }
            _ => {}
        }
    }
}

/// Every renew interval, one [`NodeInner::tick`].
async fn renew_and_sweep<C: Codec>(node: Weak<NodeInner<C>>) {
    let Some(period) = node.upgrade().map(|n| n.config.renew_interval) else {
        return;
    };
    let mut ticker = tokio::time::interval_at(Instant::now() + period, period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(node) = node.upgrade() else { return };
        node.tick().await;
    }
}
