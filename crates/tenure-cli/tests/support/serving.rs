//! For the server and router tests: `tenure serve` / `tenure route` processes with
//! any flags (and an optional open-file limit), raw HTTP over TCP for hostile
//! clients, and a pooled client that reports which node answered.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tenure_store::Inspect as _;

use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tenure_core::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// How long a process may take to start listening.
const START: Duration = Duration::from_secs(30);

/// A `tenure` process that printed a `listening on http://ADDR` (or `Serving at`)
/// line; killed on drop.
pub struct Proc {
    pub child: Child,
    pub addr: SocketAddr,
    /// Every later line of its standard output.
    pub lines: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl Proc {
    /// Runs `tenure ARGS`, under `prlimit --nofile=N:N` when `nofile` is given, and
    /// waits until it prints its address.
    pub async fn start(args: &[&str], nofile: Option<u32>) -> Self {
        let bin = env!("CARGO_BIN_EXE_tenure");
        let mut cmd = match nofile {
            Some(n) => {
                let mut c = Command::new("prlimit");
                c.arg(format!("--nofile={n}:{n}")).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        cmd.args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("spawn tenure");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = tokio::time::timeout(START, async {
            loop {
                let line = lines
                    .next_line()
                    .await
                    .unwrap()
                    .unwrap_or_else(|| panic!("tenure {args:?} exited before listening"));
                let url = line
                    .strip_prefix("listening on http://")
                    .or_else(|| line.split("Serving at http://").nth(1));
                if let Some(url) = url {
                    let addr = url.split(['/', ' ']).next().unwrap();
                    return addr.parse::<SocketAddr>().unwrap();
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("tenure {args:?} did not listen within {START:?}"));
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = tx.send(line);
            }
        });
        Self {
            child,
            addr,
            lines: rx,
        }
    }

    /// `tenure serve` on `store` (`memory` or a Redis URL) with `extra` flags.
    pub async fn serve(store: &str, prefix: &str, name: &str, extra: &[&str]) -> Self {
        let mut args = vec![
            "serve", "--store", store, "--prefix", prefix, "--name", name,
        ];
        args.extend_from_slice(extra);
        Self::start(&args, None).await
    }

    /// `tenure route` over `nodes` with `extra` flags.
    pub async fn route(nodes: &[SocketAddr], extra: &[&str]) -> Self {
        let backends: Vec<String> = nodes.iter().map(|a| a.to_string()).collect();
        let mut args = vec!["route"];
        for b in &backends {
            args.extend(["--backend", b.as_str()]);
        }
        args.extend_from_slice(extra);
        Self::start(&args, None).await
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

    /// Waits for the process to exit, at most `within`.
    pub async fn exited(&mut self, within: Duration) -> ExitStatus {
        tokio::time::timeout(within, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("the process did not exit within {within:?}"))
            .unwrap()
    }

    /// SIGKILL, and wait until it is gone.
    pub async fn kill(&mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}

/// What a raw exchange got back.
#[derive(Debug)]
pub struct Raw {
    /// The status of the first response, if one arrived.
    pub status: Option<u16>,
    /// Everything read, lossily as text.
    pub text: String,
    /// How long until the server closed (or the wait ended).
    pub took: Duration,
    /// Whether the server closed the connection (or reset it) within the wait.
    pub closed: bool,
}

/// Sends `head` then `body` (chunks written as fast as the server takes them, until
/// it stops reading) to `addr` on a new connection and reads until the server
/// closes, or `within` has passed.
pub async fn raw(addr: SocketAddr, head: Vec<u8>, body: Vec<Vec<u8>>, within: Duration) -> Raw {
    let start = Instant::now();
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        if wr.write_all(&head).await.is_err() {
            return;
        }
        for chunk in body {
            if wr.write_all(&chunk).await.is_err() {
                return;
            }
        }
        // Keep the write half open: closing it would look like a finished client.
        std::future::pending::<()>().await;
    });
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let closed = tokio::time::timeout(within, async {
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .is_ok();
    writer.abort();
    let text = String::from_utf8_lossy(&got).into_owned();
    Raw {
        status: status_of(&text),
        text,
        took: start.elapsed(),
        closed,
    }
}

fn status_of(text: &str) -> Option<u16> {
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// A request head of `method path` with `headers` (each a full `Name: value` line).
pub fn head(method: &str, path: &str, headers: &[String]) -> Vec<u8> {
    let mut h = format!("{method} {path} HTTP/1.1\r\nHost: tenure\r\n");
    for line in headers {
        h.push_str(line);
        h.push_str("\r\n");
    }
    h.push_str("\r\n");
    h.into_bytes()
}

/// `GET /counter` on a new connection, answered `200` within `within`; answers how
/// long it took.
pub async fn probe(addr: SocketAddr, within: Duration) -> Duration {
    let req = head("GET", "/counter", &["Connection: close".into()]);
    let answer = tokio::time::timeout(within, raw(addr, req, vec![], within))
        .await
        .unwrap_or_else(|_| panic!("the probe was not answered within {within:?}"));
    assert_eq!(
        answer.status,
        Some(200),
        "the probe is answered: {:?}",
        answer.text
    );
    answer.took
}

/// One answer through [`Tab`].
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    /// The `X-Tenure-Node` header.
    pub node: Option<String>,
    pub body: String,
    pub took: Duration,
}

/// A browser tab: pooled keep-alive connections, a session cookie.
#[derive(Clone)]
pub struct Tab {
    client: Client<HttpConnector, Full<Bytes>>,
    pub cookie: Option<String>,
}

impl Tab {
    pub fn new() -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
            cookie: None,
        }
    }

    /// Sends a request; an error of the connection to `addr` is a test failure.
    pub async fn send(&mut self, method: &str, addr: SocketAddr, path: &str) -> Answer {
        let start = Instant::now();
        let mut req = Request::builder()
            .method(method)
            .uri(format!("http://{addr}{path}"));
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        let res = self
            .client
            .request(req.body(Full::new(Bytes::new())).unwrap())
            .await
            .unwrap_or_else(|e| panic!("{method} {path} on {addr}: {e}"));
        if let Some(set) = res.headers().get("set-cookie") {
            let pair = set.to_str().unwrap().split(';').next().unwrap().to_string();
            self.cookie = Some(pair);
        }
        let status = res.status();
        let node = res
            .headers()
            .get("x-tenure-node")
            .map(|v| v.to_str().unwrap().to_string());
        let body = res.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            node,
            body: String::from_utf8_lossy(&body).into_owned(),
            took: start.elapsed(),
        }
    }
}

/// A Redis store under a fresh prefix (answers the URL too), or `None` (skip) when
/// no Redis answers and backends are not required.
pub async fn redis_store(test: &str) -> Option<(String, String, tenure_redis::RedisStore)> {
    use tenure_test::backend::{backend_url, backends_required};
    let url = backend_url("TENURE_REDIS_URL", Some("redis://127.0.0.1:6379"))?;
    let mut raw = [0u8; 4];
    getrandom::fill(&mut raw).unwrap();
    let prefix = format!("tenure-test-{test}-{:08x}", u32::from_le_bytes(raw));
    let config = tenure_redis::RedisConfig::new(url.clone()).prefix(&prefix);
    match tenure_redis::RedisStore::connect(config).await {
        Ok(store) => Some((url, prefix, store)),
        Err(e) => {
            assert!(!backends_required(), "Redis at {url} is required: {e}");
            eprintln!("skipped: no Redis at {url}");
            None
        }
    }
}

/// Deletes every session under the store's prefix and disconnects.
pub async fn clean_up(store: &tenure_redis::RedisStore) {
    let inspector = tenure_redis::Inspector::new(store.clone());
    for sid in inspector.list(usize::MAX).await.unwrap() {
        inspector.delete(&sid).await.unwrap();
    }
    store.quit().await;
}

/// The session id in a `tenure=ID` cookie pair.
pub fn session_of(cookie: &str) -> tenure_core::SessionId {
    tenure_core::SessionId::parse(cookie.split_once('=').unwrap().1).unwrap()
}

/// The stored value of attribute `name` of `sid`, decoded as a `T`.
pub async fn stored<T: serde::de::DeserializeOwned>(
    store: &tenure_redis::RedisStore,
    sid: &tenure_core::SessionId,
    name: &str,
) -> Option<T> {
    use tenure_core::Codec;
    let info = tenure_redis::Inspector::new(store.clone())
        .show(sid)
        .await
        .unwrap()?;
    let attr = info.attrs.iter().find(|a| a.name == name)?;
    Some(tenure_core::MessagePack.decode::<T>(&attr.value).unwrap())
}
