//! Session events on Redis (issue 15): the stream and the expiring set `log.lua`
//! describes, read by `scripts/events.lua` and swept by `scripts/expire.lua`. On a
//! Redis Cluster the slots' outboxes are first moved into the one log (`slots.rs`).

use fred::types::Value;
use tenure_core::SessionId;
use tenure_store::{EventBatch, EventId, EventKind, SessionEvent, StoreError};

use crate::connection::RedisStore;
use crate::keys::{log_keys, ClusterLog};
use crate::reply::bad;
use crate::scripts::LogKeys;
use crate::slots;

/// How many expired sessions one expiry pass (one `maintain`, and each `events`
/// call) reports at most.
pub const EXPIRE_PER_CALL: usize = 1000;

pub(crate) async fn expire_pass(store: &RedisStore) -> Result<(), StoreError> {
    if store.is_clustered() {
        return slots::maintain(store).await;
    }
    let args = vec![
        Value::from(store.prefix()),
        Value::from(EXPIRE_PER_CALL as i64),
    ];
    store
        .scripts()
        .expire
        .call(store.client(), LogKeys(log_keys(store.prefix())), args)
        .await
        .map(|_| ())
}

fn event_id(text: &str) -> Result<EventId, StoreError> {
    text.parse()
        .map_err(|e| bad("events", &format!("bad stream id: {e}")))
}

fn kind(name: &str, detail: String) -> Result<EventKind, StoreError> {
    Ok(match name {
        "created" => EventKind::Created,
        "rotated" => EventKind::Rotated {
            to: SessionId::parse(&detail)
                .map_err(|e| bad("events", &format!("bad rotated id: {e}")))?,
        },
        "principal" => EventKind::PrincipalSet { principal: detail },
        "principal-cleared" => EventKind::PrincipalCleared,
        "deleted" => EventKind::Deleted,
        "expired" => EventKind::Expired,
        other => return Err(bad("events", &format!("unknown event kind {other:?}"))),
    })
}

pub(crate) async fn read(
    store: &RedisStore,
    after: Option<EventId>,
    max: usize,
) -> Result<EventBatch, StoreError> {
    let keys = if store.is_clustered() {
        slots::catch_up(store).await?;
        let log = ClusterLog::new(store.prefix());
        [log.expiring, log.log]
    } else {
        log_keys(store.prefix())
    };
    let args = vec![
        Value::from(store.prefix()),
        Value::from(EXPIRE_PER_CALL as i64),
        Value::from(after.map(|a| a.to_string()).unwrap_or_default()),
        Value::from(i64::try_from(max.max(1)).unwrap_or(i64::MAX)),
        Value::from(i64::from(store.is_clustered())),
    ];
    let mut reply = store
        .scripts()
        .events
        .run(store.client(), LogKeys(keys), args)
        .await?;
    let mut batch = EventBatch {
        missed: reply.int("missed")? == 1,
        events: Vec::with_capacity(reply.remaining() / 4),
    };
    while !reply.is_empty() {
        let id = event_id(&reply.text("event id")?)?;
        let session = reply.text("session")?;
        let name = reply.text("kind")?;
        let detail = String::from_utf8_lossy(&reply.bytes("detail")?).into_owned();
        batch.events.push(SessionEvent {
            id,
            session: SessionId::parse(&session)
                .map_err(|e| bad("events", &format!("bad session id: {e}")))?,
            kind: kind(&name, detail)?,
        });
    }
    Ok(batch)
}
