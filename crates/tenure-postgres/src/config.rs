//! How to reach PostgreSQL, and the store's few settings.

use std::time::Duration;

/// Settings of a [`PostgresStore`](crate::PostgresStore).
///
/// ```
/// use std::time::Duration;
/// use tenure_postgres::PostgresConfig;
/// let config = PostgresConfig::new("postgres://app@127.0.0.1:5432/app")
///     .schema("shop_sessions")
///     .pool_size(8)
///     .statement_timeout(Duration::from_secs(1));
/// assert_eq!(config.url(), "postgres://app@127.0.0.1:5432/app");
/// assert_eq!(config.schema_name(), "shop_sessions");
/// ```
#[derive(Debug, Clone)]
pub struct PostgresConfig {
    pub(crate) url: String,
    pub(crate) schema: String,
    pub(crate) pool_size: usize,
    pub(crate) statement_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) sweep_interval: Duration,
    pub(crate) sweep_batch: u32,
    pub(crate) renew_batch: usize,
}

impl PostgresConfig {
    /// Settings for the database at `url`, a libpq-style connection string or URL
    /// (`postgres://user:password@host:port/database`, `host=... dbname=...`), as
    /// [`tokio_postgres::Config`] parses it.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            schema: "tenure".to_string(),
            pool_size: 8,
            statement_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(5),
            sweep_interval: Duration::from_secs(5),
            sweep_batch: 500,
            renew_batch: 1000,
        }
    }

    /// The URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The schema that holds Tenure's tables and functions (default `tenure`), so
    /// several applications can share one database. Created on connect if missing.
    /// 1 to 63 characters of `a-z`, `0-9` and `_`, not starting with a digit.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// The schema in use.
    pub fn schema_name(&self) -> &str {
        &self.schema
    }

    /// Connections in the pool for protocol calls (default 8, at least 1). Hints use
    /// one more, of their own. Every connection is a server process: a few per node
    /// serve best (on a 2-core server, 6 per node ran the harness's workload (a)
    /// about 10 % faster than 16 did, at three quarters of the server's CPU per
    /// request).
    pub fn pool_size(mut self, connections: usize) -> Self {
        self.pool_size = connections.max(1);
        self
    }

    /// How long one call may take, waiting for a pooled connection included, before
    /// it fails as unavailable (default 2 s).
    pub fn statement_timeout(mut self, timeout: Duration) -> Self {
        self.statement_timeout = timeout;
        self
    }

    /// How long connecting may take (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How often the background sweep deletes expired sessions (default 5 s, at
    /// least 10 ms). Expired sessions are invisible to every call at once; the sweep
    /// only reclaims their rows.
    pub fn sweep_interval(mut self, interval: Duration) -> Self {
        self.sweep_interval = interval.max(Duration::from_millis(10));
        self
    }

    /// Rows one sweep removes at most, of each kind (default 500, at least 1): bounds
    /// the work of one sweep statement.
    pub fn sweep_batch(mut self, rows: u32) -> Self {
        self.sweep_batch = rows.max(1);
        self
    }

    /// Sessions per renewal statement (default 1000, at least 1).
    pub fn renew_batch(mut self, sessions: usize) -> Self {
        self.renew_batch = sessions.max(1);
        self
    }
}

/// Whether `schema` is a name the store takes: it is put into SQL text unquoted.
pub(crate) fn valid_schema(schema: &str) -> bool {
    let mut bytes = schema.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'_'))
        && schema.len() <= 63
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::valid_schema;

    #[test]
    fn schema_names_are_plain_identifiers() {
        for good in ["tenure", "_t", "shop_sessions_2"] {
            assert!(valid_schema(good), "{good}");
        }
        let long = "a".repeat(64);
        for bad in [
            "",
            "2x",
            "Tenure",
            "a-b",
            "a;drop",
            "a b",
            "\"x\"",
            long.as_str(),
        ] {
            assert!(!valid_schema(bad), "{bad}");
        }
    }
}
