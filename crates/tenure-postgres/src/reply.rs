//! The functions' answers as protocol values.

use std::collections::BTreeMap;
use std::time::Duration;

use tenure_core::{AttrEntry, Bytes, Expiry, Snapshot};
use tenure_store::StoreError;
use tokio_postgres::Row;

use crate::error::shape;
use crate::names::from_pg;

/// Column `name` of `row`, of type `T`.
pub(crate) fn col<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    what: &str,
    name: &str,
) -> Result<T, StoreError> {
    row.try_get(name).map_err(|e| shape(what, e))
}

/// A `bigint` the protocol holds as `u64` (versions, fences): never negative.
pub(crate) fn unsigned(what: &str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| shape(what, format!("negative counter {value}")))
}

/// Milliseconds as a duration; `None` stays `None` (no such timeout).
pub(crate) fn millis(value: Option<i64>) -> Option<Duration> {
    value.map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
}

/// The timeouts in columns `idle_ms` and `absolute_ms`.
pub(crate) fn expiry(row: &Row, what: &str) -> Result<Expiry, StoreError> {
    Ok(Expiry {
        idle: millis(col(row, what, "idle_ms")?),
        absolute: millis(col(row, what, "absolute_ms")?),
    })
}

/// The snapshot at `version` with the attributes in columns `names`, `vals` and
/// `versions` (parallel arrays, NULL for none).
pub(crate) fn snapshot(row: &Row, what: &str, version: i64) -> Result<Snapshot, StoreError> {
    let names: Option<Vec<String>> = col(row, what, "names")?;
    let values: Option<Vec<Vec<u8>>> = col(row, what, "vals")?;
    let versions: Option<Vec<i64>> = col(row, what, "versions")?;
    let (names, values, versions) = (
        names.unwrap_or_default(),
        values.unwrap_or_default(),
        versions.unwrap_or_default(),
    );
    if names.len() != values.len() || names.len() != versions.len() {
        return Err(shape(what, "attribute arrays of different lengths"));
    }
    let mut attrs = BTreeMap::new();
    for ((name, value), v) in names.into_iter().zip(values).zip(versions) {
        let entry = AttrEntry {
            value: Bytes::from(value),
            version: unsigned(what, v)?,
        };
        attrs.insert(from_pg(name), entry);
    }
    Ok(Snapshot {
        version: unsigned(what, version)?,
        attrs,
    })
}

/// An answer code the Rust side does not know: the schema and the code disagree.
pub(crate) fn unknown(what: &str, kind: i16) -> StoreError {
    shape(what, format!("unknown answer code {kind}"))
}
