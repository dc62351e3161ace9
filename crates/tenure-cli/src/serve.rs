//! `tenure serve` and `tenure route`: one app-server node, or the front router, as a
//! process of its own, so several processes share sessions through Redis.

use std::net::SocketAddr;
use std::time::Duration;

use tenure_axum::serve::{serve, ServerLimits};
use tenure_axum::CookieConfig;
use tenure_core::{Consistency, WritePolicy};
use tenure_node::{Node, NodeConfig};

use crate::demo::front::{self, FrontConfig};
use crate::demo::{app, DemoError};
use crate::stores::{Backend, StoreUrl};

/// One app-server node's settings.
#[derive(Debug, Clone)]
pub struct NodeSetup {
    /// Where the sessions live (`memory` only makes sense for one process).
    pub store: StoreUrl,
    /// The Redis key prefix.
    pub prefix: String,
    /// The node's name (`X-Tenure-Node` header, owner id label).
    pub name: String,
    /// Consistency mode.
    pub mode: Consistency,
    /// Write policy.
    pub policy: WritePolicy,
    /// Lease asked for; renewals and safety margin scale with it. `None`: defaults.
    pub lease: Option<Duration>,
    /// Port to listen on (0: any free port).
    pub port: u16,
    /// Where other nodes forward requests for the sessions this one holds.
    pub advertise: AdvertiseAt,
    /// The route cookie's name, if the node names itself in one (its value: the
    /// address it listens on, as `tenure route --backend` names it).
    pub route_cookie: Option<String>,
    /// What the node's HTTP server allows its clients.
    pub limits: ServerLimits,
}

/// Which address a node advertises for forwarded requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdvertiseAt {
    /// The address it listens on (other processes on this machine reach it there).
    Listener,
    /// This `host:port` (behind NAT or a container network).
    Address(String),
    /// None: forwarding off; sessions move to the node that gets a request.
    Nowhere,
}

impl std::str::FromStr for AdvertiseAt {
    type Err = String;

    /// `none`, or a `host:port` other nodes can dial (`--advertise`).
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "none" {
            return Ok(AdvertiseAt::Nowhere);
        }
        NodeConfig::default()
            .with_advertise(s)
            .validate()
            .map(|()| AdvertiseAt::Address(s.to_string()))
            .map_err(|e| e.to_string())
    }
}

impl AdvertiseAt {
    /// The address to advertise for a node listening on `listening`.
    pub fn resolve(&self, listening: SocketAddr) -> Option<String> {
        match self {
            AdvertiseAt::Listener => Some(listening.to_string()),
            AdvertiseAt::Address(a) => Some(a.clone()),
            AdvertiseAt::Nowhere => None,
        }
    }
}

impl NodeSetup {
    /// The node configuration this setup asks for.
    pub fn config(&self) -> NodeConfig {
        let mut config = NodeConfig::default();
        config.label = self.name.clone();
        config.consistency = self.mode;
        config.write_policy = self.policy;
        config.device_label = Some(crate::demo::devices::DEVICE.name().into());
        if let Some(lease) = self.lease {
            config.lease = lease;
            config.renew_interval = lease / 6;
            config.lease_margin = lease / 10;
        }
        config
    }
}

/// The demo's cookie settings: not `Secure`, since it speaks plain HTTP on loopback.
pub fn plain_http_cookies() -> CookieConfig {
    let mut cookies = CookieConfig::default();
    cookies.secure = false;
    cookies
}

/// Binds `port` on loopback and serves `app` until `shutdown` completes, with the
/// default [`ServerLimits`] except no drain linger: for servers stopped together
/// with the router in front of them (the demo's, the tests'), where no pooled
/// connection outlives them.
pub async fn listen(
    app: axum::Router,
    port: u16,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), std::io::Error> {
    let limits = ServerLimits::default().drain_linger(Duration::ZERO);
    listen_with(app, port, limits, shutdown).await
}

/// Binds `port` on loopback and serves `app` within `limits` until `shutdown`
/// completes; the task ends once every connection is closed.
pub async fn listen_with(
    app: axum::Router,
    port: u16,
    limits: ServerLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), std::io::Error> {
    let listener = bind(port).await?;
    let addr = listener.local_addr()?;
    Ok((addr, serve_on(listener, app, limits, shutdown)))
}

/// Binds `port` (0: any free one) on loopback.
pub async fn bind(port: u16) -> Result<tokio::net::TcpListener, std::io::Error> {
    tokio::net::TcpListener::bind(("127.0.0.1", port)).await
}

/// Serves `app` on a bound `listener` within `limits` until `shutdown` completes; the
/// task ends once every connection is closed.
pub fn serve_on(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    limits: ServerLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let stopped = serve(listener, app, limits, shutdown).await;
        if stopped.cut > 0 {
            eprintln!(
                "{} connections were still busy at the shutdown timeout and were cut",
                stopped.cut
            );
        }
    })
}

/// Resolves on Ctrl-C or SIGTERM; the handlers are installed when this is called.
pub fn stop_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    tenure_axum::serve::stop_signal()
}

/// Runs one node until Ctrl-C or SIGTERM, then stops gracefully: the server stops
/// accepting and finishes the requests in flight (within the limits' shutdown
/// timeout), then the node writes back and releases every session it holds. Prints
/// `listening on http://ADDR` once it accepts requests.
pub async fn serve_node(setup: NodeSetup) -> Result<(), DemoError> {
    let backend = Backend::open(&setup.store, &setup.prefix).await?;
    // Bound first: the node advertises the address it listens on.
    let listener = bind(setup.port).await?;
    let addr = listener.local_addr()?;
    let mut config = setup.config();
    config.advertise = setup.advertise.resolve(addr);
    let node = Node::start(backend.shared(), config).await?;
    let route = setup.route_cookie.map(|name| (name, addr.to_string()));
    let router = app::app_routed(node.clone(), &setup.name, plain_http_cookies(), route)?;
    let server = serve_on(listener, router, setup.limits, stop_signal());
    println!("listening on http://{addr}");
    let _ = server.await;
    if let Err(e) = node.shutdown().await {
        eprintln!("shutdown: {e}");
    }
    backend.quit().await;
    Ok(())
}

/// The front router's settings.
#[derive(Debug, Clone)]
pub struct RouteSetup {
    /// The nodes' addresses.
    pub backends: Vec<SocketAddr>,
    /// Stickiness, timeouts and health checks.
    pub front: FrontConfig,
    /// Port to listen on (0: any free port).
    pub port: u16,
    /// What the router's HTTP server allows its clients.
    pub limits: ServerLimits,
}

/// Runs the front router until Ctrl-C or SIGTERM, then stops gracefully (requests in
/// flight finish). Prints `listening on http://ADDR` once it accepts requests.
pub async fn serve_router(setup: RouteSetup) -> Result<(), DemoError> {
    let router = front::router_with(&setup.backends, setup.front);
    let (addr, server) = listen_with(router, setup.port, setup.limits, stop_signal()).await?;
    println!("listening on http://{addr}");
    let _ = server.await;
    Ok(())
}
