//! The route cookie over real HTTP between forwarding nodes: the node that serves a
//! session names itself in a cookie the balancer can stick by, so that after one
//! forwarded request the session's requests go to its holder; the cookie is sent
//! only when the client does not already route there, and a bad setting is refused.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use http::header::{COOKIE, SET_COOKIE};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tenure_axum::{CookieConfig, CookieConfigError, Session, SessionFailure, SessionLayer};
use tenure_core::Bytes;
use tenure_node::{Key, Node, NodeConfig};
use tenure_store::{MemoryStore, Store};

const COUNTER: Key<u64> = Key::new("counter");
const ROUTE: &str = "route";

async fn increment(session: Session) -> Result<String, SessionFailure> {
    let mut n = session.get_mut_or_insert_with(&COUNTER, || 0).await?;
    *n += 1;
    Ok(n.to_string())
}

/// A node named `name`, forwarding, that sets `route=<name>`.
struct App {
    node: Node,
    addr: SocketAddr,
}

async fn app(store: Arc<dyn Store>, name: &str) -> App {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = NodeConfig::default()
        .with_label(name)
        .with_advertise(addr.to_string());
    let node = Node::start(store, config).await.unwrap();
    let mut cookies = CookieConfig::default();
    cookies.secure = false;
    let layer = SessionLayer::new(node.clone())
        .with_cookies(cookies)
        .unwrap()
        .with_route_cookie(ROUTE, name)
        .check()
        .unwrap();
    let router = Router::new()
        .route("/counter", get(|| async { "no session" }).post(increment))
        .layer(layer);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    App { node, addr }
}

/// A browser with a cookie jar, and what one exchange set.
struct Jar {
    client: Client<HttpConnector, Full<Bytes>>,
    cookies: BTreeMap<String, String>,
}

struct Exchange {
    status: StatusCode,
    body: String,
    /// The route cookie's value, if the response set it.
    route_set: Option<String>,
}

impl Jar {
    fn new() -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
            cookies: BTreeMap::new(),
        }
    }

    async fn send(&mut self, method: Method, to: SocketAddr) -> Exchange {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("http://{to}/counter"));
        if !self.cookies.is_empty() {
            let header: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req = req.header(COOKIE, header.join("; "));
        }
        let res = self
            .client
            .request(req.body(Full::new(Bytes::new())).unwrap())
            .await
            .expect("request");
        let (parts, body) = res.into_parts();
        let mut route_set = None;
        for set in parts.headers.get_all(SET_COOKIE) {
            let pair = set.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if name == ROUTE {
                route_set = Some(value.to_string());
            }
            self.cookies.insert(name.to_string(), value.to_string());
        }
        let body = body.collect().await.unwrap().to_bytes();
        Exchange {
            status: parts.status,
            body: String::from_utf8(body.to_vec()).unwrap(),
            route_set,
        }
    }

    fn route(&self) -> Option<&str> {
        self.cookies.get(ROUTE).map(String::as_str)
    }
}

/// The node a route value names.
fn named<'a>(apps: &'a [App], value: &str) -> &'a App {
    apps.iter()
        .find(|a| a.node.config().label == value)
        .expect("the route names a node")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_holder_names_itself_once_and_a_forwarded_answer_points_at_it() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let apps = [app(store.clone(), "a").await, app(store.clone(), "b").await];
    let mut jar = Jar::new();
    // A request that does not use the session names nobody.
    let plain = jar.send(Method::GET, apps[0].addr).await;
    assert_eq!(plain.body, "no session");
    assert_eq!(plain.route_set, None);
    // The creator names itself, once.
    let first = jar.send(Method::POST, apps[0].addr).await;
    assert_eq!(first.body, "1");
    assert_eq!(first.route_set.as_deref(), Some("a"));
    let again = jar.send(Method::POST, apps[0].addr).await;
    assert_eq!((again.body.as_str(), again.route_set), ("2", None));
    // A client whose route cookie names another node (a stale or edited one) and that
    // reaches b: b forwards, and a's answer corrects the cookie.
    jar.cookies.insert(ROUTE.into(), "b".into());
    let misrouted = jar.send(Method::POST, apps[1].addr).await;
    assert_eq!(misrouted.status, StatusCode::OK);
    assert_eq!(misrouted.body, "3");
    assert_eq!(
        misrouted.route_set.as_deref(),
        Some("a"),
        "the holder's name"
    );
    assert_eq!(apps[1].node.stats().forwards, 1);
    assert_eq!(apps[1].node.held_count(), 0, "the session stayed at a");
}

/// A balancer that sticks by the route cookie with probability 0.9 and otherwise picks
/// a node at random: every miss costs one forward and the next request goes to the
/// holder again, so the session is forwarded only on misses (about 1 request in 15
/// here), where a balancer sticking to the node it last sent to would forward
/// two requests in three after the first miss.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_balancer_that_follows_the_cookie_reaches_the_holder_after_each_miss() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let apps = [
        app(store.clone(), "a").await,
        app(store.clone(), "b").await,
        app(store.clone(), "c").await,
    ];
    let mut jar = Jar::new();
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let (mut misses, total) = (0u64, 300u64);
    for i in 1..=total {
        let to = match jar.route() {
            Some(route) if next() % 10 != 0 => named(&apps, route).addr,
            _ => {
                misses += 1;
                apps[(next() % 3) as usize].addr
            }
        };
        let reply = jar.send(Method::POST, to).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.body, i.to_string(), "exact");
        assert_eq!(jar.route(), Some("a"), "the creator holds it throughout");
    }
    let forwards: u64 = apps.iter().map(|a| a.node.stats().forwards).sum();
    assert!(forwards > 0, "some misses landed elsewhere");
    assert!(
        forwards <= misses,
        "only misses are forwarded: {forwards} forwards, {misses} misses"
    );
    assert_eq!(
        apps.iter().map(|a| a.node.stats().recalls).sum::<u64>(),
        0,
        "the session never moved"
    );
}

#[tokio::test]
async fn a_route_cookie_that_cannot_work_is_refused() {
    let node = Node::start(Arc::new(MemoryStore::new()), NodeConfig::default())
        .await
        .unwrap();
    let layer = || SessionLayer::new(node.clone());
    assert_eq!(
        layer().with_route_cookie("a b", "n").check().err(),
        Some(CookieConfigError::Name("a b".into()))
    );
    for value in ["", "has space", "semi;colon", "\"quoted\""] {
        assert_eq!(
            layer().with_route_cookie(ROUTE, value).check().err(),
            Some(CookieConfigError::RouteValue(value.into())),
            "{value:?}"
        );
    }
    assert!(layer().with_route_cookie(ROUTE, "node-1").check().is_ok());
}
