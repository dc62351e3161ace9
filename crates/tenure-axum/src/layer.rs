//! The tower layer and service that give each request its session.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::response::IntoResponse;
use http::{Request, Response, StatusCode};
use tenure_core::{Codec, MessagePack};
use tenure_node::Node;
use tokio::sync::Mutex;
use tower::Layer;
use tower_service::Service;

use crate::cookies::CookieConfigError;
use crate::extract::Handle;
use crate::{CookieConfig, DiscardSession, SessionFailure};

/// Adds Tenure sessions to a service: reads the session cookie, hands the handler a
/// lazily loaded [`Session`](crate::Session), and after the handler returns ends the
/// request under the node's write policy (by default the response leaves only once
/// the store has the changes), then sets or clears the cookie.
///
/// If ending the request fails, the handler's response is replaced by the error's
/// ([`SessionFailure`]): a response must not claim success for changes that were not
/// stored.
///
/// A request whose response is a server error (5xx, including a panic turned into a
/// 500 by `CatchPanicLayer`) or carries [`DiscardSession`] (as every
/// [`SessionFailure`] does) stores none of its session changes, so a client that
/// retries does not apply them twice. Client errors (4xx) keep them: a failed login may
/// count attempts. [`keep_changes_on_server_error`](Self::keep_changes_on_server_error)
/// changes the first rule. An id rotation or a deletion takes effect at once at the
/// store, so its cookie is sent whatever the outcome.
///
/// ```
/// use std::sync::Arc;
/// use axum::{routing::get, Router};
/// use tenure_axum::{Session, SessionLayer};
/// use tenure_node::{Node, NodeConfig};
/// use tenure_store::MemoryStore;
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let node = Node::start(Arc::new(MemoryStore::new()), NodeConfig::default()).await?;
/// let app: Router = Router::new()
///     .route("/", get(|session: Session| async move {
///         session.get::<String>("user").await.ok().flatten().unwrap_or_default()
///     }))
///     .layer(SessionLayer::new(node));
/// # let _ = app;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct SessionLayer<C: Codec = MessagePack> {
    node: Node<C>,
    settings: Arc<Settings>,
}

#[derive(Debug)]
struct Settings {
    cookies: CookieConfig,
    keep_on_server_error: bool,
}

impl<C: Codec> Clone for SessionLayer<C> {
    fn clone(&self) -> Self {
        Self {
            node: self.node.clone(),
            settings: self.settings.clone(),
        }
    }
}

impl<C: Codec> SessionLayer<C> {
    /// A layer on `node` with the default (secure) cookie settings.
    pub fn new(node: Node<C>) -> Self {
        Self {
            node,
            settings: Arc::new(Settings {
                cookies: CookieConfig::default(),
                keep_on_server_error: false,
            }),
        }
    }

    /// Replaces the cookie settings, if they can work ([`CookieConfig::validate`]).
    pub fn with_cookies(self, cookies: CookieConfig) -> Result<Self, CookieConfigError> {
        cookies.validate()?;
        let keep_on_server_error = self.settings.keep_on_server_error;
        Ok(Self {
            node: self.node,
            settings: Arc::new(Settings {
                cookies,
                keep_on_server_error,
            }),
        })
    }

    /// Store a request's session changes even when its response is a server error
    /// (default: discard them).
    pub fn keep_changes_on_server_error(self, keep: bool) -> Self {
        let cookies = self.settings.cookies.clone();
        Self {
            node: self.node,
            settings: Arc::new(Settings {
                cookies,
                keep_on_server_error: keep,
            }),
        }
    }
}

impl<S, C: Codec> Layer<S> for SessionLayer<C> {
    type Service = SessionService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            node: self.node.clone(),
            settings: self.settings.clone(),
        }
    }
}

/// The service [`SessionLayer`] wraps around an inner service.
#[derive(Debug)]
pub struct SessionService<S, C: Codec = MessagePack> {
    inner: S,
    node: Node<C>,
    settings: Arc<Settings>,
}

impl<S: Clone, C: Codec> Clone for SessionService<S, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            node: self.node.clone(),
            settings: self.settings.clone(),
        }
    }
}

impl<S, C, ReqBody> Service<Request<ReqBody>> for SessionService<S, C>
where
    S: Service<Request<ReqBody>, Response = Response<axum::body::Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    C: Codec,
    ReqBody: Send + 'static,
{
    type Response = Response<axum::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let settings = self.settings.clone();
        let presented = settings.cookies.read_presented(req.headers());
        let session = self.node.session(presented.as_ref().map(|p| p.id.clone()));
        let handle = Handle(Arc::new(Mutex::new(Some(session))));
        req.extensions_mut().insert(handle.clone());
        // The ready service is the one to call; leave a fresh clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let mut response = inner.call(req).await?;
            let cookies = &settings.cookies;
            let session = match handle.0.try_lock() {
                Ok(mut slot) => slot.take(),
                Err(_) => {
                    // Never wait here: whoever holds it may be waiting for this response.
                    tracing::error!(
                        "session still borrowed after the handler returned (a get_mut guard \
                         kept in a task or a response body); its changes are discarded"
                    );
                    return Ok(StatusCode::INTERNAL_SERVER_ERROR.into_response());
                }
            };
            let Some(session) = session else {
                return Ok(response);
            };
            // A rotation or deletion already took effect at the store: whatever happens
            // next, the client must learn the id that now names its session.
            let current = session.id().cloned();
            let discard = response.extensions().get::<DiscardSession>().is_some()
                || (response.status().is_server_error() && !settings.keep_on_server_error);
            if discard {
                drop(session); // releases its locks; stores nothing
                cookies.apply(
                    response.headers_mut(),
                    presented.as_ref(),
                    current.as_ref(),
                    false,
                );
                return Ok(response);
            }
            match session.end().await {
                Ok(report) => cookies.apply(
                    response.headers_mut(),
                    presented.as_ref(),
                    report.id.as_ref(),
                    report.used,
                ),
                Err(e) => {
                    response = SessionFailure(e).into_response();
                    cookies.apply(
                        response.headers_mut(),
                        presented.as_ref(),
                        current.as_ref(),
                        false,
                    );
                }
            }
            Ok(response)
        })
    }
}
