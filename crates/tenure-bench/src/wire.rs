//! The client's HTTP side: a pooled hyper client that sends a session's cookies (the
//! session cookie and, if the app set one, the route cookie of [`ROUTE_COOKIE`]) and
//! reads back the ones an answer sets.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::systems::ROUTE_COOKIE;

/// A request that takes longer than this counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

pub(crate) fn http_client() -> HttpClient {
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(1024)
        .build_http()
}

/// A node's answer.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
    /// The session cookie's value, if the answer set it.
    pub(crate) cookie: Option<String>,
    /// The node a route cookie set by the answer names.
    pub(crate) route: Option<usize>,
}

/// What went wrong with a request that got no answer.
#[derive(Debug)]
pub(crate) enum SendError {
    Timeout,
    Transport,
}

/// The HTTP side: a pooled client and the session cookie's name.
pub(crate) struct Wire {
    pub(crate) client: HttpClient,
    pub(crate) cookie_name: String,
}

impl Wire {
    /// Sends one request with the session cookie and the route cookie, if any.
    pub(crate) async fn send(
        &self,
        node: SocketAddr,
        method: Method,
        path: &str,
        cookie: Option<&str>,
        route: Option<usize>,
    ) -> Result<Answer, SendError> {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("http://{node}{path}"));
        let mut pairs = Vec::with_capacity(2);
        if let Some(c) = cookie {
            pairs.push(format!("{}={c}", self.cookie_name));
        }
        if let Some(r) = route {
            pairs.push(format!("{ROUTE_COOKIE}={}", route_value(r)));
        }
        if !pairs.is_empty() {
            req = req.header(header::COOKIE, pairs.join("; "));
        }
        let req = req
            .body(Empty::<Bytes>::new())
            .map_err(|_| SendError::Transport)?;
        let exchange = async {
            let res = self
                .client
                .request(req)
                .await
                .map_err(|_| SendError::Transport)?;
            let status = res.status();
            let cookie = res
                .headers()
                .get_all(header::SET_COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(|v| cookie_value(v, &self.cookie_name));
            let route = res
                .headers()
                .get_all(header::SET_COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(|v| cookie_value(v, ROUTE_COOKIE))
                .and_then(|v| route_index(&v));
            let body = res
                .into_body()
                .collect()
                .await
                .map_err(|_| SendError::Transport)?
                .to_bytes();
            Ok(Answer {
                status,
                body,
                cookie,
                route,
            })
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| SendError::Timeout)?
    }
}

/// The route cookie's value for node `i`: the node's name (`crate::start_nodes`).
fn route_value(i: usize) -> String {
    format!("node-{i}")
}

/// The node a route cookie's value names.
fn route_index(value: &str) -> Option<usize> {
    value.strip_prefix("node-")?.parse().ok()
}

/// The value of cookie `name` in a `Set-Cookie` header value; `None` for a removal.
fn cookie_value(set_cookie: &str, name: &str) -> Option<String> {
    let pair = set_cookie.split(';').next()?.trim();
    let (n, v) = pair.split_once('=')?;
    (n == name && !v.is_empty()).then(|| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_cookie_values_are_read_by_name() {
        assert_eq!(
            cookie_value("id=abc; Path=/; HttpOnly", "id").as_deref(),
            Some("abc")
        );
        assert_eq!(cookie_value("id=; Max-Age=0", "id"), None);
        assert_eq!(cookie_value("other=abc", "id"), None);
        assert_eq!(cookie_value("garbage", "id"), None);
        assert_eq!(route_index(&route_value(2)), Some(2));
        assert_eq!(route_index("elsewhere"), None);
    }
}
