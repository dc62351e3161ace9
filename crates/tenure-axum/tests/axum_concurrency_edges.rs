//! Concurrency claims over HTTP (several nodes, many clients, counted results),
//! change detection after a stale `get`, write scopes on held sessions.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use http::StatusCode;
use rand::Rng;
use support::{serve, Browser};
use tenure_axum::{Session, SessionFailure, SessionLayer};
use tenure_core::Key;
use tenure_node::{Node, NodeConfig, WritePolicy, WriteScope};
use tenure_store::{MemoryStore, Store};
use tokio::sync::Notify;

const COUNTER: Key<u64> = Key::new("counter");
const USER: Key<String> = Key::new("user");
const X: Key<u64> = Key::new("x");
const Y: Key<u64> = Key::new("y");

/// The README's handler, verbatim in spirit.
async fn increment(session: Session) -> Result<String, SessionFailure> {
    let mut n = session.get_mut_or_insert_with(&COUNTER, || 0).await?;
    *n += 1;
    let user = session.get(&USER).await?.unwrap_or_else(|| "guest".into());
    Ok(format!("{user}: {}", *n))
}

async fn login(session: Session) -> Result<&'static str, SessionFailure> {
    session.rotate_id().await?;
    session.insert(&USER, "ada".to_string()).await?;
    Ok("welcome")
}

async fn read_counter(session: Session) -> Result<String, SessionFailure> {
    Ok(format!("{}", session.get(&COUNTER).await?.unwrap_or(0)))
}

fn app(node: Node) -> Router {
    Router::new()
        .route("/counter", post(increment).get(read_counter))
        .route("/login", post(login))
        .layer(SessionLayer::new(node).with_secure(false))
}

async fn cluster(
    store: Arc<dyn Store>,
    policy: WritePolicy,
    n: usize,
) -> (Vec<Node>, Vec<SocketAddr>) {
    let (mut nodes, mut addrs) = (Vec::new(), Vec::new());
    for i in 0..n {
        let config = NodeConfig::new()
            .with_label(format!("n{i}"))
            .with_write_policy(policy);
        let node = Node::start(store.clone(), config).await.unwrap();
        addrs.push(serve(app(node.clone())).await);
        nodes.push(node);
    }
    (nodes, addrs)
}

/// README: "Whatever the policy, ... a node always writes before it gives a session
/// up (recall, ...graceful shutdown)" and no lost updates in the exclusive mode.
/// 16 clients x 12 increments of one session over 3 nodes at affinity 0.3, under
/// write-behind policies; every 200 is counted and must be in the final counter and,
/// after shutdown, in the store.
async fn no_lost_increments(policy: WritePolicy) {
    let store = Arc::new(MemoryStore::new());
    let (nodes, addrs) = cluster(store.clone(), policy, 3).await;
    let mut browser = Browser::new(addrs[0]);
    assert_eq!(browser.post("/login").await.status, StatusCode::OK);
    let acked = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (mut b, addrs, acked) = (browser.clone(), addrs.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            let mut bad = Vec::new();
            for _ in 0..12 {
                b.addr = if rand::rng().random_bool(0.3) {
                    addrs[0]
                } else {
                    addrs[rand::rng().random_range(0..addrs.len())]
                };
                let r = b.post("/counter").await;
                if r.status == StatusCode::OK {
                    acked.fetch_add(1, Ordering::SeqCst);
                } else {
                    bad.push(r.status);
                }
            }
            bad
        }));
    }
    let run = async {
        let mut bad = Vec::new();
        for t in tasks {
            bad.extend(t.await.unwrap());
        }
        bad
    };
    let bad = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("bounded");
    let acked = acked.load(Ordering::SeqCst);
    let mut reader = browser.clone();
    reader.addr = addrs[2];
    let counted: u64 = reader.get("/counter").await.body.parse().unwrap();
    for n in &nodes {
        n.shutdown().await.unwrap();
    }
    let id =
        tenure_core::SessionId::parse(browser.cookie.as_ref().unwrap().split_once('=').unwrap().1)
            .unwrap();
    let snap = store.load(&id).await.unwrap().unwrap();
    use tenure_core::Codec;
    let stored: u64 = tenure_core::MessagePack
        .decode(snap.value("counter").unwrap())
        .unwrap();
    assert!(bad.is_empty(), "non-200 answers: {bad:?}");
    assert_eq!((counted, stored), (acked, acked), "policy {policy:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn c1_no_lost_increments_under_write_behind_every_2s() {
    no_lost_increments(WritePolicy::every(Duration::from_secs(2))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn c1_no_lost_increments_under_after_updates_5() {
    no_lost_increments(WritePolicy::after_updates(5).or_every(Duration::from_secs(1))).await;
}

/// A node with write scope `scope`, and a router whose `/seed` sets x and y to 0.
async fn seeded(scope: WriteScope) -> (Node, Router) {
    let node = Node::start(
        Arc::new(MemoryStore::new()),
        NodeConfig::new().with_write_scope(scope),
    )
    .await
    .unwrap();
    let router = Router::new().route(
        "/seed",
        post(|s: Session| async move {
            s.insert(&X, 0).await?;
            s.insert(&Y, 0).await?;
            Ok::<_, SessionFailure>("")
        }),
    );
    (node, router)
}

/// README: "read-modify-write through `get_mut` never loses an update, also after a
/// `get` of the same attribute". Change detection: A `get`s x (0), B sets x to 1 and
/// ends, A `get_mut`s x (sees 1) and sets it back to 0, the value it first read. That
/// is a real change (1 -> 0) and must be stored.
#[tokio::test]
async fn c2_a_get_then_get_mut_judges_the_change_against_the_latest_value() {
    for scope in [
        WriteScope::Modified,
        WriteScope::Accessed,
        WriteScope::Whole,
    ] {
        let (node, seeded) = seeded(scope).await;
        let read = Arc::new(Notify::new());
        let b_done = Arc::new(Notify::new());
        let (r1, d1) = (read.clone(), b_done.clone());
        let app = seeded
            .route(
                "/set-x-1",
                post(|s: Session| async move {
                    *s.get_mut_or_insert_with(&X, || 0).await? = 1;
                    Ok::<_, SessionFailure>("")
                }),
            )
            .route(
                "/restore",
                post(move |s: Session| {
                    let (read, b_done) = (r1.clone(), d1.clone());
                    async move {
                        let first = s.get(&X).await?.unwrap();
                        read.notify_one();
                        let _ =
                            tokio::time::timeout(Duration::from_secs(3), b_done.notified()).await;
                        let mut x = s.get_mut(&X).await?.unwrap();
                        let seen = *x;
                        *x = first;
                        Ok::<_, SessionFailure>(format!("first={first} seen={seen}"))
                    }
                }),
            )
            .route(
                "/xy",
                get(|s: Session| async move {
                    Ok::<_, SessionFailure>(format!(
                        "{:?} {:?}",
                        s.get(&X).await?,
                        s.get(&Y).await?
                    ))
                }),
            )
            .layer(SessionLayer::new(node.clone()).with_secure(false));
        let mut b = Browser::new(serve(app).await);
        b.post("/seed").await;
        let mut a = b.clone();
        let ta = tokio::spawn(async move { a.post("/restore").await });
        tokio::time::timeout(Duration::from_secs(2), read.notified())
            .await
            .unwrap();
        assert_eq!(b.post("/set-x-1").await.status, StatusCode::OK);
        b_done.notify_one();
        let ra = tokio::time::timeout(Duration::from_secs(5), ta)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ra.body, "first=0 seen=1", "{scope:?}");
        assert_eq!(
            b.get("/xy").await.body,
            "Some(0) Some(0)",
            "{scope:?}: A's change 1 -> 0 stored"
        );
    }
}

/// Held sessions with the Accessed / Whole scopes rewrite attributes a request only
/// read: they must not overwrite a newer value another request wrote meanwhile.
#[tokio::test]
async fn c3_accessed_and_whole_scopes_never_write_back_a_stale_read() {
    for scope in [WriteScope::Accessed, WriteScope::Whole] {
        let (node, seeded) = seeded(scope).await;
        let read = Arc::new(Notify::new());
        let b_done = Arc::new(Notify::new());
        let (r1, d1) = (read.clone(), b_done.clone());
        let app = seeded
            .route(
                "/bump-y",
                post(|s: Session| async move {
                    *s.get_mut_or_insert_with(&Y, || 0).await? += 1;
                    Ok::<_, SessionFailure>("")
                }),
            )
            .route(
                "/read-y-bump-x",
                post(move |s: Session| {
                    let (read, b_done) = (r1.clone(), d1.clone());
                    async move {
                        let _ = s.get(&Y).await?;
                        read.notify_one();
                        let _ =
                            tokio::time::timeout(Duration::from_secs(3), b_done.notified()).await;
                        *s.get_mut_or_insert_with(&X, || 0).await? += 1;
                        Ok::<_, SessionFailure>("")
                    }
                }),
            )
            .route(
                "/xy",
                get(|s: Session| async move {
                    Ok::<_, SessionFailure>(format!(
                        "{:?} {:?}",
                        s.get(&X).await?,
                        s.get(&Y).await?
                    ))
                }),
            )
            .layer(SessionLayer::new(node.clone()).with_secure(false));
        let mut b = Browser::new(serve(app).await);
        b.post("/seed").await;
        let mut a = b.clone();
        let ta = tokio::spawn(async move { a.post("/read-y-bump-x").await });
        tokio::time::timeout(Duration::from_secs(2), read.notified())
            .await
            .unwrap();
        assert_eq!(b.post("/bump-y").await.status, StatusCode::OK);
        b_done.notify_one();
        let ra = tokio::time::timeout(Duration::from_secs(5), ta)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ra.status, StatusCode::OK);
        assert_eq!(b.get("/xy").await.body, "Some(1) Some(1)", "{scope:?}");
    }
}
