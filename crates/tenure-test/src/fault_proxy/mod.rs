//! A TCP fault proxy for tests: it listens on a loopback port and forwards every
//! connection to one upstream (say, Redis), with faults switched at run time through
//! a [`ProxyHandle`]:
//!
//! | fault | call | what connections see |
//! |---|---|---|
//! | none | [`ProxyHandle::pass_through`] | bytes forwarded as they come |
//! | latency | [`ProxyHandle::set_latency`] | each chunk delivered a fixed time after it was read, per direction |
//! | stall | [`ProxyHandle::stall`], [`ProxyHandle::stall_direction`] | bytes held, then delivered in order by [`ProxyHandle::unstall`] |
//! | drop | [`ProxyHandle::drop_connections`] | every current connection closed; new ones accepted |
//! | black hole | [`ProxyHandle::black_hole`] | bytes read and thrown away, nothing answered, until switched back (see [`Mode::BlackHole`]) |
//! | refuse | [`ProxyHandle::refuse`] | each new connection closed at once |
//!
//! A connection closes as a whole once both directions have ended (a close on one
//! side is passed on to the other). Dropping the [`FaultProxy`] closes its listener
//! and every connection.
//!
//! ```no_run
//! use std::time::Duration;
//! use tenure_test::fault_proxy::{Direction, FaultProxy};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tenure_test::fault_proxy::ProxyError> {
//! let proxy = FaultProxy::start("127.0.0.1:6379".parse().unwrap()).await?;
//! let url = format!("redis://{}", proxy.addr()); // give this to the client under test
//! let faults = proxy.handle();
//! faults.set_latency(Direction::ToClient, Duration::from_millis(20));
//! faults.stall(); // replies and requests are held...
//! faults.unstall(); // ...and delivered
//! faults.drop_connections();
//! # let _ = url;
//! # Ok(())
//! # }
//! ```

mod connection;
mod controls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use controls::Counters;
pub use controls::{Direction, Mode, ProxyHandle, ProxyStats, Settings};

/// How long the accept loop waits after a failed accept (e.g. out of file
/// descriptors) before it tries again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

/// Why a [`FaultProxy`] could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The listening socket could not be bound or read back.
    #[error("the fault proxy cannot listen on {addr}: {source}")]
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// A running proxy to one upstream. See the [module](self) documentation.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    handle: ProxyHandle,
    accept: JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy on a free port of 127.0.0.1, forwarding to `upstream`, in
    /// pass-through. The upstream is connected once per accepted connection; one that
    /// cannot be reached closes that connection (counted in
    /// [`ProxyStats::upstream_failures`]).
    pub async fn start(upstream: SocketAddr) -> Result<Self, ProxyError> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), upstream).await
    }

    /// Starts a proxy listening on `listen` (port 0: any free port).
    pub async fn start_on(listen: SocketAddr, upstream: SocketAddr) -> Result<Self, ProxyError> {
        let failed = |source| ProxyError::Listen {
            addr: listen,
            source,
        };
        let listener = TcpListener::bind(listen).await.map_err(failed)?;
        let addr = listener.local_addr().map_err(failed)?;
        let (settings, _) = watch::channel(Settings::default());
        let handle = ProxyHandle {
            settings: Arc::new(settings),
            counters: Arc::new(Counters::default()),
        };
        let accept = tokio::spawn(accept_loop(listener, upstream, handle.clone()));
        Ok(Self {
            addr,
            upstream,
            handle,
            accept,
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where connections are forwarded.
    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    /// The handle that switches faults (it may outlive the proxy; then it does
    /// nothing).
    pub fn handle(&self) -> ProxyHandle {
        self.handle.clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // The accept loop owns every connection's task: aborting it closes them all.
        self.accept.abort();
    }
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, handle: ProxyHandle) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else {
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                };
                Counters::add(&handle.counters.accepted, 1);
                if handle.settings().mode == Mode::Refuse {
                    Counters::add(&handle.counters.refused, 1);
                    drop(client);
                    continue;
                }
                connections.spawn(connection::serve(
                    client,
                    upstream,
                    handle.settings.subscribe(),
                    handle.counters.clone(),
                ));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}
