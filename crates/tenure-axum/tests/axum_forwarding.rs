//! Forwarding over real HTTP between nodes of one store: a request that reaches a
//! node which does not hold its session is passed to the node that does, and the
//! session stays put; the hop cannot be faked from outside, never loops, and a holder
//! that cannot be reached costs a fallback to the store path, not an error.

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::routing::get;
use axum::Router;
use http::{HeaderMap, Method, StatusCode};
use support::Browser;
use tenure_axum::{CookieConfig, Session, SessionFailure, SessionLayer, FORWARDED};
use tenure_core::{OwnerId, SessionId};
use tenure_node::{Key, Node, NodeConfig, NodeStats};
use tenure_store::{Liveness, Location, MemoryStore, Store, StoreError};
use tenure_test::{Forward, Forwarding};

const COUNTER: Key<u64> = Key::new("counter");

async fn increment(session: Session) -> Result<String, SessionFailure> {
    let mut n = session.get_mut_or_insert_with(&COUNTER, || 0).await?;
    *n += 1;
    Ok(n.to_string())
}

async fn read(session: Session, headers: HeaderMap) -> Result<String, SessionFailure> {
    // The handler must never see the hop's header, trusted or not.
    assert!(
        headers.get(FORWARDED).is_none(),
        "the forwarding header reached the handler"
    );
    Ok(session.get(&COUNTER).await?.unwrap_or(0).to_string())
}

/// A node with an advertised address, serving the counter app.
struct App {
    node: Node,
    addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
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
        .unwrap();
    let router = Router::new()
        .route("/counter", get(read).post(increment))
        .layer(layer);
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    App { node, addr, server }
}

fn at(browser: &Browser, addr: SocketAddr) -> Browser {
    let mut b = browser.clone();
    b.addr = addr;
    b
}

fn sum(apps: &[App], f: impl Fn(&NodeStats) -> u64) -> u64 {
    apps.iter().map(|a| f(&a.node.stats())).sum()
}

/// 300 increments from 4 tabs spread evenly over 3 nodes (affinity 0): exact, and
/// the session never moves: it is granted once, at its creation, and never recalled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_elsewhere_are_forwarded_and_the_session_stays_put() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let apps = [
        app(store.clone(), "a").await,
        app(store.clone(), "b").await,
        app(store.clone(), "c").await,
    ];
    let mut first = Browser::new(apps[0].addr);
    assert_eq!(first.post("/counter").await.body, "1");
    let addrs: Vec<SocketAddr> = apps.iter().map(|a| a.addr).collect();
    let mut tabs = Vec::new();
    for tab in 0..4usize {
        let (first, addrs) = (first.clone(), addrs.clone());
        tabs.push(tokio::spawn(async move {
            for i in 0..75usize {
                let mut b = at(&first, addrs[(tab + i) % 3]);
                let reply = b.post("/counter").await;
                assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            }
        }));
    }
    for t in tabs {
        t.await.unwrap();
    }
    for addr in &addrs {
        assert_eq!(at(&first, *addr).get("/counter").await.body, "301");
    }
    let forwards = sum(&apps, |s| s.forwards);
    assert!(
        forwards >= 150,
        "two in three requests went elsewhere: {forwards} forwarded"
    );
    assert_eq!(
        sum(&apps, |s| s.recalls),
        0,
        "the session was never recalled"
    );
    assert_eq!(sum(&apps, |s| s.grants), 1, "granted once, at creation");
    assert_eq!(apps[0].node.held_count(), 1, "the creator still holds it");
    assert_eq!(sum(&apps, |s| s.forward_fallbacks), 0);
}

/// A client that sends the forwarding header without the holder's token is an
/// ordinary client: the node still forwards its request instead of serving it from a
/// session it would first have to take (and the header never reaches a handler).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claimed_forward_from_outside_is_not_trusted() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let (a, b) = (app(store.clone(), "a").await, app(store.clone(), "b").await);
    let mut browser = Browser::new(a.addr);
    browser.post("/counter").await;
    let sid = session_of(&browser);
    let mut at_b = at(&browser, b.addr);
    for claim in [
        "x y",
        "",
        "tenure a-node",
        &format!("{} {}", sid.as_str(), a.node.owner().as_str()),
    ] {
        let reply = send_with(&mut at_b, Method::POST, "/counter", claim).await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    let reply = send_with(&mut at_b, Method::GET, "/counter", "forged forged").await;
    assert_eq!(reply.body, "5");
    assert_eq!(b.node.stats().forwards, 5, "b forwarded every request");
    assert_eq!(b.node.stats().grants, 0, "b never took the session");
    assert_eq!(a.node.stats().recalls, 0, "a never gave it up");
}

/// Each node's store says the *other* node holds the session, and neither does: a
/// request forwarded by `b` to `a` is not sent back (I19); it comes back to `b` as
/// "not here", and `b` serves it. No request bounces.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarded_request_is_never_forwarded_again() {
    let memory: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let adverts = Arc::new(Mutex::new(HashMap::new()));
    let (a_says, b_says) = (
        Arc::new(Mutex::new(None)),
        Arc::new(Mutex::new(None::<OwnerId>)),
    );
    let lying = |other: &Arc<Mutex<Option<OwnerId>>>| -> Arc<dyn Store> {
        Arc::new(Forwarding(PointsElsewhere {
            inner: memory.clone(),
            adverts: adverts.clone(),
            other: other.clone(),
        }))
    };
    let a = app(lying(&a_says), "a").await;
    let b = app(lying(&b_says), "b").await;
    *a_says.lock().unwrap() = Some(b.node.owner());
    *b_says.lock().unwrap() = Some(a.node.owner());
    let mut browser = Browser::new(a.addr);
    // Created at `a` (no cookie: nothing to route), then given up: no node holds it.
    assert_eq!(browser.post("/counter").await.body, "1");
    a.node.give_up(&session_of(&browser));
    let node = a.node.clone();
    tenure_test::wait_until(std::time::Duration::from_secs(5), "a released", || {
        let node = node.clone();
        async move { node.held_count() == 0 }
    })
    .await;
    // `b` believes `a` holds it and forwards; `a`, which does not hold it, answers
    // "not here" without serving it; `b` asks again, hears `a` again, and serves the
    // request itself. Two hops at most, and `a` never sends it back.
    let reply = at(&browser, b.addr).post("/counter").await;
    assert_eq!((reply.status, reply.body.as_str()), (StatusCode::OK, "2"));
    let (sa, sb) = (a.node.stats(), b.node.stats());
    assert_eq!(sb.forward_refusals, 1, "b's one forward was refused");
    assert_eq!(sa.forwards, 0, "a did not send it back");
    assert_eq!(sa.forwarded_in, 0, "a served nothing forwarded");
    assert_eq!(b.node.held_count(), 1, "b took the session to serve it");
    assert_eq!(a.node.held_count(), 0);
}

/// The holder's HTTP server is gone (its node still holds the session): the request
/// is served by the node that got it, through the store path (recall and grant), and
/// the fallback is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_holder_costs_a_fallback_not_an_error() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let (mut a, b) = (app(store.clone(), "a").await, app(store.clone(), "b").await);
    let mut browser = Browser::new(a.addr);
    browser.post("/counter").await;
    a.server.abort();
    let _ = (&mut a.server).await;
    let mut at_b = at(&browser, b.addr);
    for expected in ["2", "3"] {
        let reply = at_b.post("/counter").await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (StatusCode::OK, expected)
        );
    }
    assert_eq!(
        b.node.stats().forward_fallbacks,
        1,
        "one fallback, then b holds it"
    );
    assert_eq!(b.node.stats().grants, 1);
    assert_eq!(a.node.stats().recalls, 1, "a gave the session up on recall");
}

fn session_of(browser: &Browser) -> SessionId {
    let cookie = browser.cookie.as_deref().unwrap();
    SessionId::parse(cookie.split_once('=').unwrap().1).unwrap()
}

async fn send_with(
    browser: &mut Browser,
    method: Method,
    path: &str,
    claim: &str,
) -> support::Reply {
    use http_body_util::{BodyExt, Full};
    let mut req = http::Request::builder()
        .method(method)
        .uri(format!("http://{}{path}", browser.addr))
        .header(FORWARDED, claim);
    if let Some(c) = &browser.cookie {
        req = req.header("cookie", c);
    }
    let res = browser
        .client
        .request(req.body(Full::new(tenure_core::Bytes::new())).unwrap())
        .await
        .unwrap();
    let (parts, body) = res.into_parts();
    support::Reply {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap(),
    }
}

/// A store whose `locate` always names `other` as the holder, with the address
/// `other` advertised: two nodes on such stores each believe the other holds every
/// session.
#[derive(Debug)]
struct PointsElsewhere {
    inner: Arc<dyn Store>,
    adverts: Arc<Mutex<HashMap<OwnerId, String>>>,
    other: Arc<Mutex<Option<OwnerId>>>,
}

#[async_trait]
impl Forward for PointsElsewhere {
    fn inner(&self) -> &dyn Store {
        &*self.inner
    }

    async fn advertise(&self, owner: &OwnerId, address: &str) -> Result<Liveness, StoreError> {
        self.adverts
            .lock()
            .unwrap()
            .insert(owner.clone(), address.to_string());
        self.inner.advertise(owner, address).await
    }

    async fn locate(&self, sid: &SessionId) -> Result<Location, StoreError> {
        let other = self.other.lock().unwrap().clone();
        let Some(holder) = other else {
            return self.inner.locate(sid).await;
        };
        let address = self.adverts.lock().unwrap().get(&holder).cloned();
        Ok(Location::Held { holder, address })
    }
}
