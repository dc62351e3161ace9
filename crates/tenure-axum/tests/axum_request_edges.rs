//! Edges of one request, through real HTTP (axum servers on loopback, a hyper
//! client): a failed commit stores nothing, a guard's attribute cannot be overwritten
//! under it, a cancelled lock wait leaves no trace, a failed remove removes nothing,
//! an unverified cookie is no id, `is_empty` and `clear` with guards alive, panics and
//! guards kept past the handler. Each test asserts what the README promises.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use http::StatusCode;
use support::{serve, Browser};
use tenure_axum::{Session, SessionFailure, SessionLayer};
use tenure_core::Key;
use tenure_node::{Consistency, Node, NodeConfig};
use tenure_store::{MemoryStore, Store};
use tenure_test::FaultyStore;
use tokio::sync::Notify;

const X: Key<u64> = Key::new("x");
const Y: Key<u64> = Key::new("y");
const USER: Key<String> = Key::new("user");

async fn bump(session: Session) -> Result<String, SessionFailure> {
    let mut n = session.get_mut_or_insert_with(&X, || 0).await?;
    *n += 1;
    Ok(n.to_string())
}

async fn read_x(session: Session) -> Result<String, SessionFailure> {
    Ok(format!("{:?}", session.get(&X).await?))
}

async fn seed(session: Session) -> Result<&'static str, SessionFailure> {
    session.insert(&X, 0).await?;
    session.insert(&Y, 0).await?;
    session.insert(&USER, "ada".to_string()).await?;
    Ok("seeded")
}

async fn dump(session: Session) -> Result<String, SessionFailure> {
    Ok(format!(
        "x={:?} y={:?} user={:?}",
        session.get(&X).await?,
        session.get(&Y).await?,
        session.get(&USER).await?
    ))
}

fn base(_node: &Node) -> Router {
    Router::new()
        .route("/bump", post(bump))
        .route("/x", get(read_x))
        .route("/seed", post(seed))
        .route("/dump", get(dump))
}

fn layer(node: &Node) -> SessionLayer {
    SessionLayer::new(node.clone()).with_secure(false)
}

/// README: a request answered 2xx is stored once; one answered 503 stored nothing.
/// Exclusive mode, default policy: the first sending of the commit at the end of the
/// request fails (store blip). The node sends the same commit again, which the store
/// applies once, so the client gets 200 and the increment is stored exactly once.
/// (On 3b16099 the client got a 503 here and its retry stored the increment twice.)
#[tokio::test]
async fn r1_a_commit_that_fails_once_is_sent_again_and_stored_once() {
    let faulty = FaultyStore::new(MemoryStore::new());
    let node = Node::start(Arc::new(faulty.clone()), NodeConfig::new())
        .await
        .unwrap();
    let app = base(&node).layer(layer(&node));
    let mut b = Browser::new(serve(app).await);
    assert_eq!(b.post("/bump").await.body, "1");
    faulty.fail_next(1); // the next store call (this request's commit) fails
    let blipped = b.post("/bump").await;
    assert_eq!(blipped.status, StatusCode::OK, "{}", blipped.body);
    assert_eq!(blipped.body, "2");
    let next = b.post("/bump").await;
    assert_eq!(next.body, "3");
    node.shutdown().await.unwrap();
    let id = tenure_core::SessionId::parse(b.cookie.as_ref().unwrap().split_once('=').unwrap().1)
        .unwrap();
    let stored = faulty.inner().load(&id).await.unwrap().unwrap();
    let x: u64 = rmp_like_decode(stored.value("x").unwrap());
    assert_eq!(x, 3, "every acknowledged increment stored once");
}

fn rmp_like_decode(bytes: &[u8]) -> u64 {
    use tenure_core::Codec;
    tenure_core::MessagePack.decode(bytes).unwrap()
}

/// README: "using the same attribute again before dropping the guard answers
/// `SessionError::Borrowed`". `insert` of the guarded attribute does not: it succeeds,
/// and the guard's later change is silently dropped.
#[tokio::test]
async fn r2_insert_of_a_guarded_attribute_answers_borrowed() {
    let node = Node::start(Arc::new(MemoryStore::new()), NodeConfig::new())
        .await
        .unwrap();
    let app = base(&node)
        .route(
            "/guard-insert",
            post(|session: Session| async move {
                let mut g = session.get_mut_or_insert_with(&X, || 0).await?;
                let inserted = session.insert(&X, 5).await;
                *g += 100;
                drop(g);
                Ok::<_, SessionFailure>(match inserted {
                    Ok(()) => "insert=ok".to_string(),
                    Err(e) => format!("insert=err({e})"),
                })
            }),
        )
        .route(
            "/guard-remove",
            post(|session: Session| async move {
                let _g = session.get_mut_or_insert_with(&X, || 0).await?;
                let removed = session.remove::<u64>(&X).await;
                Ok::<_, SessionFailure>(format!("remove_err={}", removed.is_err()))
            }),
        )
        .layer(layer(&node));
    let mut b = Browser::new(serve(app).await);
    b.post("/seed").await;
    // remove is refused while the guard lives (holds)
    assert_eq!(b.post("/guard-remove").await.body, "remove_err=true");
    let r = b.post("/guard-insert").await;
    let x = b.get("/x").await.body;
    assert!(
        r.body.starts_with("insert=err"),
        "expected Borrowed from insert while a guard lives; got {:?}, then x={x}",
        r.body
    );
}

/// A handler that gives up waiting for an attribute (a timeout around `get_mut`), and
/// later asks for the same attribute again once the other request is done.
/// Expected: the second `get_mut` is granted when the holder ends.
#[tokio::test]
async fn r3_get_mut_after_a_cancelled_wait_for_the_same_attribute_does_not_hang() {
    let node = Node::start(Arc::new(MemoryStore::new()), NodeConfig::new())
        .await
        .unwrap();
    let locked = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let (l1, r1) = (locked.clone(), release.clone());
    let (r2,) = (release.clone(),);
    let app = base(&node)
        .route(
            "/hold",
            post(move |session: Session| {
                let (locked, release) = (l1.clone(), r1.clone());
                async move {
                    *session.get_mut_or_insert_with(&X, || 0).await? += 1;
                    locked.notify_one();
                    let _ = tokio::time::timeout(Duration::from_secs(5), release.notified()).await;
                    Ok::<_, SessionFailure>("held")
                }
            }),
        )
        .route(
            "/retry",
            post(move |session: Session| {
                let release = r2.clone();
                async move {
                    let first =
                        tokio::time::timeout(Duration::from_millis(200), session.get_mut(&X))
                            .await
                            .is_ok();
                    release.notify_one(); // the holder ends now
                    let second =
                        match tokio::time::timeout(Duration::from_secs(3), session.get_mut(&X))
                            .await
                        {
                            Ok(Ok(Some(mut g))) => {
                                *g += 10;
                                "granted".to_string()
                            }
                            Ok(other) => format!("answered {:?}", other.map(|o| o.is_some())),
                            Err(_) => "hung 3 s".to_string(),
                        };
                    Ok::<_, SessionFailure>(format!("first_granted={first} second={second}"))
                }
            }),
        )
        .layer(layer(&node));
    let mut b = Browser::new(serve(app).await);
    b.post("/seed").await;
    let mut holder = b.clone();
    let hold = tokio::spawn(async move { holder.post("/hold").await });
    tokio::time::timeout(Duration::from_secs(2), locked.notified())
        .await
        .expect("holder took x");
    let mut retrier = b.clone();
    let reply = tokio::time::timeout(Duration::from_secs(8), retrier.post("/retry"))
        .await
        .expect("bounded");
    hold.await.unwrap();
    let x = b.get("/x").await.body;
    assert_eq!(
        reply.body, "first_granted=false second=granted",
        "then x = {x} (expected Some(11))"
    );
}

/// A request whose wait for `x` was cancelled (timeout) and which then takes `y` is
/// not waiting for anything; the holder of `x` asking for `y` must wait for it, not be
/// refused with a Deadlock (no cycle exists: the other request will end).
#[tokio::test]
async fn r4_a_cancelled_wait_leaves_no_phantom_deadlock() {
    let node = Node::start(Arc::new(MemoryStore::new()), NodeConfig::new())
        .await
        .unwrap();
    let locked = Arc::new(Notify::new());
    let go = Arc::new(Notify::new());
    let a_done = Arc::new(Notify::new());
    let (l1, g1, d1) = (locked.clone(), go.clone(), a_done.clone());
    let (g2, d2) = (go.clone(), a_done.clone());
    let app = base(&node)
        .route(
            "/a",
            post(move |session: Session| {
                let (locked, go, done) = (l1.clone(), g1.clone(), d1.clone());
                async move {
                    *session.get_mut_or_insert_with(&X, || 0).await? += 1;
                    locked.notify_one();
                    let _ = tokio::time::timeout(Duration::from_secs(5), go.notified()).await;
                    let y = session.get_mut_or_insert_with(&Y, || 0).await;
                    let out = match y {
                        Ok(mut y) => {
                            *y += 1;
                            "y granted".to_string()
                        }
                        Err(e) => format!("y refused: {e}"),
                    };
                    done.notify_one();
                    Ok::<_, SessionFailure>(out)
                }
            }),
        )
        .route(
            "/b",
            post(move |session: Session| {
                let (go, done) = (g2.clone(), d2.clone());
                async move {
                    let _ =
                        tokio::time::timeout(Duration::from_millis(200), session.get_mut(&X)).await;
                    *session.get_mut_or_insert_with(&Y, || 0).await? += 1;
                    go.notify_one();
                    // Wait (bounded) for A's get_mut(y) to answer; if A correctly waits for
                    // y, this times out, B ends and A gets y.
                    let _ = tokio::time::timeout(Duration::from_secs(2), done.notified()).await;
                    Ok::<_, SessionFailure>("b")
                }
            }),
        )
        .layer(layer(&node));
    let mut b = Browser::new(serve(app).await);
    b.post("/seed").await;
    let mut ca = b.clone();
    let a = tokio::spawn(async move { ca.post("/a").await });
    tokio::time::timeout(Duration::from_secs(2), locked.notified())
        .await
        .unwrap();
    let mut cb = b.clone();
    let rb = tokio::time::timeout(Duration::from_secs(8), cb.post("/b"))
        .await
        .unwrap();
    let ra = tokio::time::timeout(Duration::from_secs(8), a)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rb.status, StatusCode::OK);
    assert_eq!(
        (ra.status, ra.body.as_str()),
        (StatusCode::OK, "y granted"),
        "A was refused although no cycle existed"
    );
}

/// A `remove::<T>` that fails (the stored value is not a T) answers an error, yet the
/// removal stands and is stored if the handler goes on and answers 200.
#[tokio::test]
async fn r5_a_failed_typed_remove_removes_nothing() {
    let node = Node::start(Arc::new(MemoryStore::new()), NodeConfig::new())
        .await
        .unwrap();
    let app = base(&node)
        .route(
            "/rm-wrong-type",
            post(|session: Session| async move {
                let r = session.remove::<u64>("user").await;
                Ok::<_, SessionFailure>(format!("remove_failed={}", r.is_err()))
            }),
        )
        .layer(layer(&node));
    let mut b = Browser::new(serve(app).await);
    b.post("/seed").await;
    assert_eq!(b.post("/rm-wrong-type").await.body, "remove_failed=true");
    let state = b.get("/dump").await.body;
    assert!(
        state.contains("user=Some(\"ada\")"),
        "a remove that answered an error must not remove: {state}"
    );
}

/// README table: "`session.id()` (synchronous; `None` until a new session is stored)".
/// A well-formed id the store never issued is presented by an attacker.
#[tokio::test]
async fn r6_id_of_an_unknown_presented_cookie_is_none() {
    let node = Node::start(Arc::new(MemoryStore::new()), NodeConfig::new())
        .await
        .unwrap();
    let app = base(&node)
        .route(
            "/whoami",
            get(|session: Session| async move {
                let before = session.id().map(|i| i.to_string());
                let _ = session.get(&X).await;
                let after = session.id().map(|i| i.to_string());
                format!("before={before:?} after={after:?}")
            }),
        )
        .layer(layer(&node));
    let mut b = Browser::new(serve(app).await);
    let forged = tenure_core::SessionId::generate().unwrap();
    b.cookie = Some(format!("tenure={forged}"));
    let body = b.get("/whoami").await.body;
    assert_eq!(
        body, "before=None after=None",
        "id() of a never-issued id (forged {forged})"
    );
}

/// README: "A guard from `get_mut` borrows that one attribute: the handler may use
/// every other attribute while it lives". `is_empty()` and `clear()` with a guard on x.
#[tokio::test]
async fn r7_is_empty_while_a_guard_lives() {
    let node = Node::start(Arc::new(MemoryStore::new()), NodeConfig::new())
        .await
        .unwrap();
    let app = base(&node)
        .route(
            "/guard-is-empty",
            post(|session: Session| async move {
                let _g = session.get_mut_or_insert_with(&X, || 0).await?;
                Ok::<_, SessionFailure>(match session.is_empty().await {
                    Ok(e) => format!("is_empty={e}"),
                    Err(e) => format!("is_empty err: {e}"),
                })
            }),
        )
        .layer(layer(&node));
    let mut b = Browser::new(serve(app).await);
    b.post("/seed").await;
    let body = b.post("/guard-is-empty").await.body;
    assert_eq!(body, "is_empty=false");
}

/// README: `clear()` removes every attribute; "the session itself stays, with its id".
/// In every mode: the next request with the same cookie is the same (empty) session,
/// and stores into it without a new id.
#[tokio::test]
async fn r8_clear_keeps_the_session_and_its_id_in_every_mode() {
    for mode in [
        Consistency::Exclusive,
        Consistency::Optimistic,
        Consistency::LastWriterWins,
    ] {
        let node = Node::start(
            Arc::new(MemoryStore::new()),
            NodeConfig::new().with_consistency(mode),
        )
        .await
        .unwrap();
        let app = base(&node)
            .route(
                "/clear",
                post(|session: Session| async move {
                    session.clear().await?;
                    Ok::<_, SessionFailure>(format!("empty={}", session.is_empty().await?))
                }),
            )
            .route(
                "/empty",
                get(|session: Session| async move {
                    Ok::<_, SessionFailure>(format!(
                        "empty={} new={}",
                        session.is_empty().await?,
                        session.id().is_none()
                    ))
                }),
            )
            .layer(layer(&node));
        let mut b = Browser::new(serve(app).await);
        b.post("/seed").await;
        let cookie = b.cookie.clone();
        let r = b.post("/clear").await;
        assert_eq!(r.body, "empty=true", "{mode:?}");
        assert_eq!(
            b.get("/empty").await.body,
            "empty=true new=false",
            "{mode:?}"
        );
        assert_eq!(b.post("/bump").await.body, "1", "{mode:?}");
        assert_eq!(b.cookie, cookie, "{mode:?}: same id after clear");
    }
}

/// A guard moved into a task that outlives the handler: the docs say drop it before the
/// handler returns. The layer must not store a half-made change, and must not leave the
/// attribute locked.
#[tokio::test]
async fn r9_a_guard_kept_past_the_handler_stores_nothing_and_leaks_no_lock() {
    let node = Node::start(Arc::new(MemoryStore::new()), NodeConfig::new())
        .await
        .unwrap();
    let app = base(&node)
        .route(
            "/leak-guard",
            post(|session: Session| async move {
                let mut g = session.get_mut_or_insert_with(&X, || 0).await?;
                *g += 1;
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    *g += 1000;
                });
                Ok::<_, SessionFailure>("returned")
            }),
        )
        .layer(layer(&node));
    let mut b = Browser::new(serve(app).await);
    b.post("/seed").await;
    let r = b.post("/leak-guard").await;
    println!("leak-guard answered {} {:?}", r.status, r.body);
    let next = tokio::time::timeout(Duration::from_secs(2), b.post("/bump"))
        .await
        .expect("no lock leaked");
    println!("next bump: {}", next.body);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let x = b.get("/x").await.body;
    if r.status == StatusCode::OK {
        assert_eq!(x, "Some(2)", "200 => the +1 stored, and not the +1000");
    } else {
        assert_eq!(x, "Some(1)", "error => nothing of it stored");
    }
}

/// A handler panic (no CatchPanicLayer: the connection task dies) must release the
/// request's locks and admission and store nothing.
#[tokio::test]
async fn r10_a_panicking_handler_releases_its_locks_and_stores_nothing() {
    let node = Node::start(Arc::new(MemoryStore::new()), NodeConfig::new())
        .await
        .unwrap();
    let app = base(&node)
        .route(
            "/panic",
            post(|session: Session| async move {
                *session.get_mut_or_insert_with(&X, || 0).await? += 100;
                if session.get(&Y).await?.is_some() {
                    panic!("handler bug");
                }
                Ok::<_, SessionFailure>("unreachable")
            }),
        )
        .layer(layer(&node));
    let mut b = Browser::new(serve(app).await);
    b.post("/seed").await;
    // Send the panicking request with a raw client: the connection just closes.
    {
        use http_body_util::Full;
        let req = http::Request::post(format!("http://{}/panic", b.addr))
            .header("cookie", b.cookie.clone().unwrap())
            .body(Full::new(tenure_core::Bytes::new()))
            .unwrap();
        let res = tokio::time::timeout(Duration::from_secs(3), b.client.request(req))
            .await
            .expect("bounded");
        println!("panic request: {:?}", res.as_ref().map(|r| r.status()));
    }
    let r = tokio::time::timeout(Duration::from_secs(3), b.post("/bump"))
        .await
        .expect("x not left locked by the panicked request");
    assert_eq!(r.body, "1");
    node.shutdown().await.unwrap();
}
