//! `Store::sessions_of` on PostgreSQL: one read over the partial index
//! `attributes_principal` (schema.sql), joined with the sessions it names, live ones
//! only. The index is exact, changed in the transaction that changes the session;
//! rows of expired sessions go with the sweep, a bounded batch each run.

use tenure_core::{Bytes, SessionId};
use tenure_store::{PrincipalSession, StoreError};

use crate::names::to_pg;
use crate::reply::{col, millis};
use crate::PostgresStore;

pub(crate) async fn sessions_of(
    store: &PostgresStore,
    principal: &str,
    label: Option<&str>,
) -> Result<Vec<PrincipalSession>, StoreError> {
    const WHAT: &str = "sessions_of";
    let label: Option<String> = label.map(|l| to_pg(l).into_owned());
    let principal: &[u8] = principal.as_bytes();
    let rows = store
        .rows(WHAT, &store.inner.sql.sessions_of, &[&principal, &label])
        .await?;
    rows.iter()
        .map(|row| {
            let id: String = col(row, WHAT, "id")?;
            let label: Option<Vec<u8>> = col(row, WHAT, "label")?;
            Ok(PrincipalSession {
                id: SessionId::parse(&id).map_err(|e| crate::error::shape(WHAT, e))?,
                age: millis(col(row, WHAT, "age_ms")?).unwrap_or_default(),
                idle_for: millis(col(row, WHAT, "idle_ms")?).unwrap_or_default(),
                label: label.map(Bytes::from),
            })
        })
        .collect()
}
