//! The front router's view of its nodes: which are up, and a health check that
//! brings a node that was marked down back (and marks down one that stops
//! answering, such as a stopped process whose kernel still accepts connections).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::body::Body;
use http::{Request, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// The path the health check asks for. The demo app has no route there, so a node
/// answers `404` at once, without touching any session: any answer means it is up.
pub const HEALTH_PATH: &str = "/health";

/// One node behind the router.
#[derive(Debug)]
pub struct Upstream {
    /// Where it listens.
    pub addr: SocketAddr,
    up: AtomicBool,
}

impl Upstream {
    fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            up: AtomicBool::new(true),
        }
    }

    /// Whether the router sends it requests (while another node is up).
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Marks it down (`why` is logged when this changes anything).
    pub fn mark_down(&self, why: &str) {
        if self.up.swap(false, Ordering::Relaxed) {
            tracing::warn!(node = %self.addr, why, "node marked down");
        }
    }

    /// Marks it up.
    pub fn mark_up(&self) {
        if !self.up.swap(true, Ordering::Relaxed) {
            tracing::info!(node = %self.addr, "node is back");
        }
    }
}

/// Every node behind one router.
#[derive(Debug)]
pub struct Upstreams {
    nodes: Vec<Upstream>,
}

impl Upstreams {
    /// All of `addrs`, up until shown otherwise.
    pub fn new(addrs: &[SocketAddr]) -> Arc<Self> {
        Arc::new(Self {
            nodes: addrs.iter().copied().map(Upstream::new).collect(),
        })
    }

    /// The nodes, in the order given.
    pub fn nodes(&self) -> &[Upstream] {
        &self.nodes
    }

    /// The indices a request may go to, leaving out `tried`: the nodes that are up,
    /// or, when none is, every node not tried yet (one may be back before the
    /// health check has seen it, and a refused connection costs little).
    pub fn candidates(&self, tried: &[bool]) -> Vec<usize> {
        let untried = |i: &usize| !tried.get(*i).copied().unwrap_or(false);
        let up: Vec<usize> = (0..self.nodes.len())
            .filter(untried)
            .filter(|i| self.nodes[*i].is_up())
            .collect();
        if up.is_empty() {
            (0..self.nodes.len()).filter(untried).collect()
        } else {
            up
        }
    }
}

/// Starts one health-check task per node: every `interval`, a `GET` of
/// [`HEALTH_PATH`] on a fresh connection, answered within `timeout`, marks the node
/// up; no answer marks it down. The tasks end when `upstreams` is dropped.
pub fn spawn_health_checks(upstreams: &Arc<Upstreams>, interval: Duration, timeout: Duration) {
    // No pooling: each probe is a new connection, as a new request's would be.
    let client: Client<HttpConnector, Body> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build_http();
    for i in 0..upstreams.nodes.len() {
        let weak = Arc::downgrade(upstreams);
        let client = client.clone();
        tokio::spawn(check_forever(weak, i, client, interval, timeout));
    }
}

async fn check_forever(
    upstreams: Weak<Upstreams>,
    i: usize,
    client: Client<HttpConnector, Body>,
    interval: Duration,
    timeout: Duration,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(addr) = upstreams.upgrade().map(|u| u.nodes[i].addr) else {
            return;
        };
        let answered = probe(&client, addr, timeout).await;
        let Some(upstreams) = upstreams.upgrade() else {
            return;
        };
        let node = &upstreams.nodes[i];
        match answered {
            Ok(()) => node.mark_up(),
            Err(why) => node.mark_down(why),
        }
    }
}

/// Whether `addr` answers an HTTP request within `timeout`.
async fn probe(
    client: &Client<HttpConnector, Body>,
    addr: SocketAddr,
    timeout: Duration,
) -> Result<(), &'static str> {
    let uri = Uri::try_from(format!("http://{addr}{HEALTH_PATH}")).map_err(|_| "bad address")?;
    let req = Request::get(uri)
        .body(Body::empty())
        .map_err(|_| "bad address")?;
    match tokio::time::timeout(timeout, client.request(req)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) if e.is_connect() => Err("health check: connection failed"),
        Ok(Err(_)) => Err("health check: the connection broke"),
        Err(_) => Err("health check: no answer in time"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(n: u16) -> Vec<SocketAddr> {
        (1..=n)
            .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
            .collect()
    }

    #[test]
    fn candidates_are_the_live_untried_nodes_or_else_any_untried() {
        let u = Upstreams::new(&addrs(3));
        assert_eq!(u.candidates(&[false; 3]), [0, 1, 2]);
        u.nodes()[1].mark_down("test");
        assert_eq!(u.candidates(&[false; 3]), [0, 2]);
        assert_eq!(u.candidates(&[true, false, false]), [2]);
        assert_eq!(
            u.candidates(&[true, false, true]),
            [1],
            "a down node is still tried when no live one is left"
        );
        assert!(u.candidates(&[true; 3]).is_empty());
        u.nodes()[1].mark_up();
        assert_eq!(u.candidates(&[false; 3]), [0, 1, 2]);
    }
}
