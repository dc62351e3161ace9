//! The node's liveness at the store (I15): one keep-alive per interval for the whole
//! node, so that a crashed node costs its liveness TTL (3 s by default), not the
//! leases of its sessions (30 s).
//!
//! The node serves from its copies only while its last successful keep-alive, counted
//! from when it was sent, is younger than [`NodeConfig::liveness_serving`]: a sixth
//! short of the TTL the store counts from when it received it. So by the time a
//! waiter finds the node's liveness gone and takes a session, the node has stopped
//! reading its copy; a node that was merely paused (`SIGSTOP`, a long GC, a
//! partition) confirms its liveness before it serves again, learns that it lapsed,
//! and goes on under a new owner id: the old one is dead for good at the store.
//!
//! [`NodeConfig::liveness_serving`]: crate::NodeConfig

use std::sync::{Arc, Weak};

use tenure_core::{Codec, OwnerId};
use tenure_store::{Liveness, StoreError};
use tokio::time::{Instant, MissedTickBehavior};

use crate::inner::NodeInner;
use crate::stats::count;
use crate::tenure::release::ReleaseReason;

impl<C: Codec> NodeInner<C> {
    /// Registers the node's first owner id (at start).
    pub(crate) async fn register(&self, owner: &OwnerId) -> Result<(), StoreError> {
        let sent = Instant::now();
        match self
            .store
            .keep_alive(owner, self.config.liveness_ttl, true)
            .await?
        {
            Liveness::Alive => {
                self.alive_since(sent);
                self.advertise(owner).await;
                Ok(())
            }
            _ => Err(StoreError::Protocol(
                "the store refused to register a fresh owner id".into(),
            )),
        }
    }

    /// Publishes where other nodes forward requests to this one, if it has an
    /// address. A failure only costs forwarding: other nodes then move sessions here
    /// instead of forwarding, as without an address.
    async fn advertise(&self, owner: &OwnerId) {
        let Some(address) = &self.config.advertise else {
            return;
        };
        let value = crate::route::advert(address, &self.forward_token);
        match self.store.advertise(owner, &value).await {
            Ok(Liveness::Alive) => {}
            Ok(_) => {
                tracing::warn!("could not advertise the forwarding address: the owner id lapsed")
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not advertise the forwarding address; other nodes will move sessions here instead of forwarding")
            }
        }
    }

    /// One keep-alive. Ok(true): alive; Ok(false): the liveness had lapsed, and the
    /// node now runs under a new id (or will try again on the next tick).
    pub(crate) async fn keep_alive(self: &Arc<Self>) -> Result<bool, StoreError> {
        let owner = self.owner();
        let sent = Instant::now();
        match self
            .store
            .keep_alive(&owner, self.config.liveness_ttl, false)
            .await?
        {
            Liveness::Alive => {
                if self.owner() == owner {
                    self.alive_since(sent);
                }
                Ok(true)
            }
            _ => {
                // The store saw this call before its reply came; if that is within the
                // TTL of the last keep-alive it took (less a sixth for clock drift),
                // the key should have been there: the store lost data (a restart
                // without persistence, a failover to a stale replica). A late call
                // (a stalled link) is a plain lapse.
                let replied = Instant::now();
                let ttl = self.config.liveness_ttl;
                let within = self
                    .alive_sent()
                    .is_some_and(|last| replied + ttl / 6 < last + ttl);
                if within && self.owner() == owner {
                    count!(self.stats, store_data_lost);
                    // A store that lost commits may reuse their versions for other
                    // values, so no remembered copy can be named safely any more.
                    self.remembered.clear();
                    tracing::error!(
                        owner = owner.as_str(),
                        "the store lost this node's liveness key before its TTL ran out: the store lost data; cached copies are dropped, not served"
                    );
                }
                self.reincarnate(&owner).await;
                Ok(false)
            }
        }
    }

    /// The store says `lapsed` is dead: stop serving, give back (write and release,
    /// fenced, under the old id) every copy held under it, and go on as a new owner.
    async fn reincarnate(self: &Arc<Self>, lapsed: &OwnerId) {
        let _one = self.reincarnating.lock().await;
        if self.owner() != *lapsed {
            return; // another caller did it
        }
        self.not_alive();
        count!(self.stats, liveness_lapses);
        tracing::warn!(
            owner = lapsed.as_str(),
            "this node's liveness lapsed at the store (it was paused, cut off, or the store lost data); its cached copies are dropped and it continues under a new owner id"
        );
        for held in self.all_held() {
            if held.owner() == *lapsed {
                self.spawn_release(held, ReleaseReason::Lapsed);
            }
        }
        let fresh = match OwnerId::generate(&self.config.label) {
            Ok(id) => id,
            Err(e) => {
                tracing::error!(error = %e, "could not make a new owner id; retrying on the next tick");
                return;
            }
        };
        let hints = match self.store.hints(&fresh).await {
            Ok(hints) => hints,
            Err(e) => {
                tracing::warn!(error = %e, "could not subscribe to hints under a new owner id; retrying on the next tick");
                return;
            }
        };
        if let Err(e) = self.register(&fresh).await {
            tracing::warn!(error = %e, "could not register a new owner id; retrying on the next tick");
            return;
        }
        self.set_owner(fresh);
        self.spawn_hint_listener(hints);
    }

    /// Before serving from a copy while the node's liveness is unconfirmed: confirm it
    /// with the store (one call), re-registering if it lapsed.
    pub(crate) async fn confirm_alive(self: &Arc<Self>) -> Result<(), StoreError> {
        self.keep_alive().await.map(|_| ())
    }
}

/// Every [`MAINTAIN_INTERVAL`](tenure_store::MAINTAIN_INTERVAL), one
/// [`Store::maintain`](tenure_store::Store::maintain): the store's upkeep (its expiry
/// pass), which some node must run so that sessions that expired untouched get their
/// events.
pub(crate) async fn maintain_loop<C: Codec>(node: Weak<NodeInner<C>>) {
    let period = tenure_store::MAINTAIN_INTERVAL;
    let mut ticker = tokio::time::interval_at(Instant::now() + period, period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(node) = node.upgrade() else { return };
        if let Err(e) = node.store.maintain().await {
            tracing::debug!(error = %e, "the store's upkeep failed; trying again later");
        }
    }
}

/// Every keep-alive interval, one [`NodeInner::keep_alive`].
pub(crate) async fn keep_alive_loop<C: Codec>(node: Weak<NodeInner<C>>) {
    let Some(period) = node.upgrade().map(|n| n.config.keep_alive_interval) else {
        return;
    };
    let mut ticker = tokio::time::interval_at(Instant::now() + period, period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(node) = node.upgrade() else { return };
        if let Err(e) = node.keep_alive().await {
            tracing::warn!(error = %e, "keep-alive failed");
        }
    }
}
