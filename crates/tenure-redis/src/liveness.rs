//! Owner liveness (I15): one key per node, `<prefix>:live:{<owner>}`, set with a TTL
//! and refreshed once per tick however many sessions the node holds. A crashed node's
//! key runs out after the TTL, and a waiter that finds it gone may take the node's
//! sessions at once instead of waiting out their leases.
//!
//! The key's value is `1`, or `@` and the address the owner advertised
//! (`Store::advertise`), which `locate` reads back; extending the TTL (`PEXPIRE`)
//! keeps it.
//!
//! Why it is safe to act on a key being gone, read outside the script that takes the
//! lock (the key sits in another cluster slot than the session, so one script cannot
//! read both): the key is refreshed only with `SET … XX`, which never re-creates it,
//! and created once with `SET … NX` before the owner's first grant. So once gone it
//! stays gone, and the owner, which stops serving from its copies before its TTL can
//! run out, has stopped by then.

use std::time::Duration;

use fred::interfaces::KeysInterface;
use fred::types::{Expiration, SetOptions, Value};
use tenure_core::OwnerId;
use tenure_store::{Liveness, StoreError, MAX_ADDRESS};

use crate::connection::RedisStore;
use crate::keys::liveness_key;
use crate::reply::client_error;

/// `keep_alive` on Redis: one command (`SET … NX` to register, `PEXPIRE` to extend,
/// which keeps an advertised address and answers 0 for a key that is gone).
pub(crate) async fn keep_alive(
    store: &RedisStore,
    owner: &OwnerId,
    ttl: Duration,
    register: bool,
) -> Result<Liveness, StoreError> {
    let key = liveness_key(store.config().key_prefix(), owner);
    let ms = i64::try_from(ttl.as_millis().max(1)).unwrap_or(i64::MAX);
    if register {
        let _: Value = store
            .client()
            .set(
                &key,
                "1",
                Some(Expiration::PX(ms)),
                Some(SetOptions::NX),
                false,
            )
            .await
            .map_err(client_error)?;
        // NX fails only if the key exists: ids are random, so it is this owner's.
        store.mark_registered(owner);
        return Ok(Liveness::Alive);
    }
    let extended: i64 = store
        .client()
        .pexpire(&key, ms, None)
        .await
        .map_err(client_error)?;
    Ok(if extended == 1 {
        Liveness::Alive
    } else {
        Liveness::Lapsed
    })
}

/// `advertise` on Redis: the address goes into the owner's liveness key, only while
/// it exists (`XX`), keeping its TTL.
pub(crate) async fn advertise(
    store: &RedisStore,
    owner: &OwnerId,
    address: &str,
) -> Result<Liveness, StoreError> {
    if address.len() > MAX_ADDRESS {
        return Err(StoreError::Protocol(format!(
            "advertised address of {} bytes, more than {MAX_ADDRESS}",
            address.len()
        )));
    }
    let key = liveness_key(store.config().key_prefix(), owner);
    let reply: Value = store
        .client()
        .set(
            &key,
            format!("@{address}"),
            Some(Expiration::KEEPTTL),
            Some(SetOptions::XX),
            false,
        )
        .await
        .map_err(client_error)?;
    Ok(match reply {
        Value::Null => Liveness::Lapsed,
        _ => Liveness::Alive,
    })
}

/// What `holder`'s liveness key says: `None` if it is gone (dead for good), else the
/// address it advertised, if any.
pub(crate) async fn address_of(
    store: &RedisStore,
    holder: &OwnerId,
) -> Result<Option<Option<String>>, StoreError> {
    let key = liveness_key(store.config().key_prefix(), holder);
    let value: Option<String> = store.client().get(&key).await.map_err(client_error)?;
    Ok(value.map(|v| v.strip_prefix('@').map(str::to_string)))
}

/// Whether `holder`'s liveness key is gone: it is dead for good.
pub(crate) async fn is_dead(store: &RedisStore, holder: &OwnerId) -> Result<bool, StoreError> {
    let key = liveness_key(store.config().key_prefix(), holder);
    let n: i64 = store.client().exists(&key).await.map_err(client_error)?;
    Ok(n == 0)
}
