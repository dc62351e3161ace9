//! Giving back many sessions in one round trip ([`Store::release_many`]): the same
//! step as a commit with nothing to write and `release` set, for each session, in
//! script calls split as [`batch::groups`] does.
//!
//! [`Store::release_many`]: tenure_store::Store::release_many

use tenure_core::{Delta, OwnerId};
use tenure_store::{CommitReply, Release, StoreError};

use crate::args;
use crate::batch;
use crate::connection::RedisStore;
use crate::reply::bad;
use crate::scripts::BatchKeys;

/// One answer per item, in order.
pub(crate) async fn release_many(
    store: &RedisStore,
    owner: &OwnerId,
    items: &[Release],
) -> Result<Vec<Result<CommitReply, StoreError>>, StoreError> {
    let calls = batch::groups(store, items, |item| &item.sid)
        .into_iter()
        .map(|group| release_group(store, owner, group))
        .collect::<Vec<_>>();
    let mut out: Vec<Result<CommitReply, StoreError>> = items
        .iter()
        .map(|_| Err(StoreError::Protocol("release not answered".into())))
        .collect();
    for result in batch::run(calls).await {
        for (i, reply) in result? {
            out[i] = reply;
        }
    }
    Ok(out)
}

/// One script call: the answers for `items`, by their indexes.
async fn release_group(
    store: &RedisStore,
    owner: &OwnerId,
    items: Vec<(usize, &Release)>,
) -> Result<Vec<(usize, Result<CommitReply, StoreError>)>, StoreError> {
    let mut keys = BatchKeys::with_capacity(items.len());
    let mut argv = args::release(owner, items.len());
    for (_, item) in &items {
        keys.push(&store.keys(&item.sid));
        args::push_release(&mut argv, item);
    }
    let mut reply = store
        .scripts()
        .release
        .run(store.client(), keys, argv)
        .await?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items {
        let answer = match reply.text("status")?.as_str() {
            "S" => Ok(CommitReply::Stale {
                delta: Delta::default(),
            }),
            "A" => Ok(CommitReply::AlreadyApplied {
                version: reply.int("version")?,
            }),
            "C" => {
                if let Some((to, hint)) = reply.hint(&item.sid)? {
                    store.send_hint(&to, &hint);
                }
                Ok(CommitReply::Committed {
                    version: reply.int("version")?,
                })
            }
            "X" => Err(bad("release", "the session's stored state does not parse")),
            other => return Err(bad("release", &format!("unknown status {other:?}"))),
        };
        out.push((i, answer));
    }
    if !reply.is_empty() {
        return Err(bad("release", "more answers than sessions"));
    }
    Ok(out)
}
