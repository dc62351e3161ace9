//! One session under contention from several `tenure serve` processes: many
//! concurrent increments through a front router, and what the nodes counted.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use http::StatusCode;
use tenure_core::SessionId;

use super::{Browser, NodeProcess};

/// Increments per contention run.
pub const TOTAL: u64 = 10_000;
/// Requests in flight at once.
pub const CONCURRENT: u64 = 20;

/// Sends `total` increments of one new session through `front` from `CONCURRENT`
/// tasks, each insisting on 200; answers the browser (with the session cookie).
pub async fn hammer(front: SocketAddr, total: u64) -> Browser {
    let mut first = Browser::new();
    let (status, body) = first.send("POST", front, "/counter").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "1"));
    let remaining = Arc::new(AtomicU64::new(total - 1));
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENT {
        let (remaining, mut browser) = (remaining.clone(), first.clone());
        tasks.push(tokio::spawn(async move {
            while remaining
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok()
            {
                let (status, body) = browser.send("POST", front, "/counter").await;
                assert_eq!(
                    status,
                    StatusCode::OK,
                    "every increment is acknowledged: {body}"
                );
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    first
}

/// A node's counters (`GET /stats` of the demo app), read from the node directly.
pub async fn node_stats(addr: SocketAddr) -> Vec<(String, u64)> {
    let (status, body) = Browser::new().send("GET", addr, "/stats").await;
    assert_eq!(status, StatusCode::OK, "GET /stats");
    body.lines()
        .filter_map(|l| l.split_once(' '))
        .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
        .collect()
}

/// The session of `browser`'s cookie.
pub fn session_of(browser: &Browser) -> SessionId {
    let cookie = browser.cookie.as_deref().expect("a session cookie");
    SessionId::parse(cookie.split_once('=').unwrap().1).unwrap()
}

/// Three nodes, `node-a` to `node-c`, on `url` under `prefix`.
pub async fn start_nodes(url: &str, prefix: &str, lease: Option<&str>) -> Vec<NodeProcess> {
    let mut nodes = Vec::new();
    for name in ["node-a", "node-b", "node-c"] {
        nodes.push(NodeProcess::start(url, prefix, name, lease).await);
    }
    nodes
}

/// What the nodes counted (`GET /stats`), summed over the nodes.
pub struct NodeTotals(HashMap<String, u64>);

impl NodeTotals {
    /// Reads every node's counters; call it before the nodes stop.
    pub async fn of(nodes: &[NodeProcess]) -> Self {
        let mut totals = HashMap::new();
        for node in nodes {
            for (name, n) in node_stats(node.addr).await {
                *totals.entry(name).or_default() += n;
            }
        }
        Self(totals)
    }

    /// One counter's total.
    pub fn get(&self, name: &str) -> u64 {
        self.0.get(name).copied().unwrap_or(0)
    }

    /// Times the session moved: recalls and moves by the move rule.
    pub fn moves(&self) -> u64 {
        self.get("recalls") + self.get("moves")
    }

    /// Forwards and moves, for the test's figures line.
    pub fn summary(&self) -> String {
        format!(
            "{} forwarded, {} forward fallbacks, {} session moves ({} recalls, {} by the move rule)",
            self.get("forwards"),
            self.get("forward_fallbacks"),
            self.moves(),
            self.get("recalls"),
            self.get("moves"),
        )
    }

    /// At affinity 0 two requests in three land on a node that does not hold the
    /// session: they are forwarded, and the session stays put.
    pub fn assert_forwarded_and_kept_put(&self, total: u64) {
        assert!(
            self.get("forwards") > total / 3,
            "forwarding is on by default in `tenure serve`: {} forwards",
            self.get("forwards")
        );
        let moves = self.moves();
        assert!(
            moves < total / 20,
            "the session moved {moves} times in {total} requests: forwarding should keep it put"
        );
    }
}
