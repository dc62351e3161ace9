//! The session layer over real HTTP: laziness, end-of-request writes, cookies,
//! login and logout, expiry, and how failures answer.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use http::StatusCode;
use support::{serve, Browser};
use tenure_axum::{Session, SessionFailure, SessionLayer};
use tenure_core::{Codec, MessagePack};
use tenure_node::{Node, NodeConfig};
use tenure_store::{Expiry, MemoryStore, Store};
use tenure_test::{CountingStore, FaultyStore};

async fn bump(session: Session) -> Result<String, SessionFailure> {
    let mut n = session.get_mut_or_insert_with("counter", || 0u64).await?;
    *n += 1;
    Ok(n.to_string())
}

async fn read(session: Session) -> Result<String, SessionFailure> {
    Ok(session
        .get::<u64>("counter")
        .await?
        .unwrap_or(0)
        .to_string())
}

async fn login(session: Session) -> Result<String, SessionFailure> {
    session.rotate_id().await?;
    session.insert("user", "ada".to_string()).await?;
    Ok("welcome".into())
}

async fn logout(session: Session) -> Result<&'static str, SessionFailure> {
    session.delete().await?;
    Ok("bye")
}

fn app(node: Node) -> Router {
    Router::new()
        .route("/plain", get(|| async { "no session here" }))
        .route(
            "/unused",
            get(|_session: Session| async { "took it, never used it" }),
        )
        .route("/counter", post(bump).get(read))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .layer(SessionLayer::new(node))
}

async fn start(store: Arc<dyn Store>, config: NodeConfig) -> (Node, Browser) {
    let node = Node::start(store, config).await.unwrap();
    let addr = serve(app(node.clone())).await;
    (node, Browser::new(addr))
}

fn stored_counter(snapshot: Option<tenure_core::Snapshot>) -> Option<u64> {
    snapshot?
        .value("counter")
        .map(|b| MessagePack.decode(b).unwrap())
}

#[tokio::test]
async fn routes_that_do_not_use_the_session_cost_nothing() {
    let store = CountingStore::new(MemoryStore::new());
    let (_node, mut browser) = start(Arc::new(store.clone()), NodeConfig::default()).await;
    let before = store.counts();
    for path in ["/plain", "/unused", "/counter"] {
        let reply = browser.get(path).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.set_cookie(),
            None,
            "{path}: nothing written, no session, no cookie"
        );
    }
    assert_eq!((store.counts() - before).total(), 0);
    // The first write creates the session and hands out the cookie.
    assert!(browser.post("/counter").await.set_cookie().is_some());
}

#[tokio::test]
async fn session_round_trip_with_safe_cookie_defaults_and_write_before_response() {
    let memory = MemoryStore::new();
    let (_node, mut browser) = start(Arc::new(memory.clone()), NodeConfig::default()).await;
    let first = browser.post("/counter").await;
    assert_eq!(first.body, "1");
    let cookie = first
        .set_cookie()
        .expect("a new session hands out a cookie");
    for part in [
        "__Host-tenure=",
        "Secure",
        "HttpOnly",
        "SameSite=Lax",
        "Path=/",
    ] {
        assert!(cookie.contains(part), "{cookie} lacks {part}");
    }
    let id =
        tenure_core::SessionId::parse(browser.cookie.as_ref().unwrap().split_once('=').unwrap().1)
            .unwrap();
    for n in 2..=5u64 {
        let reply = browser.post("/counter").await;
        assert_eq!(reply.body, n.to_string());
        assert_eq!(reply.set_cookie(), None, "an unchanged id is not re-sent");
        // End of request: the response left only after the store had the change.
        assert_eq!(stored_counter(memory.load(&id).await.unwrap()), Some(n));
    }
    assert_eq!(browser.get("/counter").await.body, "5");
}

#[tokio::test]
async fn missing_malformed_forged_oversized_or_unknown_cookies_start_a_new_session() {
    let (_node, mut browser) = start(Arc::new(MemoryStore::new()), NodeConfig::default()).await;
    browser.post("/counter").await;
    browser.post("/counter").await;
    let good = browser.cookie.clone().unwrap();
    let unknown = format!(
        "__Host-tenure={}",
        tenure_core::SessionId::generate().unwrap()
    );
    for bad in [
        "__Host-tenure=".to_string(),
        "__Host-tenure=not-an-id".to_string(),
        format!("{good}x{}", "y".repeat(5_000)),
        format!("__Host-tenure={}", "A".repeat(300)),
        unknown,
    ] {
        let mut b = Browser {
            cookie: Some(bad.clone()),
            ..browser.clone()
        };
        let reply = b.post("/counter").await;
        assert_eq!(reply.status, StatusCode::OK, "{bad}");
        assert_eq!(reply.body, "1", "{bad}: a fresh session");
        assert_ne!(b.cookie.as_deref(), Some(good.as_str()));
    }
    assert_eq!(
        browser.get("/counter").await.body,
        "2",
        "the real session is untouched"
    );
}

#[tokio::test]
async fn login_rotates_the_id_and_logout_clears_it() {
    let (_node, mut browser) = start(Arc::new(MemoryStore::new()), NodeConfig::default()).await;
    browser.post("/counter").await;
    let before_login = browser.cookie.clone().unwrap();
    let reply = browser.post("/login").await;
    assert_eq!(reply.status, StatusCode::OK);
    let after_login = browser.cookie.clone().unwrap();
    assert_ne!(before_login, after_login, "login hands out a new id");
    assert_eq!(
        browser.get("/counter").await.body,
        "1",
        "the data moved with the session"
    );
    let mut attacker = Browser {
        cookie: Some(before_login),
        ..browser.clone()
    };
    assert_eq!(
        attacker.get("/counter").await.body,
        "0",
        "the pre-login id is dead (fixation)"
    );

    let reply = browser.post("/logout").await;
    assert!(
        reply.set_cookie().unwrap().contains("Max-Age=0"),
        "logout clears the cookie"
    );
    assert_eq!(browser.cookie, None);
    let mut replay = Browser {
        cookie: Some(after_login),
        ..browser.clone()
    };
    assert_eq!(
        replay.get("/counter").await.body,
        "0",
        "the logged-out id is dead"
    );
}

#[tokio::test]
async fn an_expired_session_behaves_as_a_new_one() {
    let memory = MemoryStore::new();
    let mut config = NodeConfig::default();
    config.expiry = Expiry {
        idle: None,
        absolute: Some(Duration::from_millis(300)),
    };
    let (_node, mut browser) = start(Arc::new(memory.clone()), config).await;
    browser.post("/counter").await;
    assert_eq!(browser.post("/counter").await.body, "2");
    let id =
        tenure_core::SessionId::parse(browser.cookie.as_ref().unwrap().split_once('=').unwrap().1)
            .unwrap();
    tenure_test::wait_until(Duration::from_secs(5), "the session to expire", || {
        let memory = memory.clone();
        let id = id.clone();
        async move { memory.load(&id).await.unwrap().is_none() }
    })
    .await;
    let reply = browser.post("/counter").await;
    assert_eq!(reply.body, "1", "a new session");
    assert!(reply.set_cookie().is_some());
}

#[tokio::test]
async fn an_unreachable_store_answers_503_with_retry_after() {
    let faulty = FaultyStore::new(MemoryStore::new());
    let (_node, mut browser) = start(Arc::new(faulty.clone()), NodeConfig::default()).await;
    faulty.set_unavailable(true);
    let reply = browser.post("/counter").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.headers.get("retry-after").unwrap(), "1");
    faulty.set_unavailable(false);
    assert_eq!(browser.post("/counter").await.body, "1");
}

#[tokio::test]
async fn an_optimistic_conflict_answers_409() {
    let mut config = NodeConfig::default();
    config.consistency = tenure_node::Consistency::Optimistic;
    let node = Node::start(Arc::new(MemoryStore::new()), config)
        .await
        .unwrap();
    // Both requests load before either commits.
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let slow = {
        let barrier = barrier.clone();
        move |session: Session| async move {
            {
                let mut n = session.get_mut::<u64>("counter").await?.expect("created");
                *n += 1;
            }
            barrier.wait().await;
            Ok::<_, SessionFailure>("done")
        }
    };
    let app = Router::new()
        .route("/counter", post(bump))
        .route("/slow", post(slow))
        .layer(SessionLayer::new(node));
    let mut browser = Browser::new(serve(app).await);
    browser.post("/counter").await;
    let (mut a, mut b) = (browser.clone(), browser.clone());
    let (ra, rb) = tokio::join!(a.post("/slow"), b.post("/slow"));
    let mut statuses = [ra.status, rb.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
    assert_eq!(
        browser.post("/counter").await.body,
        "3",
        "exactly one of the two applied"
    );
}

#[tokio::test]
async fn the_extractor_without_the_layer_is_a_500_not_a_panic() {
    let app = Router::new().route("/", get(read));
    let mut browser = Browser::new(serve(app).await);
    assert_eq!(
        browser.get("/").await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
}

#[tokio::test]
async fn a_live_guard_borrows_its_attribute_only() {
    let node = Node::start(Arc::new(MemoryStore::new()), NodeConfig::default())
        .await
        .unwrap();
    let handler = |session: Session| async move {
        session.insert("user", "ada".to_string()).await?;
        let mut guard = session.get_mut_or_insert_with("counter", || 1u64).await?;
        // Another attribute works while the guard lives; the same one is borrowed.
        let user = session.get::<String>("user").await?;
        let same = session.get::<u64>("counter").await;
        *guard += 1;
        drop(guard);
        let after = session.get::<u64>("counter").await?;
        Ok::<_, SessionFailure>(format!(
            "{user:?}/{}/{after:?}",
            matches!(&same, Err(tenure_axum::SessionError::Borrowed { attr }) if attr == "counter")
        ))
    };
    let app = Router::new()
        .route("/", post(handler))
        .layer(SessionLayer::new(node));
    let mut browser = Browser::new(serve(app).await);
    assert_eq!(browser.post("/").await.body, "Some(\"ada\")/true/Some(2)");
}

#[tokio::test]
async fn idle_timeout_slides_with_reads_served_from_the_near_cache() {
    let store = CountingStore::new(MemoryStore::new());
    let mut config = NodeConfig::default();
    config.expiry = Expiry {
        idle: Some(Duration::from_millis(1500)),
        absolute: None,
    };
    config.renew_interval = Duration::from_millis(300);
    let (node, mut browser) = start(Arc::new(store.clone()), config).await;
    browser.post("/counter").await;
    let id =
        tenure_core::SessionId::parse(browser.cookie.as_ref().unwrap().split_once('=').unwrap().1)
            .unwrap();
    // Reads only, for twice the idle timeout, all from memory: the renewals tell the
    // store the session is in use.
    let before = store.counts();
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_millis(3000) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            browser.get("/counter").await.body,
            "1",
            "still the same session"
        );
    }
    let calls = store.counts() - before;
    assert_eq!(
        (calls.acquire, calls.load, calls.commit),
        (0, 0, 0),
        "served from the near cache: {calls:?}"
    );
    assert!(calls.renew > 0);
    assert!(node.holds(&id));
    assert!(
        store.inner().sessions().iter().any(|(sid, _)| sid == &id),
        "the store kept the session alive for 3 s of reads with a 1.5 s idle timeout"
    );
    // Then idle: the session ends, and the next request starts a new one.
    tenure_test::wait_until(
        Duration::from_secs(10),
        "the session to expire at the store",
        || {
            let (store, id) = (store.clone(), id.clone());
            async move { store.inner().sessions().iter().all(|(sid, _)| sid != &id) }
        },
    )
    .await;
    assert_eq!(
        browser.post("/counter").await.body,
        "1",
        "a new session after the idle timeout"
    );
}

#[tokio::test]
async fn cookie_attributes_follow_the_configuration() {
    let node = Node::start(Arc::new(MemoryStore::new()), NodeConfig::default())
        .await
        .unwrap();
    let mut cookies = tenure_axum::CookieConfig::default();
    cookies.name = "sid".into();
    cookies.domain = Some("example.test".into());
    cookies.path = "/app".into();
    cookies.max_age = Some(Duration::from_secs(3600));
    cookies.same_site = tenure_axum::SameSite::Strict;
    cookies.http_only = false;
    let layer = SessionLayer::new(node).with_cookies(cookies).unwrap();
    let app = Router::new().route("/app/counter", post(bump)).layer(layer);
    let mut browser = Browser::new(serve(app).await);
    let set = browser.post("/app/counter").await.set_cookie().unwrap();
    for part in [
        "sid=",
        "Domain=example.test",
        "Path=/app",
        "Max-Age=3600",
        "SameSite=Strict",
        "Secure",
    ] {
        assert!(set.contains(part), "{set} lacks {part}");
    }
    assert!(
        !set.contains("__Host-"),
        "no __Host- prefix with a domain or a path: {set}"
    );
    assert!(!set.contains("HttpOnly"), "{set}");
}
