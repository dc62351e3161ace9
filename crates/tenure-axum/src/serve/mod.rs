//! Serving an axum app so that slow clients cannot starve it, and stopping it
//! gracefully: [`serve`] with [`ServerLimits`].
//!
//! `axum::serve` sets no timeouts: a client that sends its headers a byte at a time,
//! or a body that never ends, or thousands of connections that send nothing, hold
//! the server's connections and files for as long as they like. [`serve`] bounds
//! each of them (see [`ServerLimits`] for the defaults), keeps accepting when the
//! process runs out of files (it backs off briefly and tries again; open connections
//! are still served), and on shutdown stops accepting, lets requests in flight
//! finish within [`ServerLimits::shutdown_timeout`], and returns.
//!
//! ```no_run
//! use std::time::Duration;
//! use tenure_axum::serve::{serve, ServerLimits};
//!
//! # #[tokio::main] async fn main() -> std::io::Result<()> {
//! # let app = axum::Router::new();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! let limits = ServerLimits::new().header_read_timeout(Duration::from_secs(5));
//! let stopped = serve(listener, app, limits, tenure_axum::serve::stop_signal()).await;
//! assert_eq!(stopped.cut, 0, "every request finished in time");
//! # Ok(()) }
//! ```
//!
//! HTTP/1.1 only, and no protocol upgrades (WebSocket): use `axum::serve` for those.

mod body;
mod clock;
mod conn;
mod limits;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;

pub use body::BodyTimeout;
pub use limits::{default_max_connections, file_limit, ServerLimits};

use conn::Shared;

/// How long accepting pauses after an error that is not the client's (out of files,
/// out of memory): long enough for connections to close, short enough to be unseen.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Where a server is in its life; every connection watches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Running,
    /// Shutting down since this instant: no new connections, idle ones close after
    /// the linger, every response closes its connection.
    Draining(Instant),
    /// The shutdown timeout has passed: every connection closes now.
    Cut,
}

/// How a server stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stopped {
    /// Connections still open when the shutdown timeout ran out, then cut.
    pub cut: usize,
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes, then stops
/// gracefully: the listener closes (new connections are refused), requests in
/// flight finish (each response closes its connection), idle connections close
/// after [`ServerLimits::drain_linger`], and whatever is still open after
/// [`ServerLimits::shutdown_timeout`] is cut. Returns once every connection is
/// closed. What the app holds (a Tenure [`Node`](tenure_node::Node)'s sessions) is
/// the caller's to release afterwards, with `Node::shutdown`.
pub async fn serve<F>(
    listener: TcpListener,
    app: Router,
    limits: ServerLimits,
    shutdown: F,
) -> Stopped
where
    F: Future<Output = ()> + Send,
{
    let max = u32::try_from(limits.connections()).unwrap_or(u32::MAX);
    let permits = Arc::new(Semaphore::new(max as usize));
    let (stage, _) = watch::channel(Stage::Running);
    let shared = Arc::new(Shared { limits, stage });
    tokio::pin!(shutdown);
    loop {
        // Waiting for a free place before accepting leaves new clients in the listen
        // backlog, where they are answered once a slow connection is shed.
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break, // never closed: unreachable in practice
            },
        };
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _peer)) => {
                tokio::spawn(conn::serve_connection(
                    stream,
                    app.clone(),
                    shared.clone(),
                    permit,
                ));
            }
            Err(e) if is_connection_error(&e) => {}
            Err(e) => {
                // Out of files (EMFILE) or memory: keep the listener, let connections
                // close, try again.
                tracing::warn!(error = %e, "accept failed; retrying shortly");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
    drop(listener);
    let _ = shared.stage.send(Stage::Draining(Instant::now()));
    let all = permits.acquire_many(max);
    let cut = match tokio::time::timeout(shared.limits.shutdown(), all).await {
        Ok(_) => 0,
        Err(_) => {
            let open = max as usize - permits.available_permits();
            tracing::warn!(
                open,
                "connections still open at the shutdown timeout; cutting them"
            );
            let _ = shared.stage.send(Stage::Cut);
            // Cut connections close at their next poll; wait for them briefly so the
            // caller's next steps (releasing sessions) see no request running.
            let _ = tokio::time::timeout(Duration::from_secs(1), permits.acquire_many(max)).await;
            open
        }
    };
    Stopped { cut }
}

/// Errors of one client's connection, not of the listener (as hyper 0.14 and axum
/// classify them): the next accept is tried at once.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// A future that resolves on Ctrl-C or, on Unix, SIGTERM (what orchestrators send):
/// the usual `shutdown` future for [`serve`].
///
/// Called inside a Tokio runtime, it installs its signal handlers at once, so a
/// signal that arrives before the future is first polled still stops the server
/// instead of killing the process; outside one, when first polled.
pub fn stop_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, Signal, SignalKind};
        fn install() -> Option<(Signal, Signal)> {
            Some((
                signal(SignalKind::interrupt()).ok()?,
                signal(SignalKind::terminate()).ok()?,
            ))
        }
        let eager = tokio::runtime::Handle::try_current()
            .ok()
            .and_then(|_| install());
        async move {
            match eager.or_else(install) {
                Some((mut int, mut term)) => {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                None => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
