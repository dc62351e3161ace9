//! `Store::events` on PostgreSQL: the log `events.sql` keeps (written by triggers in
//! the transaction of each change, ids in commit order), read by id. The sweep trims
//! it to its newest [`PG_EVENT_LOG`] events and, removing expired sessions, writes
//! their `expired` events, so a session that expired untouched gets one within a sweep
//! interval.

use tenure_core::SessionId;
use tenure_store::{EventBatch, EventId, EventKind, SessionEvent, StoreError};

use crate::error::shape;
use crate::reply::col;
use crate::PostgresStore;

/// How many events the log keeps; the sweep drops older ones.
pub const PG_EVENT_LOG: u64 = 100_000;

const WHAT: &str = "events";

fn kind(name: &str, detail: Option<Vec<u8>>) -> Result<EventKind, StoreError> {
    let text = |d: Option<Vec<u8>>| String::from_utf8_lossy(&d.unwrap_or_default()).into_owned();
    Ok(match name {
        "created" => EventKind::Created,
        "rotated" => EventKind::Rotated {
            to: SessionId::parse(&text(detail)).map_err(|e| shape(WHAT, e))?,
        },
        "principal" => EventKind::PrincipalSet {
            principal: text(detail),
        },
        "principal-cleared" => EventKind::PrincipalCleared,
        "deleted" => EventKind::Deleted,
        "expired" => EventKind::Expired,
        other => return Err(shape(WHAT, format!("unknown event kind {other:?}"))),
    })
}

pub(crate) async fn read(
    store: &PostgresStore,
    after: Option<EventId>,
    max: usize,
) -> Result<EventBatch, StoreError> {
    let after = after.map(|a| i64::try_from(a.major).unwrap_or(i64::MAX));
    let limit = i32::try_from(max).unwrap_or(i32::MAX);
    let rows = store
        .rows(WHAT, &store.inner.sql.read_events, &[&after, &limit])
        .await?;
    let mut batch = EventBatch::default();
    for row in &rows {
        batch.missed |= col::<bool>(row, WHAT, "missed")?;
        let Some(id) = col::<Option<i64>>(row, WHAT, "id")? else {
            continue;
        };
        let session: String = col(row, WHAT, "session")?;
        let name: String = col(row, WHAT, "kind")?;
        batch.events.push(SessionEvent {
            id: EventId {
                major: u64::try_from(id).map_err(|e| shape(WHAT, e))?,
                minor: 0,
            },
            session: SessionId::parse(&session).map_err(|e| shape(WHAT, e))?,
            kind: kind(&name, col(row, WHAT, "detail")?)?,
        });
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::PG_EVENT_LOG;

    #[test]
    fn the_sweep_keeps_what_the_constant_says() {
        let sql = include_str!("sql/functions.sql");
        assert!(sql.contains(&format!("trim_events({PG_EVENT_LOG}, p_limit)")));
    }
}
