//! The front router: one port that spreads requests over the nodes, like a load
//! balancer with configurable stickiness.
//!
//! With probability `affinity`, a session's request goes to the node that served its
//! previous one; otherwise to a node picked at random (which may be the same one).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tenure_core::sync::lock;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

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

struct Front {
    backends: Vec<SocketAddr>,
    affinity: f64,
    cookie: String,
    /// Session cookie value -> the node that served it last.
    last: Mutex<HashMap<String, usize>>,
    rng: Mutex<StdRng>,
    client: Client<HttpConnector, Body>,
}

/// The router app in front of `backends`. `cookie` is the session cookie's name.
pub fn router(backends: Vec<SocketAddr>, affinity: f64, cookie: String, seed: u64) -> Router {
    let front = Front {
        backends,
        affinity: affinity.clamp(0.0, 1.0),
        cookie,
        last: Mutex::default(),
        rng: Mutex::new(StdRng::seed_from_u64(seed)),
        client: Client::builder(TokioExecutor::new()).build_http(),
    };
    Router::new().fallback(proxy).with_state(Arc::new(front))
}

impl Front {
    /// The session cookie's value in a `Cookie` or `Set-Cookie` header value.
    fn session_of(&self, value: &str) -> Option<String> {
        value.split(';').map(str::trim).find_map(|pair| {
            let (name, v) = pair.split_once('=')?;
            (name == self.cookie && !v.is_empty()).then(|| v.to_string())
        })
    }

    fn pick(&self, session: Option<&String>) -> usize {
        let mut rng = lock(&self.rng);
        let sticky = rng.random_bool(self.affinity);
        let previous = session.and_then(|s| lock(&self.last).get(s).copied());
        match previous {
            Some(i) if sticky => i,
            _ => rng.random_range(0..self.backends.len()),
        }
    }
}

async fn proxy(State(front): State<Arc<Front>>, mut req: Request) -> Response {
    let session = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| front.session_of(v));
    let i = front.pick(session.as_ref());
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let Ok(uri) = Uri::try_from(format!("http://{}{path}", front.backends[i])) else {
        return (StatusCode::BAD_REQUEST, "bad request target").into_response();
    };
    *req.uri_mut() = uri;
    strip_hop_by_hop(req.headers_mut());
    match front.client.request(req).await {
        Ok(mut res) => {
            strip_hop_by_hop(res.headers_mut());
            let mut last = lock(&front.last);
            // Only sessions a node handed out are remembered; a client's made-up
            // cookies are not.
            if let Some(previous) = session.and_then(|s| last.get_mut(&s)) {
                *previous = i;
            }
            for v in res
                .headers()
                .get_all(header::SET_COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
            {
                if let Some(s) = front.session_of(v) {
                    if last.len() >= MAX_REMEMBERED {
                        last.clear();
                    }
                    last.insert(s, i);
                }
            }
            res.map(Body::new)
        }
        Err(e) => {
            tracing::warn!(node = %front.backends[i], error = %e, "node unreachable");
            (StatusCode::BAD_GATEWAY, "node unreachable").into_response()
        }
    }
}
