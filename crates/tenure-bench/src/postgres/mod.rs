//! A private PostgreSQL database for one harness run, on the server at
//! `--postgres-url`: created for the run, dropped and created again before every
//! measurement (each system starts on an empty database), dropped at the end. Every
//! node reaches it through a byte-counting proxy (`proxy.rs`).
//!
//! What it counts over a measurement: transactions committed or rolled back in the
//! database (`pg_stat_database`; every protocol call of Tenure and every load or
//! save of tower-sessions is one statement in a transaction of its own, so this is
//! statements per request), bytes through the proxy, and the CPU of every
//! PostgreSQL process on the machine (nothing else uses the server meanwhile).

mod proxy;

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use tenure_postgres::tokio_postgres::{self, config::Host, Client, NoTls};

use crate::cpu;
use crate::BenchError;
use proxy::CountingProxy;

/// How long the nodes' connections may take to go after they stopped.
const DRAIN: Duration = Duration::from_secs(10);

/// What the database and the proxy counted so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PgCounters {
    /// Transactions committed or rolled back in the database.
    pub transactions: u64,
    /// Bytes through the proxy, both ways.
    pub bytes: u64,
    /// CPU of PostgreSQL's processes, µs.
    pub cpu_micros: u64,
}

impl std::ops::Sub for PgCounters {
    type Output = PgCounters;
    fn sub(self, before: PgCounters) -> PgCounters {
        PgCounters {
            transactions: self.transactions.saturating_sub(before.transactions),
            bytes: self.bytes.saturating_sub(before.bytes),
            cpu_micros: self.cpu_micros.saturating_sub(before.cpu_micros),
        }
    }
}

/// The run's database.
pub struct PostgresDb {
    admin: Client,
    database: String,
    user: String,
    proxy: CountingProxy,
}

impl std::fmt::Debug for PostgresDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresDb")
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

fn failed(what: &str, e: impl std::fmt::Display) -> BenchError {
    BenchError::Postgres(format!("{what}: {e}"))
}

impl PostgresDb {
    /// Connects to the server at `admin_url` (a user that may create databases, with
    /// trust or a password in the URL) and creates the run's database.
    pub async fn start(admin_url: &str) -> Result<Self, BenchError> {
        let config: tokio_postgres::Config =
            admin_url.parse().map_err(|e| failed("--postgres-url", e))?;
        let host = match config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            _ => return Err(failed("--postgres-url", "needs a TCP host")),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let upstream: SocketAddr = (host.as_str(), port)
            .to_socket_addrs()
            .map_err(|e| failed("resolving the PostgreSQL host", e))?
            .next()
            .ok_or_else(|| failed("resolving the PostgreSQL host", "no address"))?;
        let (admin, connection) = config
            .connect(NoTls)
            .await
            .map_err(|e| failed("connecting to PostgreSQL", e))?;
        tokio::spawn(connection);
        let db = Self {
            admin,
            database: format!("tenure_bench_{}", std::process::id()),
            user: config.get_user().unwrap_or("postgres").to_string(),
            proxy: CountingProxy::start(upstream).await?,
        };
        db.fresh().await?;
        Ok(db)
    }

    /// The URL the nodes connect with: the run's database, through the proxy.
    pub fn url(&self) -> String {
        format!(
            "postgres://{}@{}/{}",
            self.user,
            self.proxy.addr(),
            self.database
        )
    }

    /// Drops the database (closing any connection to it) and creates it again.
    pub async fn fresh(&self) -> Result<(), BenchError> {
        let db = &self.database;
        self.admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .await
            .map_err(|e| failed("dropping the bench database", e))?;
        self.admin
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .await
            .map_err(|e| failed("creating the bench database", e))
    }

    /// The counters now. After the nodes stopped, waits (at most 10 s) until
    /// their connections are gone, so the database has counted their last work.
    pub async fn counters(&self, drained: bool) -> Result<PgCounters, BenchError> {
        if drained {
            let deadline = tokio::time::Instant::now() + DRAIN;
            loop {
                let row = self
                    .admin
                    .query_one(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1",
                        &[&self.database],
                    )
                    .await
                    .map_err(|e| failed("pg_stat_activity", e))?;
                let left: i64 = row.try_get(0).map_err(|e| failed("pg_stat_activity", e))?;
                if left == 0 || tokio::time::Instant::now() > deadline {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let row = self
            .admin
            .query_one(
                "SELECT (xact_commit + xact_rollback)::bigint FROM pg_stat_database \
                 WHERE datname = $1",
                &[&self.database],
            )
            .await
            .map_err(|e| failed("pg_stat_database", e))?;
        let transactions: i64 = row.try_get(0).map_err(|e| failed("pg_stat_database", e))?;
        Ok(PgCounters {
            transactions: u64::try_from(transactions).unwrap_or(0),
            bytes: self.proxy.bytes(),
            cpu_micros: cpu::postgres_micros(),
        })
    }

    /// `15.20 (Debian 15.20-0+deb12u1)`, from `SHOW server_version`.
    pub async fn version(&self) -> String {
        self.admin
            .query_one("SHOW server_version", &[])
            .await
            .ok()
            .and_then(|row| row.try_get(0).ok())
            .unwrap_or_else(|| "unknown".into())
    }

    /// Drops the database.
    pub async fn stop(self) {
        let _ = self
            .admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.database
            ))
            .await;
    }
}
