//! The tower layer and service that give each request its session.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::response::IntoResponse;
use axum::BoxError;
use cookie::{Key, SameSite};
use http::{Request, Response, StatusCode};
use tenure_core::{Codec, MessagePack};
use tenure_node::{Node, Route};
use tower::Layer;
use tower_service::Service;

use crate::cookies::{CookieConfigError, Protection};
use crate::forward::{self, Forwarded, Forwarder};
use crate::handle::Handle;
use crate::route_cookie::RouteCookie;
use crate::{CookieConfig, DiscardSession, SessionFailure};

/// How often a request whose forward found the session moving is routed (with
/// pauses of 1, 2, 4 … 32 ms, 63 ms in all) before it is served where it is.
const MAX_ROUTES: usize = 7;

/// Adds Tenure sessions to a service: reads the session cookie, hands the handler a
/// lazily loaded [`Session`](crate::Session), and after the handler returns ends the
/// request under the node's write policy (by default the response leaves only once
/// the store has the changes), then sets or clears the cookie.
///
/// When a request carries several cookies of the session's name (a browser holds one
/// per path and domain), the first that verifies and names a live session is used and
/// the others are ignored; if that was not the first, the response sets the cookie
/// again. At most 4 verified ids, from the first 32 cookies of the name, are tried:
/// each that names no session costs one store call, and one cookie costs nothing
/// extra.
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
/// Cookie settings are builders; a setting that cannot work (an invalid cookie name)
/// is reported by [`check`](Self::check), and a layer that was never checked answers
/// every request with a 500 and logs why, rather than send broken cookies.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use axum::{routing::get, Router};
/// use tenure_axum::{Key, SameSite, Session, SessionLayer};
/// use tenure_node::{Node, NodeConfig};
/// use tenure_store::MemoryStore;
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let node = Node::start(Arc::new(MemoryStore::new()), NodeConfig::default()).await?;
/// let sessions = SessionLayer::new(node)
///     .with_name("sid")
///     .with_same_site(SameSite::Strict)
///     .with_max_age(Duration::from_secs(7 * 24 * 3600))
///     .with_signed(Key::generate())
///     .check()?;
/// let app: Router = Router::new()
///     .route("/", get(|session: Session| async move {
///         session.get::<String>("user").await.ok().flatten().unwrap_or_default()
///     }))
///     .layer(sessions);
/// # let _ = app;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct SessionLayer<C: Codec = MessagePack> {
    node: Node<C>,
    settings: Arc<Settings>,
    forwarder: Forwarder,
}

#[derive(Debug, Clone)]
struct Settings {
    cookies: CookieConfig,
    keep_on_server_error: bool,
    route: Option<RouteCookie>,
}

impl Settings {
    fn validate(&self) -> Result<(), CookieConfigError> {
        self.cookies.validate()?;
        self.route.as_ref().map_or(Ok(()), RouteCookie::validate)
    }
}

impl<C: Codec> Clone for SessionLayer<C> {
    fn clone(&self) -> Self {
        Self {
            node: self.node.clone(),
            settings: self.settings.clone(),
            forwarder: self.forwarder.clone(),
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
                route: None,
            }),
            forwarder: Forwarder::default(),
        }
    }

    fn map(mut self, f: impl FnOnce(&mut Settings)) -> Self {
        f(Arc::make_mut(&mut self.settings));
        self
    }

    /// The cookie's base name (default `tenure`; sent as `__Host-tenure` when
    /// secure, path `/` and no domain allow it).
    pub fn with_name(self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.map(|s| s.cookies.name = name)
    }

    /// Send the cookie only over HTTPS (default true; false for plain-HTTP
    /// development).
    pub fn with_secure(self, secure: bool) -> Self {
        self.map(|s| s.cookies.secure = secure)
    }

    /// Hide the cookie from scripts (default true).
    pub fn with_http_only(self, http_only: bool) -> Self {
        self.map(|s| s.cookies.http_only = http_only)
    }

    /// The cookie's cross-site policy (default `Lax`).
    pub fn with_same_site(self, same_site: SameSite) -> Self {
        self.map(|s| s.cookies.same_site = same_site)
    }

    /// The cookie's domain scope (default none: this host only).
    pub fn with_domain(self, domain: impl Into<String>) -> Self {
        let domain = domain.into();
        self.map(|s| s.cookies.domain = Some(domain))
    }

    /// The cookie's path scope (default `/`).
    pub fn with_path(self, path: impl Into<String>) -> Self {
        let path = path.into();
        self.map(|s| s.cookies.path = path)
    }

    /// A persistent cookie that lives this long, re-sent whenever the session is
    /// used so that it slides (default none: the cookie ends with the browser
    /// session). The session's own timeouts are the node's
    /// ([`NodeConfig::with_expiry`](tenure_node::NodeConfig::with_expiry)).
    pub fn with_max_age(self, max_age: Duration) -> Self {
        self.map(|s| s.cookies.max_age = Some(max_age))
    }

    /// Sign the cookie with `key` (tamper-evident; the id stays readable).
    pub fn with_signed(self, key: Key) -> Self {
        self.map(|s| s.cookies.protection = Protection::Signed(vec![key]))
    }

    /// Encrypt and sign the cookie with `key`.
    pub fn with_private(self, key: Key) -> Self {
        self.map(|s| s.cookies.protection = Protection::Private(vec![key]))
    }

    /// Replaces all cookie settings at once (for key rotation: [`Protection`] with
    /// several keys).
    pub fn with_cookies(self, cookies: CookieConfig) -> Result<Self, CookieConfigError> {
        cookies.validate()?;
        Ok(self.map(|s| s.cookies = cookies))
    }

    /// Store a request's session changes even when its response is a server error
    /// (default: discard them).
    pub fn keep_changes_on_server_error(self, keep: bool) -> Self {
        self.map(|s| s.keep_on_server_error = keep)
    }

    /// Names this node in a route cookie, for a load balancer that sticks by a
    /// cookie the application sets: a response of a request that used its session
    /// here sets `name=value` (with the session cookie's path, domain and flags, for
    /// the browser session) unless the request already carried it. Requests another
    /// node forwarded here count as served here, so after one forwarded request the
    /// balancer sends the session to the node that holds it. The value names a node
    /// to the balancer (1 to 64 letters, digits or `-._~:`); it grants nothing.
    /// Default: none.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use tenure_axum::SessionLayer;
    /// # use tenure_node::{Node, NodeConfig};
    /// # use tenure_store::MemoryStore;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::start(Arc::new(MemoryStore::new()), NodeConfig::default()).await?;
    /// // HAProxy: `use-server app1 if { req.cook(route) app1 }` for each server.
    /// let layer = SessionLayer::new(node).with_route_cookie("route", "app1").check()?;
    /// # let _ = layer;
    /// # Ok(()) }
    /// ```
    pub fn with_route_cookie(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let route = RouteCookie {
            name: name.into(),
            value: value.into(),
        };
        self.map(|s| s.route = Some(route))
    }

    /// Checks that the cookie settings (and the route cookie's) can work; call it at
    /// startup.
    pub fn check(self) -> Result<Self, CookieConfigError> {
        self.settings.validate()?;
        Ok(self)
    }
}

impl<S, C: Codec> Layer<S> for SessionLayer<C> {
    type Service = SessionService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        let invalid = self.settings.validate().err().map(Arc::new);
        if let Some(e) = &invalid {
            tracing::error!(error = %e, "session layer misconfigured; every request will fail");
        }
        SessionService {
            inner,
            node: self.node.clone(),
            settings: self.settings.clone(),
            forwarder: self.forwarder.clone(),
            invalid,
        }
    }
}

/// The service [`SessionLayer`] wraps around an inner service.
#[derive(Debug)]
pub struct SessionService<S, C: Codec = MessagePack> {
    inner: S,
    node: Node<C>,
    settings: Arc<Settings>,
    forwarder: Forwarder,
    invalid: Option<Arc<CookieConfigError>>,
}

impl<S: Clone, C: Codec> Clone for SessionService<S, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            node: self.node.clone(),
            settings: self.settings.clone(),
            forwarder: self.forwarder.clone(),
            invalid: self.invalid.clone(),
        }
    }
}

impl<S, C, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S, C>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    C: Codec,
    ReqBody: HttpBody<Data = Bytes> + From<Bytes> + Send + 'static,
    ReqBody::Error: Into<BoxError>,
    ResBody: HttpBody<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        if let Some(e) = &self.invalid {
            tracing::error!(error = %e, "session layer misconfigured");
            return Box::pin(async { Ok(StatusCode::INTERNAL_SERVER_ERROR.into_response()) });
        }
        let settings = self.settings.clone();
        let presented = settings.cookies.read_presented(req.headers());
        // Whether the client's balancer already routes this session here.
        let routed_here = settings
            .route
            .as_ref()
            .is_none_or(|r| r.presented(req.headers()));
        let claim = forward::take_claim(&mut req, &self.node);
        let node = self.node.clone();
        let forwarder = self.forwarder.clone();
        // The ready service is the one to call; leave a fresh clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let first = presented.first().map(|p| p.id.clone());
            let mut give_up = None;
            match (&first, &claim) {
                // Forwarded by another node: served here, never forwarded again; unless
                // the session is not held here any more, which the sender learns.
                (Some(sid), Some(_)) if !node.holds(sid) => return Ok(forward::not_here()),
                (Some(sid), Some(origin)) if node.note_forwarded(sid, origin) => {
                    give_up = Some(sid.clone());
                }
                (Some(_), Some(_)) => {}
                (Some(sid), None) if node.forwarding_on() => {
                    let patience = node.config().acquire_timeout;
                    // A stale location (the session is moving: its old holder answered
                    // 421) is routed again, for a few milliseconds, until the store
                    // names the new holder; only then is the request served here, so
                    // a handoff under way is not turned into a race for the session.
                    let mut refused = None;
                    let mut pause = Duration::from_millis(1);
                    for attempt in 0..MAX_ROUTES {
                        match node.route(sid).await {
                            Route::Forward(to) if refused.as_ref() != Some(&to.holder) => {
                                match forwarder.forward(req, &to, &node, patience).await {
                                    Forwarded::Answered(response) => return Ok(response),
                                    Forwarded::NotSent(back) => {
                                        req = back;
                                        break;
                                    }
                                    Forwarded::Elsewhere(back) => {
                                        req = back;
                                        refused = Some(to.holder);
                                    }
                                }
                            }
                            Route::Moving if attempt + 1 < MAX_ROUTES => {}
                            _ if refused.is_none() => {
                                node.note_direct(sid);
                                break;
                            }
                            _ if attempt + 1 < MAX_ROUTES => {}
                            _ => break,
                        }
                        tokio::time::sleep(pause).await;
                        pause *= 2;
                    }
                }
                _ => {}
            }
            let handle = Handle::open(&node, &presented, claim.is_some());
            req.extensions_mut().insert(handle.clone());
            let mut response = inner.call(req).await?.map(Body::new);
            if let Some(sid) = &give_up {
                // The move rule: this answer hands the session to the forwarding node.
                node.give_up(sid);
                forward::tell_take(&mut response);
            }
            let cookies = &settings.cookies;
            let taken = match handle.0.slot.try_lock() {
                Ok(mut slot) => slot.take(&presented),
                Err(_) => {
                    // Never wait here: whoever holds it may be waiting for this response.
                    tracing::error!(
                        "session still in use after the handler returned (a call running in \
                         a spawned task); its changes are discarded"
                    );
                    return Ok(StatusCode::INTERNAL_SERVER_ERROR.into_response());
                }
            };
            let Some((session, presented)) = taken else {
                return Ok(response);
            };
            // A rotation or deletion already took effect at the store: whatever happens
            // next, the client must learn the id that now names its session.
            let current = session.id().cloned();
            // The session's own cookie lifetime, as it will be stored if this ends well.
            let lifetime = session
                .expiry()
                .map(|e| e.cookie_max_age(std::time::SystemTime::now()));
            let renew = session.expiry_changed();
            let discard = response.extensions().get::<DiscardSession>().is_some()
                || (response.status().is_server_error() && !settings.keep_on_server_error);
            if discard {
                drop(session); // releases its locks; stores nothing
                cookies.apply(
                    response.headers_mut(),
                    presented.as_ref(),
                    current.as_ref(),
                    false,
                    None,
                    false,
                );
                return Ok(response);
            }
            match session.end().await {
                Ok(report) => {
                    cookies.apply(
                        response.headers_mut(),
                        presented.as_ref(),
                        report.id.as_ref(),
                        report.used,
                        lifetime,
                        renew,
                    );
                    // Handed over by the move rule: the next holder is the sender.
                    let held_here = report.id.is_some() && give_up.is_none();
                    if let Some(route) = settings.route.as_ref().filter(|_| held_here) {
                        if !routed_here {
                            route.set(response.headers_mut(), cookies);
                        }
                    }
                }
                Err(e) => {
                    response = SessionFailure(e).into_response();
                    cookies.apply(
                        response.headers_mut(),
                        presented.as_ref(),
                        current.as_ref(),
                        false,
                        None,
                        false,
                    );
                }
            }
            Ok(response)
        })
    }
}
