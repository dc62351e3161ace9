//! Shared by the multi-process tests: Redis URLs, `tenure serve` processes, an
//! in-process front router, and a small HTTP client.
#![allow(dead_code, unreachable_pub)]

pub mod contention;
pub mod faults;

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tenure_cli::demo::front;
use tenure_cli::serve::{listen, plain_http_cookies};
use tenure_core::Bytes;
use tenure_redis::{RedisConfig, RedisStore};
use tenure_test::backend::{backend_url, backends_required};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The single-server URL, if tests should run against one.
pub fn single_url() -> Option<String> {
    backend_url("TENURE_REDIS_URL", Some("redis://127.0.0.1:6379"))
}

/// The cluster URL, if tests should run against one.
pub fn cluster_url() -> Option<String> {
    backend_url("TENURE_REDIS_CLUSTER_URL", None)
}

/// A store on `url` under `prefix`, or `None` (skip) if no server answers there and
/// backends are not required.
pub async fn redis(url: Option<String>, prefix: &str) -> Option<RedisStore> {
    let url = url?;
    match RedisStore::connect(RedisConfig::new(url.clone()).prefix(prefix)).await {
        Ok(store) => Some(store),
        Err(e) => {
            assert!(!backends_required(), "Redis at {url} is required: {e}");
            eprintln!("skipped: no Redis at {url}");
            None
        }
    }
}

/// A key prefix no other test uses.
pub fn unique_prefix(test: &str) -> String {
    let mut raw = [0u8; 4];
    getrandom::fill(&mut raw).unwrap();
    format!("tenure-test-{test}-{:08x}", u32::from_le_bytes(raw))
}

/// One `tenure serve` process.
pub struct NodeProcess {
    pub child: Child,
    pub addr: SocketAddr,
    pub name: String,
}

impl NodeProcess {
    /// Starts a node on `url` under `prefix` and waits until it listens.
    pub async fn start(url: &str, prefix: &str, name: &str, lease: Option<&str>) -> Self {
        Self::start_with(url, prefix, name, lease, &[]).await
    }

    /// [`start`](Self::start) with more `tenure serve` arguments.
    pub async fn start_with(
        url: &str,
        prefix: &str,
        name: &str,
        lease: Option<&str>,
        extra: &[&str],
    ) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tenure"));
        cmd.args(["serve", "--store", url, "--prefix", prefix, "--name", name]);
        if let Some(lease) = lease {
            cmd.args(["--lease", lease]);
        }
        cmd.args(extra);
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("spawn tenure serve");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("tenure serve did not start within 30 s")
            .unwrap()
            .expect("tenure serve exited before listening");
        let addr = line
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .parse()
            .unwrap();
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            child,
            addr,
            name: name.to_string(),
        }
    }

    /// Sends a signal by name (`STOP`, `CONT`, `TERM`, `KILL`).
    pub fn signal(&self, sig: &str) {
        let pid = self.child.id().expect("process still running");
        let status = std::process::Command::new("kill")
            .args([format!("-{sig}"), pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{sig} {pid}");
    }

    /// Asks the node to stop (writing back what it holds) and waits for it.
    pub async fn stop(mut self) {
        self.signal("TERM");
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("node did not stop within 30 s after SIGTERM")
            .unwrap();
        assert!(status.success(), "{} exited with {status}", self.name);
    }
}

/// Starts the front router over `nodes` in this process; answers its address.
pub async fn router(nodes: &[SocketAddr], affinity: f64, seed: u64) -> SocketAddr {
    let router = front::router(
        nodes.to_vec(),
        affinity,
        plain_http_cookies().cookie_name(),
        seed,
    );
    let (addr, _task) = listen(router, 0, std::future::pending()).await.unwrap();
    addr
}

/// A plain HTTP client with a session cookie (and any other cookie it is given, such
/// as a route cookie).
#[derive(Clone)]
pub struct Browser {
    client: Client<HttpConnector, Full<Bytes>>,
    /// The session cookie's `name=value`.
    pub cookie: Option<String>,
    /// Other cookies set, `name=value`.
    pub others: Vec<String>,
}

impl Browser {
    pub fn new() -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
            cookie: None,
            others: Vec::new(),
        }
    }

    /// The value of a cookie other than the session's.
    pub fn other(&self, name: &str) -> Option<&str> {
        self.others.iter().find_map(|pair| {
            let (n, v) = pair.split_once('=')?;
            (n == name).then_some(v)
        })
    }

    /// Sends a request to `addr`; answers status and body, and keeps a new cookie.
    pub async fn send(
        &mut self,
        method: &str,
        addr: SocketAddr,
        path: &str,
    ) -> (StatusCode, String) {
        self.send_json(method, addr, path, None).await
    }

    /// [`send`](Self::send) with a JSON body, if given.
    pub async fn send_json(
        &mut self,
        method: &str,
        addr: SocketAddr,
        path: &str,
        json: Option<&str>,
    ) -> (StatusCode, String) {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("http://{addr}{path}"));
        if json.is_some() {
            req = req.header("content-type", "application/json");
        }
        let pairs: Vec<&String> = self.cookie.iter().chain(&self.others).collect();
        if !pairs.is_empty() {
            let joined: Vec<&str> = pairs.iter().map(|p| p.as_str()).collect();
            req = req.header("cookie", joined.join("; "));
        }
        let res = self
            .client
            .request(
                req.body(Full::new(Bytes::from(json.unwrap_or("").to_string())))
                    .unwrap(),
            )
            .await
            .expect("request");
        let session_cookie = plain_http_cookies().cookie_name();
        for set in res.headers().get_all("set-cookie") {
            let pair = set.to_str().unwrap().split(';').next().unwrap().to_string();
            let name = pair.split_once('=').map_or("", |(n, _)| n).to_string();
            if name == session_cookie {
                self.cookie = Some(pair);
            } else {
                self.others.retain(|p| !p.starts_with(&format!("{name}=")));
                self.others.push(pair);
            }
        }
        let status = res.status();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}
