//! The tower layer and service that give each request its session.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::response::IntoResponse;
use http::{Request, Response};
use tenure_core::{Codec, MessagePack};
use tenure_node::Node;
use tokio::sync::Mutex;
use tower::Layer;
use tower_service::Service;

use crate::extract::Handle;
use crate::{CookieConfig, SessionFailure};

/// Adds Tenure sessions to a service: reads the session cookie, hands the handler a
/// lazily loaded [`Session`](crate::Session), and after the handler returns ends the
/// request under the node's write policy (by default the response leaves only once
/// the store has the changes), then sets or clears the cookie.
///
/// If ending the request fails, the handler's response is replaced by the error's
/// ([`SessionFailure`]): a response must not claim success for changes that were not
/// stored.
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
    cookies: Arc<CookieConfig>,
}

impl<C: Codec> Clone for SessionLayer<C> {
    fn clone(&self) -> Self {
        Self {
            node: self.node.clone(),
            cookies: self.cookies.clone(),
        }
    }
}

impl<C: Codec> SessionLayer<C> {
    /// A layer on `node` with the default (secure) cookie settings.
    pub fn new(node: Node<C>) -> Self {
        Self {
            node,
            cookies: Arc::new(CookieConfig::default()),
        }
    }

    /// Replaces the cookie settings.
    pub fn with_cookies(mut self, cookies: CookieConfig) -> Self {
        self.cookies = Arc::new(cookies);
        self
    }
}

impl<S, C: Codec> Layer<S> for SessionLayer<C> {
    type Service = SessionService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            node: self.node.clone(),
            cookies: self.cookies.clone(),
        }
    }
}

/// The service [`SessionLayer`] wraps around an inner service.
#[derive(Debug)]
pub struct SessionService<S, C: Codec = MessagePack> {
    inner: S,
    node: Node<C>,
    cookies: Arc<CookieConfig>,
}

impl<S: Clone, C: Codec> Clone for SessionService<S, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            node: self.node.clone(),
            cookies: self.cookies.clone(),
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
        let presented = self.cookies.read(req.headers());
        let handle = Handle(Arc::new(Mutex::new(Some(
            self.node.session(presented.clone()),
        ))));
        req.extensions_mut().insert(handle.clone());
        // The ready service is the one to call; leave a fresh clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let cookies = self.cookies.clone();
        Box::pin(async move {
            let mut response = inner.call(req).await?;
            let Some(session) = handle.0.lock().await.take() else {
                return Ok(response);
            };
            match session.end().await {
                Ok(report) => cookies.apply(response.headers_mut(), presented.as_ref(), &report),
                Err(e) => response = SessionFailure(e).into_response(),
            }
            Ok(response)
        })
    }
}
