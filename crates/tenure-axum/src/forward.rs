//! The forwarding hop: passing a request to the node that holds its session, and
//! recognising a request another node forwarded here.
//!
//! The node decides where a session is ([`Node::route`]); this file moves the bytes.
//! The request goes out as it came (method, path, headers but the hop-by-hop ones,
//! body), plus [`FORWARDED`]: the holder's token and this node's owner id. The
//! holder's answer comes back as it is, less [`ROUTE`], which the holder uses to say
//! "I gave the session up; take it" (the move rule), or, with a 421 before any handler
//! ran, "I do not hold it" (the sender's location was stale: it routes once more,
//! and serves the request itself if that finds no other holder).
//!
//! What happens when the holder cannot answer:
//!
//! | failure | what this node does |
//! |---|---|
//! | no connection (refused, unreachable, connect timeout) | serves the request itself, by the store path (the holder never saw it) |
//! | body larger than [`MAX_FORWARDED_BODY`], or of unknown length above it | serves it itself: no buffering of uploads |
//! | sent, then no answer (the holder died or hung) and, checked every 500 ms, the store no longer names it the holder, or `acquire_timeout` passed | `GET`/`HEAD`: serves it itself; others: 504 `Tenure-Outcome: unknown`, since the holder may have stored it |

use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::response::IntoResponse;
use axum::BoxError;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tenure_core::Codec;
use tenure_node::{Forward, Node};

use crate::OUTCOME;

/// The header a forwarded request carries: `<the receiver's token> <the sender's owner
/// id>`. A request whose header does not hold the receiver's token is an ordinary
/// client request (the header is removed either way, so handlers never see it).
pub const FORWARDED: HeaderName = HeaderName::from_static("tenure-forwarded");

/// The response header of a forwarded request whose holder gave the session up for
/// the sender (`take`). Removed before the client sees the response.
pub const ROUTE: HeaderName = HeaderName::from_static("tenure-route");

/// The largest request body forwarded (it is read whole first, so that a holder that
/// cannot be reached costs nothing but the attempt). Larger requests are served here.
pub const MAX_FORWARDED_BODY: usize = 1024 * 1024;

/// While a holder has not answered, how often the store is asked whether it still
/// holds the session.
const WATCH_EVERY: Duration = Duration::from_millis(500);

/// How long a connection to a holder may take before the holder counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Headers that belong to one hop (RFC 9110 §7.6.1), not passed on.
const HOP_BY_HOP: [HeaderName; 6] = [
    header::CONNECTION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
];

/// The HTTP client of the forwarding hop: pooled keep-alive connections to the other
/// nodes. Cloning shares the pool.
#[derive(Debug, Clone)]
pub(crate) struct Forwarder {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Default for Forwarder {
    fn default() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Self { client }
    }
}

/// What became of a forward.
pub(crate) enum Forwarded<B> {
    /// The holder's answer, or this node's answer for it (504, 400).
    Answered(Response<Body>),
    /// The holder did not get the request: here it is back, to serve here.
    NotSent(Request<B>),
    /// The node no longer holds the session and did not serve the request (this
    /// node's location was stale): here it is back, to route again.
    Elsewhere(Request<B>),
}

/// The sender named in a trusted [`FORWARDED`] header, which is removed from the
/// request in every case.
pub(crate) fn take_claim<B, C: Codec>(req: &mut Request<B>, node: &Node<C>) -> Option<String> {
    let claims: Vec<HeaderValue> = match req.headers_mut().entry(FORWARDED) {
        header::Entry::Occupied(e) => e.remove_entry_mult().1.collect(),
        header::Entry::Vacant(_) => return None,
    };
    // Exactly one header, and it must hold our token.
    let [claim] = claims.as_slice() else {
        return None;
    };
    let (token, origin) = claim.to_str().ok()?.split_once(' ')?;
    (node.is_forward_token(token) && !origin.is_empty()).then(|| origin.to_string())
}

impl Forwarder {
    /// Passes `req` to the holder in `to`, within `patience` for its answer.
    pub(crate) async fn forward<B, C>(
        &self,
        req: Request<B>,
        to: &Forward,
        node: &Node<C>,
        patience: Duration,
    ) -> Forwarded<B>
    where
        B: HttpBody<Data = Bytes> + From<Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
        C: Codec,
    {
        let small = req
            .body()
            .size_hint()
            .upper()
            .is_some_and(|n| n <= MAX_FORWARDED_BODY as u64);
        let Ok(uri) = target(&to.address, req.uri()) else {
            return Forwarded::NotSent(req);
        };
        if !small {
            return Forwarded::NotSent(req);
        }
        let (parts, body) = req.into_parts();
        let bytes = match Limited::new(body, MAX_FORWARDED_BODY).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => return Forwarded::Answered(StatusCode::BAD_REQUEST.into_response()),
        };
        let mut out = Request::builder()
            .method(parts.method.clone())
            .uri(uri)
            .version(http::Version::HTTP_11);
        if let Some(headers) = out.headers_mut() {
            headers.extend(parts.headers.clone());
            for name in HOP_BY_HOP {
                headers.remove(name);
            }
            let claim = format!("{} {}", to.token, node.owner().as_str());
            if let Ok(value) = HeaderValue::from_str(&claim) {
                headers.insert(FORWARDED, value);
            }
        }
        let safe = matches!(parts.method, Method::GET | Method::HEAD);
        let body = Full::new(bytes.clone());
        // The request as it came, for serving it here after all.
        let back = move || Request::from_parts(parts, B::from(bytes));
        let Ok(out) = out.body(body) else {
            return Forwarded::NotSent(back());
        };
        let answer = tokio::time::timeout(patience, self.client.request(out));
        // A holder that hangs (paused, cut off from its store) would keep the request
        // for the whole patience: while waiting, ask the store now and then whether it
        // still holds the session; once it does not (its liveness ran out, another
        // node took it), stop waiting.
        let gone = async {
            loop {
                tokio::time::sleep(WATCH_EVERY).await;
                if !node.still_held_by(to).await {
                    return;
                }
            }
        };
        // `None`: no answer within the patience, or the holder lost the session.
        let answer = tokio::select! {
            answer = answer => answer.ok(),
            () = gone => None,
        };
        let response = match answer {
            Some(Ok(response)) => response,
            failed => {
                node.forward_failed(to);
                let reached = !matches!(&failed, Some(Err(e)) if e.is_connect());
                if reached && !safe {
                    tracing::warn!(
                        session = to.sid.prefix(),
                        "the node holding the session took the request and did not answer"
                    );
                    return Forwarded::Answered(no_answer());
                }
                tracing::debug!(session = to.sid.prefix(), "forward failed; serving here");
                return Forwarded::NotSent(back());
            }
        };
        let (mut head, body) = response.into_parts();
        let route = head.headers.remove(ROUTE);
        let says = |word: &[u8]| route.as_ref().is_some_and(|v| v.as_bytes() == word);
        if head.status == StatusCode::MISDIRECTED_REQUEST && says(b"elsewhere") {
            node.forward_refused(to);
            return Forwarded::Elsewhere(back());
        }
        // A session failure at the holder (503, 504 with `Tenure-Outcome`): it may have
        // lost its tenure or its store; ask the store again next time, or every request
        // would keep going to a holder that cannot serve it.
        let failed = head.headers.contains_key(OUTCOME);
        node.forward_answered(to, says(b"take"), failed);
        Forwarded::Answered(Response::from_parts(head, Body::new(body)))
    }
}

/// `http://<address><path and query>`.
fn target(address: &str, uri: &Uri) -> Result<Uri, http::Error> {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    Uri::builder()
        .scheme("http")
        .authority(address)
        .path_and_query(path)
        .build()
}

/// The answer for a request the holder took and never answered: it may have stored
/// the request's changes.
fn no_answer() -> Response<Body> {
    let mut response = (
        StatusCode::GATEWAY_TIMEOUT,
        "the server holding the session did not answer; the request may have been applied",
    )
        .into_response();
    response
        .headers_mut()
        .insert(OUTCOME, HeaderValue::from_static("unknown"));
    response
}

/// The answer to a forwarded request for a session this node does not hold: 421, "not
/// here", so the sender routes it again (the handler does not run).
pub(crate) fn not_here() -> Response<Body> {
    let mut response = (StatusCode::MISDIRECTED_REQUEST, "session not held here").into_response();
    response
        .headers_mut()
        .insert(ROUTE, HeaderValue::from_static("elsewhere"));
    response
}

/// Marks a holder's answer for the node that forwarded the request: take the session.
pub(crate) fn tell_take(response: &mut Response<Body>) {
    response
        .headers_mut()
        .insert(ROUTE, HeaderValue::from_static("take"));
}
