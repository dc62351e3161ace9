//! `Store::sessions_of` on one Redis server: one script over the principal's index
//! (`scripts/index.lua` describes the index, `scripts/sessions_of.lua` the listing).
//! On a cluster `directory.rs` runs the same script ([`list`]) over each shard the
//! principal's directory names.

use std::time::Duration;

use fred::types::Value;
use tenure_core::SessionId;
use tenure_store::{PrincipalSession, StoreError, PRUNE_PER_CALL};

use crate::connection::RedisStore;
use crate::keys::principal_index;
use crate::reply::bad;
use crate::scripts::IndexKeys;

pub(crate) async fn sessions_of(
    store: &RedisStore,
    principal: &str,
    label: Option<&str>,
) -> Result<Vec<PrincipalSession>, StoreError> {
    let key = principal_index(store.prefix(), principal.as_bytes());
    Ok(list(store, key, principal, label, "").await?.0)
}

/// The live sessions in one index (`tag` '') or shard (`tag` its slot's), and
/// whether the shard holds no entry at all any more (then a listing may trim its slot).
pub(crate) async fn list(
    store: &RedisStore,
    key: String,
    principal: &str,
    label: Option<&str>,
    tag: &str,
) -> Result<(Vec<PrincipalSession>, bool), StoreError> {
    let args = vec![
        Value::from(store.prefix()),
        Value::from(principal),
        Value::from(label.unwrap_or("")),
        Value::from(PRUNE_PER_CALL as i64),
        Value::from(tag),
    ];
    let mut reply = store
        .scripts()
        .sessions_of
        .run(store.client(), IndexKeys(key), args)
        .await?;
    let now = reply.int("now")?;
    let empty = reply.int("entries left")? == 0;
    let mut out = Vec::with_capacity(reply.remaining() / 4);
    while !reply.is_empty() {
        let id = reply.text("session id")?;
        let id = SessionId::parse(&id)
            .map_err(|e| bad("sessions_of", &format!("bad session id: {e}")))?;
        let created = reply.int("created")?;
        let last_access = reply.int("last access")?;
        let value = reply.optional_bytes("label")?;
        out.push(PrincipalSession {
            id,
            age: Duration::from_millis(now.saturating_sub(created)),
            idle_for: Duration::from_millis(now.saturating_sub(last_access)),
            label: value.filter(|_| label.is_some()),
        });
    }
    Ok((out, empty))
}
