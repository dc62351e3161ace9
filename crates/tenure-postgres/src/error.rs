//! Why connecting failed, and how a failed call maps to [`StoreError`].

use tenure_store::StoreError;
use tokio_postgres::error::SqlState;

/// Why [`PostgresStore::connect`](crate::PostgresStore::connect) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL does not parse as a PostgreSQL connection string.
    #[error("invalid PostgreSQL URL: {0}")]
    Url(String),
    /// The schema name is not a plain lower-case identifier.
    #[error("invalid schema name `{0}`: use 1 to 63 of a-z, 0-9 and _, not starting with a digit")]
    Schema(String),
    /// The database could not be reached within the connect timeout.
    #[error("PostgreSQL unreachable: {0}")]
    Unreachable(String),
    /// The schema could not be created or brought up to date.
    #[error("applying Tenure's schema failed: {0}")]
    Migrate(String),
}

/// A failed call: unreachable, timed out, or a transient conflict (deadlock,
/// serialization, the server shutting down) may succeed later; anything else is a
/// protocol violation (corrupt rows, a schema that does not match).
pub(crate) fn store_error(e: &tokio_postgres::Error) -> StoreError {
    if e.is_closed() {
        return StoreError::Unavailable(format!("PostgreSQL connection closed: {e}"));
    }
    match e.code() {
        Some(code) if transient(code) => StoreError::Unavailable(format!("PostgreSQL: {e}")),
        Some(_) => StoreError::Protocol(format!("PostgreSQL: {}", db_message(e))),
        // No SQLSTATE: an I/O or connection-level failure.
        None => StoreError::Unavailable(format!("PostgreSQL: {e}")),
    }
}

fn transient(code: &SqlState) -> bool {
    let class = &code.code()[..2];
    // 08 connection exception, 40 transaction rollback (deadlock, serialization),
    // 53 insufficient resources, 57 operator intervention (shutdown, cancel), 58 I/O.
    matches!(class, "08" | "40" | "53" | "57" | "58")
}

fn db_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

/// A pooled connection could not be had.
pub(crate) fn pool_error(e: &deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => store_error(e),
        other => StoreError::Unavailable(format!("PostgreSQL pool: {other}")),
    }
}

/// A row that does not have the shape the functions answer.
pub(crate) fn shape(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Protocol(format!("unexpected answer to {what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::transient;
    use tokio_postgres::error::SqlState;

    #[test]
    fn retryable_classes_are_transient() {
        assert!(transient(&SqlState::T_R_DEADLOCK_DETECTED));
        assert!(transient(&SqlState::T_R_SERIALIZATION_FAILURE));
        assert!(transient(&SqlState::ADMIN_SHUTDOWN));
        assert!(transient(&SqlState::CONNECTION_FAILURE));
        assert!(transient(&SqlState::QUERY_CANCELED));
        assert!(!transient(&SqlState::UNDEFINED_FUNCTION));
        assert!(!transient(&SqlState::CHARACTER_NOT_IN_REPERTOIRE));
    }
}
