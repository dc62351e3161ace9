//! `tenure serve` and `tenure route`: one app-server node, or the front router, as a
//! process of its own, so several processes share sessions through Redis.

use std::net::SocketAddr;
use std::time::Duration;

use tenure_axum::CookieConfig;
use tenure_core::{Consistency, WritePolicy};
use tenure_node::{Node, NodeConfig};

use crate::demo::{app, front, DemoError};
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
}

impl NodeSetup {
    /// The node configuration this setup asks for.
    pub fn config(&self) -> NodeConfig {
        let mut config = NodeConfig::default();
        config.label = self.name.clone();
        config.consistency = self.mode;
        config.write_policy = self.policy;
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

/// Binds `port` on loopback and serves `app` until `shutdown` completes.
pub async fn listen(
    app: axum::Router,
    port: u16,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), std::io::Error> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "server stopped");
        }
    });
    Ok((addr, task))
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn stop_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Runs one node until Ctrl-C or SIGTERM, then shuts it down (writing back what it
/// holds). Prints `listening on http://ADDR` once it accepts requests.
pub async fn serve_node(setup: NodeSetup) -> Result<(), DemoError> {
    let backend = Backend::open(&setup.store, &setup.prefix).await?;
    let node = Node::start(backend.shared(), setup.config()).await?;
    let router = app::app(node.clone(), &setup.name, plain_http_cookies())?;
    let (addr, server) = listen(router, setup.port, stop_signal()).await?;
    println!("listening on http://{addr}");
    let _ = server.await;
    if let Err(e) = node.shutdown().await {
        eprintln!("shutdown: {e}");
    }
    if let Some(redis) = backend.redis() {
        redis.quit().await;
    }
    Ok(())
}

/// Runs the front router over `backends` until Ctrl-C or SIGTERM. Prints
/// `listening on http://ADDR` once it accepts requests.
pub async fn serve_router(
    backends: Vec<SocketAddr>,
    affinity: f64,
    port: u16,
    seed: u64,
) -> Result<(), DemoError> {
    let cookie = plain_http_cookies().cookie_name();
    let router = front::router(backends, affinity, cookie, seed);
    let (addr, server) = listen(router, port, stop_signal()).await?;
    println!("listening on http://{addr}");
    let _ = server.await;
    Ok(())
}
