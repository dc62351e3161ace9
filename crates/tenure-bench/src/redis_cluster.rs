//! A private 3-master Redis Cluster on loopback for one part of a run, started the way
//! `scripts/redis-cluster` does: three `redis-server --cluster-enabled yes` children
//! and `redis-cli --cluster create`. Nothing is kept beyond a temporary folder, which
//! is removed when the cluster stops.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::process::{Child, Command};

use crate::redis_server::{Meter, START_TIMEOUT};
use crate::BenchError;

/// Masters in the cluster (no replicas).
pub const MASTERS: usize = 3;
/// A node's cluster bus listens this far above its port.
const BUS_OFFSET: u16 = 10_000;
/// How long the cluster may take to agree on its slots.
const AGREE_TIMEOUT: Duration = Duration::from_secs(20);

/// Three `redis-server` children in cluster mode, killed when dropped.
#[derive(Debug)]
pub struct RedisCluster {
    children: Vec<Child>,
    dir: PathBuf,
    url: String,
    meter: Meter,
}

/// `MASTERS` ports whose cluster-bus ports are free too, from a random start.
fn free_ports() -> Result<Vec<u16>, BenchError> {
    let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
    let start = rand::rng().random_range(20_000..40_000u16);
    let ports: Vec<u16> = (start..start + 5_000)
        .filter(|&p| free(p) && free(p + BUS_OFFSET))
        .take(MASTERS)
        .collect();
    if ports.len() < MASTERS {
        return Err(BenchError::RedisServer(
            "no free ports for a cluster".into(),
        ));
    }
    Ok(ports)
}

/// Runs `redis-cli ARGS` and answers its output.
async fn cli(binary: &Path, args: &[String]) -> Result<String, BenchError> {
    let out = Command::new(binary)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| BenchError::RedisServer(format!("{}: {e}", binary.display())))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(text)
    } else {
        Err(BenchError::RedisServer(format!(
            "redis-cli {}: {text}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

/// Whether `INFO`-style text says `cluster_state:ok`.
fn state_ok(cluster_info: &str) -> bool {
    cluster_info.lines().any(|l| l.trim() == "cluster_state:ok")
}

/// Starts the nodes, joins them, waits until every one agrees, and connects.
async fn boot(
    children: &mut Vec<Child>,
    dir: &Path,
    server: &Path,
    redis_cli: &Path,
    ports: &[u16],
    url: &str,
) -> Result<Meter, BenchError> {
    for &port in ports {
        let dir = dir.join(port.to_string());
        std::fs::create_dir_all(&dir)?;
        let child = Command::new(server)
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--cluster-enabled", "yes"])
            .args(["--cluster-config-file", "nodes.conf"])
            .args(["--cluster-node-timeout", "5000"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| BenchError::RedisServer(format!("{}: {e}", server.display())))?;
        children.push(child);
    }
    let deadline = Instant::now() + START_TIMEOUT;
    for &port in ports {
        let ping = ["-p".to_string(), port.to_string(), "ping".into()];
        while cli(redis_cli, &ping).await.is_err() {
            if Instant::now() > deadline {
                return Err(BenchError::RedisServer(format!(
                    "cluster node on port {port} did not start"
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let mut create = vec!["--cluster".to_string(), "create".into()];
    create.extend(ports.iter().map(|p| format!("127.0.0.1:{p}")));
    create.push("--cluster-yes".into());
    cli(redis_cli, &create).await?;
    let deadline = Instant::now() + AGREE_TIMEOUT;
    for &port in ports {
        let info = [
            "-p".to_string(),
            port.to_string(),
            "cluster".into(),
            "info".into(),
        ];
        while !cli(redis_cli, &info).await.is_ok_and(|t| state_ok(&t)) {
            if Instant::now() > deadline {
                return Err(BenchError::RedisServer(format!(
                    "cluster node on port {port} never reached cluster_state:ok"
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Meter::connect(url, Instant::now() + START_TIMEOUT).await
}

async fn kill_all(children: &mut [Child], dir: &Path) {
    for child in children {
        let _ = child.kill().await;
    }
    let _ = std::fs::remove_dir_all(dir);
}

impl RedisCluster {
    /// Checks that `redis_cli` runs, before a long run that would need it at its end.
    pub async fn check_cli(redis_cli: &Path) -> Result<(), BenchError> {
        cli(redis_cli, &["--version".to_string()]).await.map(|_| ())
    }

    /// Starts a cluster of `server` processes on free loopback ports and joins them
    /// with `redis_cli`.
    pub async fn start(server: &Path, redis_cli: &Path) -> Result<Self, BenchError> {
        let ports = free_ports()?;
        let dir = std::env::temp_dir().join(format!(
            "tenure-bench-cluster-{}-{}",
            std::process::id(),
            ports[0]
        ));
        let url = format!(
            "redis-cluster://127.0.0.1:{}?{}",
            ports[0],
            ports[1..]
                .iter()
                .map(|p| format!("node=127.0.0.1:{p}"))
                .collect::<Vec<_>>()
                .join("&")
        );
        let mut children = Vec::with_capacity(MASTERS);
        match boot(&mut children, &dir, server, redis_cli, &ports, &url).await {
            Ok(meter) => Ok(Self {
                children,
                dir,
                url,
                meter,
            }),
            Err(e) => {
                kill_all(&mut children, &dir).await;
                Err(e)
            }
        }
    }

    /// `redis-cluster://127.0.0.1:PORT?node=127.0.0.1:PORT&node=...`
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The harness's connection to it.
    pub fn meter(&self) -> &Meter {
        &self.meter
    }

    /// Stops every node and removes the folder.
    pub async fn stop(mut self) {
        self.meter.quit().await;
        kill_all(&mut self.children, &self.dir).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cluster_state_is_read_from_cluster_info() {
        assert!(state_ok(
            "cluster_state:ok\r\ncluster_slots_assigned:16384\r\n"
        ));
        assert!(!state_ok("cluster_state:fail\r\n"));
        assert!(!state_ok(""));
    }
}
