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
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A `redis-server` child process, killed when dropped.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    url: String,
    /// The harness's own connection: counters and flushes.
    meter: RedisStore,
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
        let deadline = Instant::now() + START_TIMEOUT;
        let meter = loop {
            let config = RedisConfig::new(url.clone()).prefix("tenure-bench-meter");
            match RedisStore::connect(config).await {
                Ok(store) => break store,
                Err(e) if Instant::now() > deadline => {
                    return Err(BenchError::RedisServer(format!("no answer on {url}: {e}")))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        Ok(Self { child, url, meter })
    }

    /// `redis://127.0.0.1:PORT`
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Deletes every key: each system starts on an empty server.
    pub async fn flush(&self) -> Result<(), BenchError> {
        self.meter
            .client()
            .flushall::<()>(false)
            .await
            .map_err(|e| BenchError::Peer(e.to_string()))
    }

    /// The server's command and byte counters now.
    pub async fn stats(&self) -> Result<ServerStats, BenchError> {
        Ok(self.meter.server_stats().await?)
    }

    /// `7.0.15`, from `INFO server`.
    pub async fn version(&self) -> String {
        let info: String = self
            .meter
            .client()
            .info(Some(InfoKind::Server))
            .await
            .unwrap_or_default();
        info.lines()
            .find_map(|l| l.trim().strip_prefix("redis_version:"))
            .unwrap_or("unknown")
            .to_string()
    }

    /// Stops the server.
    pub async fn stop(mut self) {
        self.meter.quit().await;
        let _ = self.child.kill().await;
    }
}
