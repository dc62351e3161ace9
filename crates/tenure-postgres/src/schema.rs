//! The schema and the protocol's functions, applied on connect.
//!
//! Both SQL files name the schema `__S__`; it is replaced by the configured name,
//! which [`valid_schema`](crate::config::valid_schema) restricts to a plain
//! identifier. Everything runs in one transaction under an advisory lock on the
//! schema's name, so nodes starting together do not race. The schema's comment holds
//! the digest of the migration applied: a node finding its own digest there changes
//! nothing, so starting a node takes no lock that running calls hold. Every statement
//! is idempotent (`IF NOT EXISTS`, `CREATE OR REPLACE`), so applying a newer
//! migration is how the tables gain what it adds and the functions are replaced.

use tokio_postgres::Client;

use crate::ConnectError;

const TABLES: &str = include_str!("sql/schema.sql");
const FUNCTIONS: &str = include_str!("sql/functions.sql");
const EVENTS: &str = include_str!("sql/events.sql");

/// The SQL that brings `schema` up to date.
pub(crate) fn migration(schema: &str) -> String {
    let mut sql = String::with_capacity(TABLES.len() + FUNCTIONS.len() + EVENTS.len() + 128);
    sql.push_str(
        &TABLES
            .replace("__S__", schema)
            .replace("__PRINCIPAL__", &principal_literal()),
    );
    sql.push('\n');
    sql.push_str(&FUNCTIONS.replace("__S__", schema));
    sql.push('\n');
    sql.push_str(
        &EVENTS
            .replace("__S__", schema)
            .replace("__PRINCIPAL__", &principal_literal()),
    );
    sql
}

/// The stored name of the principal attribute as an SQL literal.
pub(crate) fn principal_literal() -> String {
    // A constant of Tenure's own, printable ASCII after its NUL: never refused.
    crate::names::sql_literal(tenure_core::PRINCIPAL_ATTR).unwrap_or_else(|| "NULL".into())
}

/// Applies the migration for `schema` on `client`, unless the schema already holds
/// this very migration (its digest is the schema's comment): then it only reads.
pub(crate) async fn migrate(client: &mut Client, schema: &str) -> Result<(), ConnectError> {
    let failed = |e: tokio_postgres::Error| {
        let detail = e
            .as_db_error()
            .map(|d| format!("{} ({})", d.message(), d.code().code()))
            .unwrap_or_else(|| e.to_string());
        ConnectError::Migrate(detail)
    };
    let sql = migration(schema);
    let tx = client.transaction().await.map_err(failed)?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('tenure schema ' || $1::text, 0))",
        &[&schema],
    )
    .await
    .map_err(failed)?;
    let row = tx
        .query_one(
            "SELECT 'tenure migration ' || md5($1::text), \
                    (SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace \
                     WHERE nspname = $2::text)",
            &[&sql, &schema],
        )
        .await
        .map_err(failed)?;
    let wanted: String = row.try_get(0).map_err(failed)?;
    let present: Option<String> = row.try_get(1).map_err(failed)?;
    if present.as_deref() == Some(wanted.as_str()) {
        return tx.commit().await.map_err(failed);
    }
    tx.batch_execute(&sql).await.map_err(failed)?;
    // The digest is hex and the schema a plain identifier: nothing to quote.
    tx.batch_execute(&format!("COMMENT ON SCHEMA {schema} IS '{wanted}'"))
        .await
        .map_err(failed)?;
    tx.commit().await.map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::migration;

    #[test]
    fn the_placeholder_is_replaced_everywhere() {
        let sql = migration("shop");
        assert!(!sql.contains("__S__"));
        assert!(!sql.contains("__PRINCIPAL__"));
        assert!(sql.contains("WHERE name = E'\\uFFFE0tenure.principal'"));
        assert!(sql.contains("CREATE SCHEMA IF NOT EXISTS shop;"));
        assert!(sql.contains("FUNCTION shop.acquire("));
    }
}
