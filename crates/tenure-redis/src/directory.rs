//! The principal index on a Redis Cluster (issue 15), where a principal's sessions
//! live in many slots. `scripts/index.lua` describes the layout: a shard of the index
//! per principal and slot, kept by the sessions' own scripts as on one server, and per
//! principal a directory of the slots that may hold its shards (`scripts/directory.lua`),
//! each with a horizon past which that shard holds no entry.
//!
//! What is atomic and what is repaired:
//! - A session's entry changes in the script that changes the session (same slot).
//! - The directory is written before that script ([`register`]): a crash in between
//!   leaves a slot in the directory with no entry, which a listing reads as empty and
//!   [`trim`s](trim_empty) once no session of the slot was given the principal within
//!   `directory_guard`; never an entry whose slot the directory lacks.
//! - A shard records the horizon its directory field was given after the directory
//!   call, so the shard's is never the later one. Where an entry's score comes within
//!   an hour of it, the script asks (the slot key) and the slot pass (every
//!   `maintain`, `slots.rs`) moves the directory's horizon on, then the shard's; a
//!   crash between the two leaves the ask in place, and the next pass does it again.
//! - A directory field whose horizon has passed names a shard with no live entry, and
//!   goes unread; the directory's TTL is its highest horizon, so the directory of a
//!   principal nobody lists goes by itself.

use std::time::Duration;

use fred::types::Value;
use futures::stream::{self, StreamExt};
use tenure_core::{Change, Delta, SessionId, Snapshot, PRINCIPAL_ATTR};
use tenure_store::{PrincipalSession, StoreError, PRUNE_PER_CALL};

use crate::connection::RedisStore;
use crate::keys::{directory, index_shard, slot_key};
use crate::principals::list;
use crate::reply::{bad, Reply};
use crate::scripts::{DirectoryKeys, ShardKeys};

/// How far past now a slot's horizon is set (2 h): the slot pass has an hour between
/// an entry's ask and the horizon's end (`HORIZON_MARGIN` in `index.lua`).
pub(crate) const HORIZON_AHEAD: Duration = Duration::from_secs(2 * 3600);

/// `HORIZON_MARGIN` of `index.lua`.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) const HORIZON_MARGIN: Duration = Duration::from_secs(3600);

/// Slot scripts of one listing under way at once.
const IN_FLIGHT: usize = 16;

fn principal_value(bytes: &[u8]) -> Option<&[u8]> {
    (!bytes.is_empty()).then_some(bytes)
}

/// The principal a delta gives its session, if it sets one.
fn principal_in_delta(delta: &Delta) -> Option<&[u8]> {
    let op = delta
        .ops
        .iter()
        .rev()
        .find(|op| op.name == PRINCIPAL_ATTR)?;
    match &op.change {
        Change::Set(bytes) => principal_value(bytes),
        Change::Patch { value, .. } => principal_value(value),
        Change::Remove => None,
    }
}

/// Registers the principal a commit of `delta` may give `sid`, on a cluster.
pub(crate) async fn before_commit(
    store: &RedisStore,
    sid: &SessionId,
    delta: &Delta,
) -> Result<(), StoreError> {
    match principal_in_delta(delta) {
        Some(p) if store.is_clustered() => register(store, sid, p).await,
        _ => Ok(()),
    }
}

/// Registers the principal among a new session's attributes, on a cluster.
pub(crate) async fn before_create(
    store: &RedisStore,
    sid: &SessionId,
    attrs: &[(String, tenure_core::Bytes)],
) -> Result<(), StoreError> {
    let p = attrs
        .iter()
        .rev()
        .find(|(name, _)| name == PRINCIPAL_ATTR)
        .and_then(|(_, v)| principal_value(v));
    match p {
        Some(p) if store.is_clustered() => register(store, sid, p).await,
        _ => Ok(()),
    }
}

/// Registers the principal a rotation carries to `new`, on a cluster.
pub(crate) async fn before_rotation(
    store: &RedisStore,
    new: &SessionId,
    snapshot: &Snapshot,
) -> Result<(), StoreError> {
    let p = snapshot
        .attrs
        .get(PRINCIPAL_ATTR)
        .and_then(|e| principal_value(&e.value));
    match p {
        Some(p) if store.is_clustered() => register(store, new, p).await,
        _ => Ok(()),
    }
}

/// Puts the slot of `sid` in `principal`'s directory, then records the horizon in the
/// shard: run before the script that gives `sid` the principal.
pub(crate) async fn register(
    store: &RedisStore,
    sid: &SessionId,
    principal: &[u8],
) -> Result<(), StoreError> {
    let tag = store.keys(sid).slot_tag();
    let horizon = give_horizon(store, principal, tag, "0", true).await?;
    record(store, principal, tag, horizon).await.map(|_| ())
}

/// The directory step: answers the field's horizon.
async fn give_horizon(
    store: &RedisStore,
    principal: &[u8],
    tag: &str,
    least: &str,
    added: bool,
) -> Result<String, StoreError> {
    let args = vec![
        Value::from(store.prefix()),
        Value::Bytes(principal.to_vec().into()),
        Value::from(tag),
        Value::from(HORIZON_AHEAD.as_millis() as i64),
        Value::from(least),
        Value::from(i64::from(added)),
    ];
    let key = DirectoryKeys(directory(store.prefix(), principal));
    let mut reply = store
        .scripts()
        .register
        .run(store.client(), key, args)
        .await?;
    reply.text("horizon")
}

/// The shard step: answers true if the slot's ask for `principal` is answered.
async fn record(
    store: &RedisStore,
    principal: &[u8],
    tag: &str,
    horizon: String,
) -> Result<bool, StoreError> {
    let keys = ShardKeys {
        shard: index_shard(store.prefix(), tag, principal),
        slot: slot_key(store.prefix(), tag),
    };
    let args = vec![
        Value::from(store.prefix()),
        Value::Bytes(principal.to_vec().into()),
        Value::from(horizon),
    ];
    let reply = store
        .scripts()
        .record
        .call(store.client(), keys, args)
        .await?;
    Ok(matches!(reply, Value::Integer(1)))
}

/// `Store::sessions_of` on a cluster: the directory, then each listed slot's shard,
/// then the slots found empty trimmed.
pub(crate) async fn sessions_of(
    store: &RedisStore,
    principal: &str,
    label: Option<&str>,
) -> Result<Vec<PrincipalSession>, StoreError> {
    let p = principal.as_bytes();
    if p.is_empty() {
        // No session has the empty principal (it is no principal), as on one server.
        return Ok(Vec::new());
    }
    let dir = directory(store.prefix(), p);
    let args = vec![
        Value::from(store.prefix()),
        Value::from(principal),
        Value::from(PRUNE_PER_CALL as i64),
    ];
    let mut reply = store
        .scripts()
        .slots_of
        .run(store.client(), DirectoryKeys(dir.clone()), args)
        .await?;
    reply.int("now")?;
    let tags = reply.texts("slot tag")?;
    let calls: Vec<_> = tags
        .iter()
        .map(|tag| {
            let shard = index_shard(store.prefix(), tag, p);
            list(store, shard, principal, label, tag)
        })
        .collect();
    let listings: Vec<_> = stream::iter(calls).buffered(IN_FLIGHT).collect().await;
    let mut out = Vec::new();
    let mut empty = Vec::new();
    for (tag, listing) in tags.iter().zip(listings) {
        // Only a shard with no entry left is trimmed: an entry the listing left out
        // (its session unreadable, as in a slot migration) keeps its slot.
        let (listing, no_entry) = listing?;
        if no_entry {
            empty.push(tag.as_str());
        }
        out.extend(listing);
    }
    trim_empty(store, &dir, principal, &empty).await?;
    Ok(out)
}

/// Takes the slots a listing found empty out of the directory, but those a session was
/// given the principal in within `directory_guard`.
async fn trim_empty(
    store: &RedisStore,
    dir: &str,
    principal: &str,
    tags: &[&str],
) -> Result<(), StoreError> {
    if tags.is_empty() {
        return Ok(());
    }
    let mut args = vec![
        Value::from(store.prefix()),
        Value::from(principal),
        Value::from(store.config().directory_guard.as_millis() as i64),
    ];
    args.extend(tags.iter().map(|t| Value::from(*t)));
    store
        .scripts()
        .trim
        .call(store.client(), DirectoryKeys(dir.to_string()), args)
        .await
        .map(|_| ())
}

/// Answers the asks a slot pass found in the slot tagged `tag` (`slot_pass.lua`'s
/// reply, from its asks count on): per principal the directory's horizon moved on past
/// the shard's top score, then the shard's.
pub(crate) async fn answer_asks(
    store: &RedisStore,
    tag: &str,
    reply: &mut Reply,
) -> Result<(), StoreError> {
    let asks = reply.int("asks count")?;
    for _ in 0..asks {
        let principal = reply.bytes("principal")?;
        let top = reply.text("top score")?;
        let least = match top.as_str() {
            "inf" | "+inf" => "inf".to_string(),
            ms => {
                let ms: f64 = ms
                    .parse()
                    .map_err(|_| bad("slot_pass", &format!("bad score {ms:?}")))?;
                format!("{:.0}", ms + HORIZON_AHEAD.as_millis() as f64)
            }
        };
        let horizon = give_horizon(store, &principal, tag, &least, false).await?;
        record(store, &principal, tag, horizon).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_margin_is_index_luas_and_under_the_horizon() {
        let lua = include_str!("scripts/index.lua");
        let line = format!("local HORIZON_MARGIN = {}", HORIZON_MARGIN.as_millis());
        assert!(lua.contains(&line), "index.lua must say {line:?}");
        // The slot pass needs time between an ask and the horizon's end.
        assert!(HORIZON_AHEAD >= 2 * HORIZON_MARGIN);
    }

    #[test]
    fn a_delta_gives_the_principal_it_sets_last() {
        let mut delta = Delta::default();
        assert_eq!(principal_in_delta(&delta), None);
        delta.set("cart", tenure_core::Bytes::from_static(b"x"));
        delta.set(PRINCIPAL_ATTR, tenure_core::Bytes::from_static(b"ada"));
        assert_eq!(principal_in_delta(&delta), Some(&b"ada"[..]));
        delta.remove(PRINCIPAL_ATTR);
        assert_eq!(principal_in_delta(&delta), None);
        delta.set(PRINCIPAL_ATTR, tenure_core::Bytes::new());
        assert_eq!(
            principal_in_delta(&delta),
            None,
            "an empty value is no principal"
        );
    }
}
