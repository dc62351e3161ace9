//! One connection: hyper's HTTP/1 connection over a [`Watched`] stream, the app
//! behind a service that tracks busy time and body deadlines, and the watchdog that
//! closes the connection when its [`Watch`] says so.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::Router;
use http::{header, HeaderValue, Request, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::{watch, OwnedSemaphorePermit};
use tower_service::Service;

use super::body::{Deadline, Tracked};
use super::clock::{Watch, Watched};
use super::{ServerLimits, Stage};

/// What every connection of one server shares.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) limits: ServerLimits,
    pub(super) stage: watch::Sender<Stage>,
}

impl Shared {
    fn draining(&self) -> bool {
        !matches!(*self.stage.borrow(), Stage::Running)
    }
}

/// The app as hyper sees it on one connection.
#[derive(Clone)]
struct App {
    router: Router,
    watch: Arc<Watch>,
    shared: Arc<Shared>,
}

type Answer = Pin<Box<dyn Future<Output = Result<Response<Tracked>, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for App {
    type Response = Response<Tracked>;
    type Error = Infallible;
    type Future = Answer;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let busy = self.watch.begin();
        let expired = Arc::new(AtomicBool::new(false));
        let timeout = self.shared.limits.body_read();
        let req = req.map(|body| Body::new(Deadline::new(body, timeout, expired.clone())));
        let mut router = self.router.clone();
        let shared = self.shared.clone();
        Box::pin(async move {
            // A Router is always ready, so it may be called without `poll_ready`.
            let mut res = match router.call(req).await {
                Ok(res) => res,
                Err(never) => match never {},
            };
            if expired.load(Ordering::Relaxed) {
                // Whatever the handler made of the failed body: the client was slow.
                res = (
                    StatusCode::REQUEST_TIMEOUT,
                    format!("the request body did not arrive within {timeout:?}\n"),
                )
                    .into_response();
                res.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            if shared.draining() {
                // hyper closes the connection after this response: the client learns
                // it from the response itself, never from a reset.
                res.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Ok(res.map(|body| Tracked::new(body, busy)))
        })
    }
}

/// Serves `stream` until the client is done, a deadline passes, or the server cuts
/// it. `_permit` is this connection's place in the connection bound.
pub(super) async fn serve_connection(
    stream: TcpStream,
    router: Router,
    shared: Arc<Shared>,
    _permit: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let watch = Watch::new();
    let io = TokioIo::new(Watched {
        inner: stream,
        watch: watch.clone(),
    });
    let app = App {
        router,
        watch: watch.clone(),
        shared: shared.clone(),
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    // Head deadlines are the watch's (see `clock`), so hyper's own is off.
    builder.header_read_timeout(None).keep_alive(true);
    let conn = builder.serve_connection(io, app);
    let mut stage = shared.stage.subscribe();
    tokio::select! {
        result = conn => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        // Dropping the connection closes the socket.
        () = watch.expired(&shared.limits, &mut stage) => {
            tracing::debug!("connection closed by its deadline");
        }
    }
}
