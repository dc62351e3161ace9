//! The node's background tasks. Both hold only a weak reference to the node between
//! steps, so dropping every `Node` handle ends them.

use std::sync::{Arc, Weak};

use tenure_core::Codec;
use tenure_store::{Hint, HintReceiver, Renewal};
use tokio::time::{Instant, MissedTickBehavior};

use crate::node::{NodeInner, ReleaseReason};

/// Acts on pushed hints. Hints only speed things up: renewals carry recalls and
/// queued acquisitions poll, so a lost hint costs latency, never correctness.
pub(crate) async fn listen_hints<C: Codec>(node: Weak<NodeInner<C>>, mut hints: HintReceiver) {
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
                tokio::spawn(async move { tick(&node).await });
            }
            _ => {}
        }
    }
}

/// Every renew interval: renews all held sessions in one store call (the guaranteed
/// recall path), drops lost ones, and releases idle ones.
pub(crate) async fn renew_and_sweep<C: Codec>(node: Weak<NodeInner<C>>) {
    let Some(period) = node.upgrade().map(|n| n.config.renew_interval) else {
        return;
    };
    let mut ticker = tokio::time::interval_at(Instant::now() + period, period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(node) = node.upgrade() else { return };
        tick(&node).await;
    }
}

async fn tick<C: Codec>(node: &Arc<NodeInner<C>>) {
    let held = node.all_held();
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
        match node
            .store
            .renew(&node.owner, node.config.lease, &items)
            .await
        {
            Ok(outcomes) => {
                let mut outcomes = outcomes.into_iter();
                for (h, item) in held.iter().zip(&items) {
                    node.apply_renewal(h, item, outcomes.next(), sent);
                }
            }
            Err(e) => tracing::warn!(error = %e, sessions = items.len(), "lease renewal failed"),
        }
    }
    let now = Instant::now();
    for h in node.all_held() {
        if h.expired(now) {
            node.expire(&h);
        } else if h.idle_for(node.config.idle_release, now) {
            node.spawn_release(h, ReleaseReason::Idle);
        }
    }
}
