//! Keeping the tenure table within `max_held`: least-recently-used eviction in
//! batches.
//!
//! Finding the least recently used idle sessions means looking at every entry of the
//! table (their last use changes on every request, and keeping them ordered would put
//! that cost on the hot path instead). Doing that scan on every grant beyond the bound
//! made a node that takes many new sessions (the cold path: visitors who come once)
//! spend most of its CPU there. So a scan picks a batch: the sessions over the bound
//! plus [`batch_slack`] more, and until those are gone, grants do not scan again.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tenure_core::{Codec, SessionId};

use crate::inner::NodeInner;
use crate::tenure::held::Held;
use crate::tenure::release::ReleaseReason;

/// How many sessions below `max_held` one scan frees room for: 1/32 of the bound, so
/// that a node at its bound scans once per that many grants, not on every one.
pub(crate) fn batch_slack(max_held: usize) -> usize {
    max_held / 32
}

/// The victims for a table of `table`'s size when `evicting` are already on their
/// way out: none while the table, less those, is within `max_held`; otherwise the
/// least recently used idle sessions, enough to bring it `batch_slack` below.
pub(crate) fn choose_victims(
    table: &HashMap<SessionId, Arc<Held>>,
    max_held: usize,
    evicting: usize,
) -> Vec<Arc<Held>> {
    let staying = table.len().saturating_sub(evicting);
    if staying <= max_held {
        return Vec::new();
    }
    let wanted = staying - max_held + batch_slack(max_held);
    let mut idle: Vec<_> = table
        .values()
        .filter_map(|h| h.evictable_since().map(|t| (t, h)))
        .collect();
    if idle.len() > wanted {
        idle.select_nth_unstable_by_key(wanted, |(t, _)| *t);
        idle.truncate(wanted);
    }
    idle.into_iter().map(|(_, h)| h.clone()).collect()
}

impl<C: Codec> NodeInner<C> {
    /// After a grant was put in `table`: chooses the sessions to evict, counted as
    /// on their way out until their release ends. Called under the table lock.
    pub(crate) fn victims(&self, table: &HashMap<SessionId, Arc<Held>>) -> Vec<Arc<Held>> {
        let evicting = self.evicting.load(Ordering::SeqCst);
        let victims = choose_victims(table, self.config.max_held, evicting);
        self.evicting.fetch_add(victims.len(), Ordering::SeqCst);
        victims
    }

    /// Releases the chosen victims together, in a task of its own.
    pub(crate) fn evict(self: &Arc<Self>, victims: Vec<Arc<Held>>) {
        if victims.is_empty() {
            return;
        }
        let node = self.clone();
        tokio::spawn(async move {
            let n = victims.len();
            // Each outcome is on its copy; the errors were logged.
            let _ = node
                .clone()
                .release_all(victims, ReleaseReason::Evict)
                .await;
            node.evicting.fetch_sub(n, Ordering::SeqCst);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::batch_slack;

    #[test]
    fn small_tables_evict_exactly_the_excess() {
        assert_eq!(batch_slack(2), 0);
        assert_eq!(batch_slack(31), 0);
        assert_eq!(batch_slack(10_000), 312);
    }
}
