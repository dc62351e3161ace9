//! The isolation the README promises, through real HTTP: three axum servers (three
//! nodes) share one store, and 20 clients send concurrent requests of one session,
//! routed with the given stickiness. Handlers that read and then modify an attribute,
//! that hold a guard on one attribute while they read another, or that read several
//! attributes in any order answer no 409 and no 5xx, and lose no update. Taking two
//! attributes mutably in opposite orders is the deadlock that remains: a typed 409,
//! logged at `warn` with the attributes' names.

mod support;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use http::StatusCode;
use rand::Rng;
use support::{serve, Browser};
use tenure_axum::{Session, SessionFailure, SessionLayer};
use tenure_core::Key;
use tenure_node::{Node, NodeConfig};
use tenure_store::{MemoryStore, Store};

const CART: Key<Vec<u32>> = Key::new("cart");
const COUNTER: Key<u64> = Key::new("counter");
const USER: Key<String> = Key::new("user");
const X: Key<u64> = Key::new("x");
const Y: Key<u64> = Key::new("y");

const CLIENTS: usize = 20;
const PER_CLIENT: usize = 15;

/// `get` then `get_mut` of the same attribute: trap 1 of the old shared read locks.
async fn read_then_modify(session: Session) -> Result<String, SessionFailure> {
    let before = session.get(&CART).await?.unwrap_or_default();
    let mut cart = session.get_mut_or_insert_with(&CART, Vec::new).await?;
    // The guard sees the latest cart, which may be longer than what `get` saw.
    assert!(cart.len() >= before.len());
    cart.push(1);
    Ok(cart.len().to_string())
}

/// A guard on one attribute while reading another: trap 2 (`Busy`).
async fn guard_and_read(session: Session) -> Result<String, SessionFailure> {
    let mut n = session.get_mut_or_insert_with(&COUNTER, || 0).await?;
    let user = session.get(&USER).await?.unwrap_or_default();
    *n += 1;
    Ok(format!("{}{user}", *n))
}

/// Reads in a random order, then one attribute taken mutably, then reads again.
async fn any_order(session: Session) -> Result<String, SessionFailure> {
    let first = rand::rng().random_bool(0.5);
    if first {
        session.get(&USER).await?;
        session.get(&CART).await?;
    } else {
        session.get(&CART).await?;
        session.get(&USER).await?;
    }
    session.get(&COUNTER).await?;
    *session.get_mut_or_insert_with(&COUNTER, || 0).await? += 1;
    session.get(&CART).await?;
    session.get(&COUNTER).await?;
    Ok(String::new())
}

async fn state(session: Session) -> Result<String, SessionFailure> {
    let cart = session.get(&CART).await?.unwrap_or_default();
    let counter = session.get(&COUNTER).await?.unwrap_or(0);
    Ok(format!("{} {counter}", cart.len()))
}

async fn login(session: Session) -> Result<String, SessionFailure> {
    session.insert(&USER, "ada".to_string()).await?;
    Ok(String::new())
}

fn app(node: Node) -> Router {
    Router::new()
        .route("/read-then-modify", post(read_then_modify))
        .route("/guard-and-read", post(guard_and_read))
        .route("/any-order", post(any_order))
        .route("/login", post(login))
        .route("/state", get(state))
        .layer(SessionLayer::new(node).with_secure(false))
}

async fn cluster(store: Arc<dyn Store>) -> (Vec<Node>, Vec<SocketAddr>) {
    let (mut nodes, mut addrs) = (Vec::new(), Vec::new());
    for i in 0..3 {
        let config = NodeConfig::new().with_label(format!("n{i}"));
        let node = Node::start(store.clone(), config).await.unwrap();
        addrs.push(serve(app(node.clone())).await);
        nodes.push(node);
    }
    (nodes, addrs)
}

/// Sends `PER_CLIENT` requests from each of `CLIENTS` concurrent clients of one
/// session; each goes to node 0 with probability `affinity`, else to another node.
/// Answers the statuses seen that were not 200.
async fn hammer(
    addrs: &[SocketAddr],
    browser: &Browser,
    path: &str,
    affinity: f64,
) -> Vec<StatusCode> {
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (mut b, addrs, path) = (browser.clone(), addrs.to_vec(), path.to_string());
        tasks.push(tokio::spawn(async move {
            let mut bad = Vec::new();
            for _ in 0..PER_CLIENT {
                let node = if rand::rng().random_bool(affinity) {
                    0
                } else {
                    rand::rng().random_range(1..addrs.len())
                };
                b.addr = addrs[node];
                let reply = b.post(&path).await;
                if reply.status != StatusCode::OK {
                    bad.push(reply.status);
                }
            }
            bad
        }));
    }
    let mut bad = Vec::new();
    for t in tasks {
        bad.extend(t.await.unwrap());
    }
    bad
}

async fn check_patterns(affinity: f64) {
    let (nodes, addrs) = cluster(Arc::new(MemoryStore::new())).await;
    let mut browser = Browser::new(addrs[0]);
    assert_eq!(browser.post("/login").await.status, StatusCode::OK);
    assert!(browser.cookie.is_some(), "the session exists");
    let total = (CLIENTS * PER_CLIENT) as u64;
    for (path, expected) in [
        ("/read-then-modify", format!("{total} 0")),
        ("/guard-and-read", format!("{total} {total}")),
        ("/any-order", format!("{total} {}", 2 * total)),
    ] {
        let bad = hammer(&addrs, &browser, path, affinity).await;
        assert!(bad.is_empty(), "{path} at affinity {affinity}: {bad:?}");
        let mut reader = browser.clone();
        reader.addr = addrs[2];
        assert_eq!(
            reader.get("/state").await.body,
            expected,
            "{path}: no update lost"
        );
    }
    let stats: Vec<_> = nodes.iter().map(Node::stats).collect();
    assert!(
        stats.iter().map(|s| s.recalls).sum::<u64>() > 0,
        "the session moved between nodes: {stats:?}"
    );
    assert_eq!(stats.iter().map(|s| s.deadlocks).sum::<u64>(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn natural_handlers_never_conflict_across_three_nodes_at_affinity_0() {
    check_patterns(0.0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn natural_handlers_never_conflict_across_three_nodes_at_affinity_0_9() {
    check_patterns(0.9).await;
}

/// Collects log lines written through `tracing`.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        tenure_core::sync::lock(&self.0).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn opposite_mutable_orders_are_a_typed_409_logged_with_the_attributes() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _log = tracing::subscriber::set_default(subscriber);

    let node = Node::start(Arc::new(MemoryStore::new()), NodeConfig::new())
        .await
        .unwrap();
    // Each handler takes its first attribute, waits until the other request has
    // taken its own first one, then takes the second: a guaranteed crossing.
    let gate = Arc::new(tokio::sync::Barrier::new(2));
    let crossing = |first: Key<u64>, second: Key<u64>, gate: Arc<tokio::sync::Barrier>| {
        move |session: Session| async move {
            *session.get_mut_or_insert_with(&first, || 0).await? += 1;
            gate.wait().await;
            *session.get_mut_or_insert_with(&second, || 0).await? += 1;
            Ok::<_, SessionFailure>(String::new())
        }
    };
    let app = Router::new()
        .route("/xy", post(crossing(X, Y, gate.clone())))
        .route("/yx", post(crossing(Y, X, gate)))
        .route("/login", post(login))
        .route(
            "/xy-state",
            get(|s: Session| async move {
                Ok::<_, SessionFailure>(format!("{:?} {:?}", s.get(&X).await?, s.get(&Y).await?))
            }),
        )
        .layer(SessionLayer::new(node.clone()).with_secure(false));
    let mut browser = Browser::new(serve(app).await);
    browser.post("/login").await;
    let (mut a, mut b) = (browser.clone(), browser.clone());
    let (ra, rb) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(a.post("/xy"), b.post("/yx"))
    })
    .await
    .expect("a deadlock is refused, never a hang");
    let mut statuses = [ra.status, rb.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
    assert_eq!(node.stats().deadlocks, 1);
    assert_eq!(
        browser.get("/xy-state").await.body,
        "Some(1) Some(1)",
        "the refused request applied nothing; the other applied both"
    );
    let logs = String::from_utf8(tenure_core::sync::lock(&logs.0).clone()).unwrap();
    let line = logs
        .lines()
        .find(|l| l.contains("deadlock"))
        .unwrap_or_else(|| panic!("a warn line about the deadlock in: {logs}"));
    assert!(line.contains("WARN"), "{line}");
    assert!(
        line.contains("\"x\"") && line.contains("\"y\""),
        "names both attributes: {line}"
    );
}
