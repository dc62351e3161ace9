//! Renewal batching: a node renews every session it holds at once, in script calls
//! split as [`batch::groups`] does, sent together.

use std::time::Duration;

use fred::types::Value;
use tenure_core::OwnerId;
use tenure_store::{RenewOutcome, Renewal, StoreError};

use crate::args;
use crate::batch;
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
    let calls = batch::groups(store, items, |item| &item.sid)
        .into_iter()
        .map(|group| renew_group(store, owner, lease, group))
        .collect::<Vec<_>>();
    let mut outcomes = vec![RenewOutcome::Lost; items.len()];
    for result in batch::run(calls).await {
        for (i, outcome) in result? {
            outcomes[i] = outcome;
        }
    }
    Ok(outcomes)
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
