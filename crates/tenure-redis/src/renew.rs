//! Renewal batching: a node renews every session it holds at once, so the batch is
//! split into script calls by cluster slot (a script may touch only one slot) and by
//! `renew_batch` (one call must not keep Redis busy for long), and the calls are sent
//! together.

use std::collections::BTreeMap;
use std::time::Duration;

use fred::types::Value;
use tenure_core::OwnerId;
use tenure_store::{RenewOutcome, Renewal, StoreError};

use crate::args;
use crate::connection::RedisStore;
use crate::reply::bad;
use crate::scripts::BatchKeys;

/// Renews `items` for `owner`, answering one outcome per item, in order.
pub(crate) async fn renew(
    store: &RedisStore,
    owner: &OwnerId,
    lease: Duration,
    items: &[Renewal],
) -> Result<Vec<RenewOutcome>, StoreError> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    // All calls are sent at once, so the client pipelines them: one round trip per
    // server.
    let calls = groups(store, items)
        .into_iter()
        .map(|group| renew_group(store, owner, lease, group));
    let mut outcomes = vec![RenewOutcome::Lost; items.len()];
    for result in futures::future::join_all(calls).await {
        for (i, outcome) in result? {
            outcomes[i] = outcome;
        }
    }
    Ok(outcomes)
}

/// `items` with their indexes, split into one group per script call: per slot on a
/// cluster, at most `renew_batch` each.
fn groups<'a>(store: &RedisStore, items: &'a [Renewal]) -> Vec<Vec<(usize, &'a Renewal)>> {
    let batch = store.config().renew_batch;
    let mut groups: BTreeMap<u16, Vec<Vec<(usize, &Renewal)>>> = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        let slot = if store.is_clustered() {
            fred::util::redis_keyslot(store.keys(&item.sid).meta.as_bytes())
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

/// One script call: the outcomes of `items`, by their indexes.
async fn renew_group(
    store: &RedisStore,
    owner: &OwnerId,
    lease: Duration,
    items: Vec<(usize, &Renewal)>,
) -> Result<Vec<(usize, RenewOutcome)>, StoreError> {
    let mut keys = BatchKeys::with_capacity(items.len());
    let mut argv = args::renew(owner, lease, items.len());
    for (_, item) in &items {
        keys.push(&store.keys(&item.sid));
        args::push_renewal(&mut argv, item);
    }
    let value = store
        .scripts()
        .renew
        .call(store.client(), keys, argv)
        .await?;
    let Value::Array(codes) = value else {
        return Err(bad("renew", "expected an array"));
    };
    if codes.len() != items.len() {
        return Err(bad("renew", "one outcome per session expected"));
    }
    items
        .iter()
        .zip(codes)
        .map(|((i, _), code)| {
            let outcome = match code {
                Value::Integer(0) => RenewOutcome::Lost,
                Value::Integer(1) => RenewOutcome::Renewed { recall: false },
                Value::Integer(2) => RenewOutcome::Renewed { recall: true },
                other => return Err(bad("renew", &format!("unknown outcome {other:?}"))),
            };
            Ok((*i, outcome))
        })
        .collect()
}
