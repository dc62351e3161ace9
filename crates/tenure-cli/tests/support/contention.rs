//! One session under contention from several `tenure serve` processes: many
//! concurrent increments through a front router, and what the nodes counted.

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
