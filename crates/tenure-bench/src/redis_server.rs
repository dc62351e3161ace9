//! A private Redis server for one harness run: every system meets the same server,
//! nothing else talks to it, so its counters measure the systems alone.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tenure_redis::fred::interfaces::ClientLike;
use tenure_redis::fred::types::InfoKind;
use tenure_redis::{RedisConfig, RedisStore, ServerStats};
use tokio::process::{Child, Command};

use crate::BenchError;

/// How long the server may take to answer its first `PING`.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The harness's own connection to a server or cluster: counters and flushes.
#[derive(Debug)]
pub struct Meter {
    store: RedisStore,
}

impl Meter {
    /// Connects to `url`, retrying until `deadline` while the server starts.
    pub(crate) async fn connect(url: &str, deadline: Instant) -> Result<Self, BenchError> {
        loop {
            let config = RedisConfig::new(url.to_string()).prefix("tenure-bench-meter");
            match RedisStore::connect(config).await {
                Ok(store) => return Ok(Self { store }),
                Err(e) if Instant::now() > deadline => {
                    return Err(BenchError::RedisServer(format!("no answer on {url}: {e}")))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Deletes every key (on every primary of a cluster): each system starts on an
    /// empty store.
    pub async fn flush(&self) -> Result<(), BenchError> {
        // `FLUSHALL` on one server, on every primary of a cluster.
        self.store
            .client()
            .flushall_cluster()
            .await
            .map_err(|e| BenchError::RedisServer(format!("flush: {e}")))
    }

    /// The command and byte counters now, summed over every primary.
    pub async fn stats(&self) -> Result<ServerStats, BenchError> {
        Ok(self.store.server_stats().await?)
    }

    /// `7.0.15`, from `INFO server` (of one node of a cluster).
    pub async fn version(&self) -> String {
        let info: String = self
            .store
            .client()
            .info(Some(InfoKind::Server))
            .await
            .unwrap_or_default();
        info.lines()
            .find_map(|l| l.trim().strip_prefix("redis_version:"))
            .unwrap_or("unknown")
            .to_string()
    }

    /// Closes the connection.
    pub(crate) async fn quit(self) {
        self.store.quit().await;
    }
}

/// A `redis-server` child process, killed when dropped.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    url: String,
    meter: Meter,
}

impl RedisServer {
    /// Starts `binary` on a free loopback port, keeping nothing on disk.
    pub async fn start(binary: &Path) -> Result<Self, BenchError> {
        let port = std::net::TcpListener::bind(("127.0.0.1", 0))?
            .local_addr()?
            .port();
        let child = Command::new(binary)
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(std::env::temp_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| BenchError::RedisServer(format!("{}: {e}", binary.display())))?;
        let url = format!("redis://127.0.0.1:{port}");
        let meter = Meter::connect(&url, Instant::now() + START_TIMEOUT).await?;
        Ok(Self { child, url, meter })
    }

    /// `redis://127.0.0.1:PORT`
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The harness's connection to it.
    pub fn meter(&self) -> &Meter {
        &self.meter
    }

    /// Stops the server.
    pub async fn stop(mut self) {
        self.meter.quit().await;
        let _ = self.child.kill().await;
    }
}
