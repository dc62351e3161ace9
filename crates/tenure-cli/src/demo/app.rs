//! The demo web app one node serves: a counter, a cart, login and logout, as an API
//! (JSON or plain text) and as an HTML page whose forms post back to it.

use std::sync::{Arc, OnceLock};

use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use tenure_axum::{CookieConfig, CookieConfigError, Session, SessionFailure, SessionLayer};
use tenure_core::{Consistency, Key};
use tenure_node::{Node, NodeStats};

use super::devices::{self, DEVICE, MAX_DEVICE};
use super::page::{self, back_home, refused, wants_html, Page};

/// The attributes the demo keeps.
pub const COUNTER: Key<u64> = Key::new("counter");
/// The cart: item names in order.
pub const CART: Key<Vec<String>> = Key::new("cart");
/// The logged-in user.
pub const USER: Key<String> = Key::new("user");
/// The session's last form posts from a browser, each with the node that served it
/// (API calls do not touch it).
pub const HISTORY: Key<Vec<String>> = Key::new("history");

/// Longest cart item or user name accepted.
const MAX_TEXT: usize = 100;
/// Most items a cart holds.
const MAX_ITEMS: usize = 100;

/// The response header naming the node that served a request.
pub const NODE_HEADER: &str = "x-tenure-node";

/// The response header naming the node that received the request (from the router or
/// a client): the node of `X-Tenure-Node`, or one that forwarded it there.
pub const VIA_HEADER: &str = "x-tenure-via";

/// The nodes whose counters the page shows: every node of a demo (set once they have
/// all started), or the serving node alone.
#[derive(Clone, Default)]
pub struct Peers(Arc<OnceLock<Vec<Node>>>);

impl std::fmt::Debug for Peers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Peers")
            .field(&self.0.get().map(Vec::len))
            .finish()
    }
}

impl Peers {
    /// Sets the nodes (the first call wins).
    pub fn set(&self, nodes: Vec<Node>) {
        let _ = self.0.set(nodes);
    }

    /// Each node's name and counters.
    pub fn stats(&self) -> Vec<(String, NodeStats)> {
        let nodes = self.0.get().map(Vec::as_slice).unwrap_or_default();
        nodes
            .iter()
            .map(|n| (n.config().label.clone(), n.stats()))
            .collect()
    }
}

#[derive(Clone)]
pub(super) struct AppState {
    pub(super) node: Node,
    name: String,
    mode: Consistency,
    peers: Peers,
}

/// The demo app for one node called `name`; its page shows this node's counters.
/// `cookies` sets the session cookie (the demo runs over plain HTTP, so it is not
/// `Secure`).
pub fn app(node: Node, name: &str, cookies: CookieConfig) -> Result<Router, CookieConfigError> {
    app_routed(node, name, cookies, None)
}

/// [`app`], naming this node in the route cookie `(name, value)` if given
/// (`SessionLayer::with_route_cookie`), for a balancer that sticks by it.
pub fn app_routed(
    node: Node,
    name: &str,
    cookies: CookieConfig,
    route: Option<(String, String)>,
) -> Result<Router, CookieConfigError> {
    let peers = Peers::default();
    peers.set(vec![node.clone()]);
    build(node, name, cookies, peers, route)
}

/// The demo app for one node called `name`, whose page shows the counters of every
/// node in `peers`.
pub fn app_with_peers(
    node: Node,
    name: &str,
    cookies: CookieConfig,
    peers: Peers,
) -> Result<Router, CookieConfigError> {
    build(node, name, cookies, peers, None)
}

fn build(
    node: Node,
    name: &str,
    cookies: CookieConfig,
    peers: Peers,
    route: Option<(String, String)>,
) -> Result<Router, CookieConfigError> {
    let header = HeaderValue::from_str(name).unwrap_or(HeaderValue::from_static("node"));
    let mode = node.config().consistency;
    let stats_node = node.clone();
    let stats_node_for_state = node.clone();
    let mut sessions = SessionLayer::new(node).with_cookies(cookies)?;
    if let Some((cookie, value)) = route {
        sessions = sessions.with_route_cookie(cookie, value).check()?;
    }
    Ok(Router::new()
        .route("/", get(page))
        .route("/counter", get(counter).post(increment))
        .route("/cart", get(cart).post(add_to_cart))
        .route("/session", get(show_session))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/devices", get(devices::devices))
        .route("/logout-everywhere", post(devices::logout_everywhere))
        .layer(sessions)
        // The node's counters, one `name value` per line; outside the session layer,
        // so reading them neither touches nor forwards a session.
        .route(
            "/stats",
            get(move || {
                let stats = stats_node.stats();
                async move {
                    stats
                        .pairs()
                        .iter()
                        .map(|(name, n)| format!("{name} {n}\n"))
                        .collect::<String>()
                }
            }),
        )
        .layer(axum::middleware::map_response(move |mut res: Response| {
            let header = header.clone();
            async move {
                // A response forwarded from the holder already names the node that
                // served it.
                res.headers_mut()
                    .entry(NODE_HEADER)
                    .or_insert(header.clone());
                res.headers_mut().insert(VIA_HEADER, header);
                res
            }
        }))
        .with_state(AppState {
            node: stats_node_for_state,
            name: name.to_string(),
            mode,
            peers,
        }))
}

/// Appends `what` (and the serving node) to the session's form-post history.
async fn remember(session: &Session, state: &AppState, what: &str) -> Result<(), SessionFailure> {
    let mut history = session.get(&HISTORY).await?.unwrap_or_default();
    history.push(format!("{what} — served by {}", state.name));
    let excess = history.len().saturating_sub(page::HISTORY_LEN);
    history.drain(..excess);
    session.insert(&HISTORY, history).await?;
    Ok(())
}

/// The answer to a browser's form post that `result` ended: 303 back to the page once
/// `what` is in the history, or the failure.
async fn form_done(
    session: &Session,
    state: &AppState,
    result: Result<String, SessionFailure>,
) -> Response {
    let result = match result {
        Ok(what) => remember(session, state, &what).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => back_home(),
        Err(e) => e.into_response(),
    }
}

async fn counter(session: Session) -> Result<String, SessionFailure> {
    Ok(session.get(&COUNTER).await?.unwrap_or(0).to_string())
}

async fn increment(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let mut n = session.get_mut_or_insert_with(&COUNTER, || 0).await?;
        *n += 1;
        Ok::<_, SessionFailure>(*n)
    }
    .await;
    if wants_html(&headers) {
        let result = result.map(|n| format!("counter → {n}"));
        return form_done(&session, &state, result).await;
    }
    match result {
        Ok(n) => n.to_string().into_response(),
        Err(e) => e.into_response(),
    }
}

async fn cart(session: Session) -> Result<Json<Vec<String>>, SessionFailure> {
    Ok(Json(session.get(&CART).await?.unwrap_or_default()))
}

#[derive(Deserialize)]
struct ItemForm {
    item: String,
}

#[derive(Deserialize)]
struct UserForm {
    user: String,
    /// A name for the device, shown by `GET /devices` (else the `User-Agent`).
    #[serde(default)]
    device: Option<String>,
}

/// Reads a form or JSON body, by content type.
async fn form_or_json<T: serde::de::DeserializeOwned + Send + 'static>(
    req: Request,
) -> Result<T, Response> {
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json {
        Json::<T>::from_request(req, &())
            .await
            .map(|Json(v)| v)
            .map_err(IntoResponse::into_response)
    } else {
        Form::<T>::from_request(req, &())
            .await
            .map(|Form(v)| v)
            .map_err(IntoResponse::into_response)
    }
}

/// A 400 saying `why`: plain text for API clients, a page for browsers.
fn bad_request(html: bool, state: &AppState, why: &'static str) -> Response {
    if html {
        refused(StatusCode::BAD_REQUEST, why, &state.name)
    } else {
        (StatusCode::BAD_REQUEST, why).into_response()
    }
}

fn valid_text(s: &str) -> bool {
    !s.trim().is_empty() && s.len() <= MAX_TEXT && !s.chars().any(char::is_control)
}

async fn add_to_cart(State(state): State<AppState>, session: Session, req: Request) -> Response {
    let html = wants_html(req.headers());
    let item = match form_or_json::<ItemForm>(req).await {
        Ok(f) if valid_text(&f.item) => f.item,
        Ok(_) => return bad_request(html, &state, "item must be 1 to 100 printable characters"),
        Err(rejection) => return rejection,
    };
    let result = async {
        let mut cart = session.get_mut_or_insert_with(&CART, Vec::new).await?;
        if cart.len() >= MAX_ITEMS {
            return Ok(None);
        }
        cart.push(item);
        Ok::<_, SessionFailure>(Some(cart.clone()))
    }
    .await;
    match result {
        Ok(Some(cart)) if html => {
            let what = format!(
                "cart + {} ({} in the cart)",
                cart[cart.len() - 1],
                cart.len()
            );
            form_done(&session, &state, Ok(what)).await
        }
        Ok(Some(cart)) => Json(cart).into_response(),
        Ok(None) => bad_request(html, &state, "the cart is full"),
        Err(e) => e.into_response(),
    }
}

async fn show_session(
    State(state): State<AppState>,
    session: Session,
) -> Result<Json<serde_json::Value>, SessionFailure> {
    let counter = session.get(&COUNTER).await?.unwrap_or(0);
    // Read after the session's first use: until then `id()` is `None` (a cookie is
    // only a claim), and after it `None` unless a presented cookie named a live
    // session (tests/demo_session_id.rs).
    let id = session.id();
    Ok(Json(serde_json::json!({
        "node": state.name,
        "id": id.as_ref().map(|i| format!("{}…", i.prefix())),
        "counter": counter,
        "cart": session.get(&CART).await?.unwrap_or_default(),
        "user": session.get(&USER).await?,
        "principal": session.principal().await?,
    })))
}

async fn login(State(state): State<AppState>, session: Session, req: Request) -> Response {
    let html = wants_html(req.headers());
    let agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (user, device) = match form_or_json::<UserForm>(req).await {
        Ok(f) if valid_text(&f.user) => (f.user, f.device.or(agent)),
        Ok(_) => return bad_request(html, &state, "user must be 1 to 100 printable characters"),
        Err(rejection) => return rejection,
    };
    // A label, not an input anything depends on: cut to size, controls dropped.
    let device: String = device
        .unwrap_or_else(|| "unknown".into())
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_DEVICE)
        .collect();
    let result = async {
        // A new id on privilege change: an id planted before login is worthless after.
        session.rotate_id().await?;
        session.insert(&USER, user.clone()).await?;
        session.insert(&DEVICE, device).await?;
        // Who the session belongs to, for the store's index of a user's sessions.
        session.set_principal(&user).await?;
        Ok::<_, SessionFailure>(())
    }
    .await;
    if html {
        let result = result.map(|()| format!("logged in as {user}, new session id"));
        return form_done(&session, &state, result).await;
    }
    result
        .map(|()| Json(serde_json::json!({ "user": user })))
        .into_response()
}

async fn logout(session: Session, headers: HeaderMap) -> Result<Response, SessionFailure> {
    session.delete().await?;
    if wants_html(&headers) {
        return Ok(back_home());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn page(
    State(state): State<AppState>,
    session: Session,
) -> Result<Html<String>, SessionFailure> {
    let counter = session.get(&COUNTER).await?.unwrap_or(0);
    let page = Page {
        node: &state.name,
        mode: state.mode,
        counter,
        cart: session.get(&CART).await?.unwrap_or_default(),
        user: session.get(&USER).await?,
        history: session.get(&HISTORY).await?.unwrap_or_default(),
        // After the session's first use: only a live session has an id.
        id: session.id().map(|i| format!("{}…", i.prefix())),
        stats: state.peers.stats(),
    };
    Ok(Html(page.render()))
}
