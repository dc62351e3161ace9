//! [`Inspect`] for [`PostgresStore`]: plain reads in one read-only snapshot, so
//! inspecting never counts as an access and never takes a row lock.

use std::time::Duration;

use async_trait::async_trait;
use tenure_core::{Bytes, OwnerId, SessionId};
use tenure_store::{AttrInfo, Fence, Inspect, LockInfo, SessionInfo, Store, StoreError};
use tokio_postgres::IsolationLevel;

use crate::error::{pool_error, shape, store_error};
use crate::names::from_pg;
use crate::reply::{col, millis, unsigned};
use crate::PostgresStore;

const WHAT: &str = "inspect";

fn duration(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

#[async_trait]
impl Inspect for PostgresStore {
    async fn list(&self, limit: usize) -> Result<Vec<SessionId>, StoreError> {
        let schema = &self.inner.config.schema;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .rows(
                WHAT,
                &format!(
                    "SELECT id FROM {schema}.sessions \
                     WHERE expires_at IS NULL OR expires_at > clock_timestamp() LIMIT $1"
                ),
                &[&limit],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let id: String = col(row, WHAT, "id")?;
                SessionId::parse(&id).map_err(|e| shape(WHAT, e))
            })
            .collect()
    }

    async fn show(&self, sid: &SessionId) -> Result<Option<SessionInfo>, StoreError> {
        let s = &self.inner.config.schema;
        let call = async {
            let mut client = self.inner.pool.get().await.map_err(|e| pool_error(&e))?;
            let tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await
                .map_err(|e| store_error(&e))?;
            let session = tx
                .query_opt(
                    &format!(
                        "SELECT version, {s}.ms_between(created, now()) AS age_ms, \
                         {s}.ms_between(last_access, now()) AS idle_for_ms, idle_ms, absolute_ms, \
                         greatest(coalesce(fence, 0), coalesce(last_fence, 0)) AS last_fence, \
                         CASE WHEN lease_until > now() THEN holder END AS holder, fence, \
                         {s}.ms_between(now(), lease_until) AS lease_left_ms \
                         FROM {s}.sessions \
                         WHERE id = $1 AND (expires_at IS NULL OR expires_at > now())"
                    ),
                    &[&sid.as_str()],
                )
                .await
                .map_err(|e| store_error(&e))?;
            let Some(session) = session else {
                return Ok(None);
            };
            let queue = tx
                .query(
                    &format!(
                        "SELECT owner, {s}.ms_between(now(), deadline) AS left_ms \
                         FROM {s}.waiters WHERE session = $1 AND deadline > now() ORDER BY place"
                    ),
                    &[&sid.as_str()],
                )
                .await
                .map_err(|e| store_error(&e))?;
            let attrs = tx
                .query(
                    &format!(
                        "SELECT name, version, value FROM {s}.attributes \
                         WHERE session = $1 ORDER BY name"
                    ),
                    &[&sid.as_str()],
                )
                .await
                .map_err(|e| store_error(&e))?;
            tx.commit().await.map_err(|e| store_error(&e))?;
            Ok(Some((session, queue, attrs)))
        };
        let Some((session, queue, attrs)) =
            tokio::time::timeout(self.inner.config.statement_timeout, call)
                .await
                .map_err(|_| StoreError::Unavailable(format!("PostgreSQL: {WHAT} timed out")))??
        else {
            return Ok(None);
        };

        let holder: Option<String> = col(&session, WHAT, "holder")?;
        let lock = match holder {
            Some(holder) => Some(LockInfo {
                holder: OwnerId::new(&holder).map_err(|e| shape(WHAT, e))?,
                fence: Fence(unsigned(WHAT, col(&session, WHAT, "fence")?)?),
                lease_left: duration(col(&session, WHAT, "lease_left_ms")?),
            }),
            None => None,
        };
        let queue = queue
            .iter()
            .map(|row| {
                let owner: String = col(row, WHAT, "owner")?;
                let owner = OwnerId::new(&owner).map_err(|e| shape(WHAT, e))?;
                Ok((owner, duration(col(row, WHAT, "left_ms")?)))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let attrs = attrs
            .iter()
            .map(|row| {
                let value: Vec<u8> = col(row, WHAT, "value")?;
                Ok(AttrInfo {
                    name: from_pg(col(row, WHAT, "name")?),
                    version: unsigned(WHAT, col(row, WHAT, "version")?)?,
                    value: Bytes::from(value),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Some(SessionInfo {
            id: sid.clone(),
            version: unsigned(WHAT, col(&session, WHAT, "version")?)?,
            age: duration(col(&session, WHAT, "age_ms")?),
            idle_for: duration(col(&session, WHAT, "idle_for_ms")?),
            idle_timeout: millis(col(&session, WHAT, "idle_ms")?),
            absolute_timeout: millis(col(&session, WHAT, "absolute_ms")?),
            last_fence: Fence(unsigned(WHAT, col(&session, WHAT, "last_fence")?)?),
            lock,
            queue,
            attrs,
        }))
    }

    async fn delete(&self, sid: &SessionId) -> Result<bool, StoreError> {
        Store::delete(self, sid).await
    }
}
