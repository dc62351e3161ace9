//! The store handle: connecting, the pool, and running one protocol call.

use std::sync::Arc;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tenure_store::StoreError;
use tokio::task::AbortHandle;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use crate::config::valid_schema;
use crate::error::{pool_error, store_error};
use crate::hints::Listener;
use crate::sql::Sql;
use crate::{schema, sweep, ConnectError, PostgresConfig};

/// The Tenure store protocol on PostgreSQL: each protocol call is one function call
/// (one statement, one transaction) in the configured schema; hints are `NOTIFY`s
/// on a connection of their own. Cloning gives another handle to the same pool.
///
/// ```no_run
/// use tenure_postgres::{PostgresConfig, PostgresStore};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let config = PostgresConfig::new("postgres://127.0.0.1/app").schema("sessions");
/// let store = PostgresStore::connect(config).await?;
/// println!("{} expired sessions removed", store.sweep_expired().await?);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) pool: Pool,
    pub(crate) sql: Sql,
    pub(crate) config: PostgresConfig,
    pub(crate) listener: Listener,
    /// The background tasks (hints, sweep): they stop with the last handle.
    tasks: Vec<AbortHandle>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl PostgresStore {
    /// Connects, creates the schema or brings it up to date, and starts the hint
    /// connection and the expiry sweep. Must run inside a tokio runtime.
    pub async fn connect(config: PostgresConfig) -> Result<Self, ConnectError> {
        if !valid_schema(&config.schema) {
            return Err(ConnectError::Schema(config.schema.clone()));
        }
        let mut pg: tokio_postgres::Config = config
            .url
            .parse()
            .map_err(|e: tokio_postgres::Error| ConnectError::Url(e.to_string()))?;
        pg.connect_timeout(config.connect_timeout);
        if pg.get_application_name().is_none() {
            pg.application_name("tenure");
        }

        let (mut client, connection) =
            tokio::time::timeout(config.connect_timeout, pg.connect(NoTls))
                .await
                .map_err(|_| ConnectError::Unreachable("connect timed out".to_string()))?
                .map_err(|e| ConnectError::Unreachable(e.to_string()))?;
        let driver = tokio::spawn(connection);
        let migrated = schema::migrate(&mut client, &config.schema).await;
        drop(client);
        let _ = driver.await;
        migrated?;

        let manager = Manager::from_config(
            pg.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(config.pool_size)
            .wait_timeout(Some(config.statement_timeout))
            .create_timeout(Some(config.connect_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| ConnectError::Unreachable(e.to_string()))?;
        let sql = Sql::new(&config.schema);
        // Named apart, so an operator can tell (and a test can find) the hint connection.
        let mut hints_pg = pg;
        let name = format!(
            "{}-hints",
            hints_pg.get_application_name().unwrap_or("tenure")
        );
        hints_pg.application_name(&name);
        let (listener, listen_task) = Listener::start(hints_pg, config.connect_timeout);
        let sweep_task = sweep::start(pool.clone(), &sql, &config);
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                sql,
                config,
                listener,
                tasks: vec![listen_task, sweep_task],
            }),
        })
    }

    /// The settings it was connected with.
    pub fn config(&self) -> &PostgresConfig {
        &self.inner.config
    }

    /// The connection pool, for callers that need the database directly (tests,
    /// inspection).
    pub fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    /// Removes up to the configured batch of expired sessions now (the background
    /// sweep does this every sweep interval), and answers how many it removed.
    pub async fn sweep_expired(&self) -> Result<u32, StoreError> {
        let limit = i32::try_from(self.inner.config.sweep_batch).unwrap_or(i32::MAX);
        let row = self.one("sweep", &self.inner.sql.sweep, &[&limit]).await?;
        let removed: i32 = crate::reply::col(&row, "sweep", "removed")?;
        Ok(u32::try_from(removed).unwrap_or(0))
    }

    /// Runs `sql` (a prepared statement, cached per connection) and answers its one
    /// row, within the statement timeout.
    pub(crate) async fn one(
        &self,
        what: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, StoreError> {
        let mut rows = self.rows(what, sql, params).await?;
        match rows.len() {
            1 => Ok(rows.remove(0)),
            n => Err(crate::error::shape(what, format!("{n} rows, not 1"))),
        }
    }

    /// Runs `sql` and answers all its rows, within the statement timeout.
    pub(crate) async fn rows(
        &self,
        what: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let call = async {
            let client = self.inner.pool.get().await.map_err(|e| pool_error(&e))?;
            let statement = client
                .prepare_cached(sql)
                .await
                .map_err(|e| store_error(&e))?;
            client
                .query(&statement, params)
                .await
                .map_err(|e| store_error(&e))
        };
        tokio::time::timeout(self.inner.config.statement_timeout, call)
            .await
            .map_err(|_| StoreError::Unavailable(format!("PostgreSQL: {what} timed out")))?
    }
}
