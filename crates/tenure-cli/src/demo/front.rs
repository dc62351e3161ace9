//! The front router: one port that spreads requests over the nodes, like a load
//! balancer with configurable stickiness, and that fails over.
//!
//! With probability `affinity`, a session's request goes to the node that served its
//! previous one (or, with a route cookie configured, to the node whose address the
//! request's route cookie holds), while that node is up; otherwise to a live node picked at random
//! (which may be the same one). A node whose connection fails (refused, or not
//! established within the connect timeout) is marked down and the request is tried
//! on another: nothing was sent, so nothing can be applied twice. A request that may
//! have reached a node is never retried: a broken connection answers `502`, no answer
//! within the upstream timeout `504`, and both mark the node down. The health check
//! ([`upstream`](super::upstream)) brings nodes back. `502 every node is down` only
//! when every node refused.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tenure_core::sync::lock;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::upstream::{spawn_health_checks, Upstreams};

/// Most sessions the router remembers; beyond it, it forgets them all (the demo's
/// workload has far fewer, but `--serve` faces whatever a client sends).
const MAX_REMEMBERED: usize = 100_000;

/// Headers that concern one connection only, never forwarded by a proxy (RFC 9110).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|n| n.trim().to_ascii_lowercase()))
        .collect();
    for name in HOP_BY_HOP.iter().map(|n| n.to_string()).chain(named) {
        headers.remove(name.as_str());
    }
}

/// How the router treats its nodes.
#[derive(Debug, Clone)]
pub struct FrontConfig {
    /// Probability that a session's next request goes to the node that served its last.
    pub affinity: f64,
    /// The session cookie's name.
    pub cookie: String,
    /// A route cookie the nodes set (`tenure serve --route-cookie`), if any: a request
    /// whose route cookie holds a node's address is sticky to that node instead of to
    /// the one that served its last request.
    pub route_cookie: Option<String>,
    /// Seed of the random choices.
    pub seed: u64,
    /// Longest wait for a node's answer (its response head) before `504`. Longer
    /// than a node's own acquire timeout (15 s by default), so a node normally
    /// answers for itself.
    pub upstream_timeout: Duration,
    /// Longest wait for a connection to a node, and for a health check's answer.
    pub connect_timeout: Duration,
    /// How often every node is health-checked.
    pub health_interval: Duration,
}

impl FrontConfig {
    /// The defaults (upstream timeout 20 s, connect timeout 1 s, health checks every
    /// 500 ms) with these choices.
    pub fn new(affinity: f64, cookie: String, seed: u64) -> Self {
        Self {
            affinity,
            cookie,
            route_cookie: None,
            seed,
            upstream_timeout: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(1),
            health_interval: Duration::from_millis(500),
        }
    }
}

/// Largest request body the router forwards. It holds a body until a node has
/// accepted the connection, so that a refused request can go to another node; the
/// nodes refuse bodies this large anyway (axum's default limit).
const MAX_BODY: usize = 2 * 1024 * 1024;

struct Front {
    upstreams: Arc<Upstreams>,
    affinity: f64,
    cookie: String,
    route_cookie: Option<String>,
    upstream_timeout: Duration,
    /// Session cookie value -> the node that served it last.
    last: Mutex<HashMap<String, usize>>,
    rng: Mutex<StdRng>,
    client: Client<HttpConnector, Body>,
}

/// The router app in front of `backends`, with the default timeouts. `cookie` is
/// the session cookie's name.
#[allow(clippy::needless_pass_by_value)] // kept: the signature its callers use
pub fn router(backends: Vec<SocketAddr>, affinity: f64, cookie: String, seed: u64) -> Router {
    router_with(&backends, FrontConfig::new(affinity, cookie, seed))
}

/// The router app in front of `backends`. Starts the health checks, which end when
/// the router is dropped.
pub fn router_with(backends: &[SocketAddr], config: FrontConfig) -> Router {
    let upstreams = Upstreams::new(backends);
    spawn_health_checks(&upstreams, config.health_interval, config.connect_timeout);
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(config.connect_timeout));
    connector.set_nodelay(true);
    let front = Front {
        upstreams,
        affinity: config.affinity.clamp(0.0, 1.0),
        cookie: config.cookie,
        route_cookie: config.route_cookie,
        upstream_timeout: config.upstream_timeout,
        last: Mutex::default(),
        rng: Mutex::new(StdRng::seed_from_u64(config.seed)),
        client: Client::builder(TokioExecutor::new()).build(connector),
    };
    Router::new().fallback(proxy).with_state(Arc::new(front))
}

impl Front {
    /// The session cookie's value in a `Cookie` or `Set-Cookie` header value.
    fn session_of(&self, value: &str) -> Option<String> {
        cookie_in(value, &self.cookie)
    }

    /// The node a request's route cookie names by its address, if any.
    fn routed_to(&self, headers: &HeaderMap) -> Option<usize> {
        let name = self.route_cookie.as_ref()?;
        let value = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| cookie_in(v, name))?;
        let addr: SocketAddr = value.parse().ok()?;
        self.upstreams.nodes().iter().position(|n| n.addr == addr)
    }

    /// The node for a request of `session`, sticky to the node its route cookie names
    /// (`routed`) or else to the one that served it last, leaving out the nodes
    /// `tried`.
    fn pick(
        &self,
        session: Option<&String>,
        routed: Option<usize>,
        tried: &[bool],
    ) -> Option<usize> {
        let candidates = self.upstreams.candidates(tried);
        if candidates.is_empty() {
            return None;
        }
        let mut rng = lock(&self.rng);
        let sticky = rng.random_bool(self.affinity);
        let previous = routed.or_else(|| session.and_then(|s| lock(&self.last).get(s).copied()));
        match previous {
            // The sticky choice holds only while its node is a candidate (up, not
            // tried); otherwise the session moves to a live node.
            Some(i) if sticky && candidates.contains(&i) => Some(i),
            _ => Some(candidates[rng.random_range(0..candidates.len())]),
        }
    }

    /// Remembers that node `i` served `session` and any session it handed out.
    fn remember(&self, session: Option<String>, i: usize, headers: &HeaderMap) {
        let mut last = lock(&self.last);
        // Only sessions a node handed out are remembered; a client's made-up
        // cookies are not.
        if let Some(previous) = session.and_then(|s| last.get_mut(&s)) {
            *previous = i;
        }
        for v in headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
        {
            if let Some(s) = self.session_of(v) {
                if last.len() >= MAX_REMEMBERED {
                    last.clear();
                }
                last.insert(s, i);
            }
        }
    }
}

/// The value of cookie `name` in a `Cookie` or `Set-Cookie` header value.
fn cookie_in(value: &str, name: &str) -> Option<String> {
    value.split(';').map(str::trim).find_map(|pair| {
        let (n, v) = pair.split_once('=')?;
        (n == name && !v.is_empty()).then(|| v.to_string())
    })
}

fn answer(status: StatusCode, text: &str) -> Response {
    (status, format!("{text}\n")).into_response()
}

async fn proxy(State(front): State<Arc<Front>>, req: Request) -> Response {
    let session = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| front.session_of(v));
    let routed = front.routed_to(req.headers());
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => {
            return answer(StatusCode::PAYLOAD_TOO_LARGE, "request body too large")
        }
        // A body that timed out is answered 408 by the server around this app.
        Err(_) => return answer(StatusCode::BAD_REQUEST, "the request body broke off"),
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut headers = parts.headers.clone();
    strip_hop_by_hop(&mut headers);
    let mut tried = vec![false; front.upstreams.nodes().len()];
    loop {
        let Some(i) = front.pick(session.as_ref(), routed, &tried) else {
            return answer(StatusCode::BAD_GATEWAY, "every node is down");
        };
        tried[i] = true;
        let node = &front.upstreams.nodes()[i];
        let Ok(uri) = Uri::try_from(format!("http://{}{path}", node.addr)) else {
            return answer(StatusCode::BAD_REQUEST, "bad request target");
        };
        let mut forwarded = http::Request::new(Body::from(body.clone()));
        *forwarded.method_mut() = parts.method.clone();
        *forwarded.uri_mut() = uri;
        *forwarded.headers_mut() = headers.clone();
        let sent = tokio::time::timeout(front.upstream_timeout, front.client.request(forwarded));
        match sent.await {
            Ok(Ok(mut res)) => {
                strip_hop_by_hop(res.headers_mut());
                front.remember(session, i, res.headers());
                return res.map(Body::new);
            }
            Ok(Err(e)) if e.is_connect() => {
                // Nothing was sent: safe to try the next node.
                tracing::debug!(node = %node.addr, error = %e, "connection failed; trying another node");
                node.mark_down("connection failed");
            }
            Ok(Err(e)) => {
                tracing::warn!(node = %node.addr, error = %e, "node broke the connection");
                node.mark_down("connection broke");
                return answer(
                    StatusCode::BAD_GATEWAY,
                    "the node broke the connection; the request may or may not have been applied",
                );
            }
            Err(_) => {
                node.mark_down("no answer in time");
                return answer(
                    StatusCode::GATEWAY_TIMEOUT,
                    &format!(
                        "the node did not answer within {:?}; the request may or may not have been applied",
                        front.upstream_timeout
                    ),
                );
            }
        }
    }
}
