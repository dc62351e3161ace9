//! Splitting a batch of sessions (renewals, releases) into script calls: by cluster
//! slot, since a script may touch keys of one slot only, and by `renew_batch`, so that
//! one call does not keep Redis busy for long. At most [`IN_FLIGHT`] calls of a batch
//! are under way at once: Redis runs the commands a connection has pipelined back to
//! back, so a node's thousands of renewals sent at once would hold every other
//! command (the requests' commits among them) behind them for tens of milliseconds.

use std::collections::BTreeMap;
use std::future::Future;

use futures::stream::{self, StreamExt};

use tenure_core::SessionId;

use crate::connection::RedisStore;

/// `items` with their indexes, split into one group per script call: per slot on a
/// cluster, at most `renew_batch` each.
pub(crate) fn groups<'a, T>(
    store: &RedisStore,
    items: &'a [T],
    sid: impl Fn(&T) -> &SessionId,
) -> Vec<Vec<(usize, &'a T)>> {
    let batch = store.config().renew_batch.max(1);
    let mut groups: BTreeMap<u16, Vec<Vec<(usize, &T)>>> = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        let slot = if store.is_clustered() {
            fred::util::redis_keyslot(store.keys(sid(item)).meta.as_bytes())
        } else {
            0
        };
        let group = groups.entry(slot).or_default();
        match group.last_mut() {
            Some(last) if last.len() < batch => last.push((i, item)),
            _ => group.push(vec![(i, item)]),
        }
    }
    groups.into_values().flatten().collect()
}

/// Script calls of one batch under way at once (see the module's header).
pub(crate) const IN_FLIGHT: usize = 2;

/// Runs `calls` with at most [`IN_FLIGHT`] under way, answering their results in
/// order.
pub(crate) async fn run<T>(calls: impl IntoIterator<Item = impl Future<Output = T>>) -> Vec<T> {
    stream::iter(calls).buffered(IN_FLIGHT).collect().await
}
