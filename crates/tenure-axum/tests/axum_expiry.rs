//! Per-session expiry through HTTP ("remember me"): a session that chose
//! `OnInactivity` outlives the node's idle timeout and gets a persistent, sliding
//! cookie; one that chose `AtDateTime` ends at that time; `OnSessionEnd` is a
//! browser-session cookie again. In the exclusive and the optimistic mode.

mod support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::Path;
use axum::routing::{get, post};
use axum::Router;
use support::{serve, Browser};
use tenure_axum::{Session, SessionFailure, SessionLayer};
use tenure_core::Key;
use tenure_node::{Consistency, Node, NodeConfig, SessionExpiry};
use tenure_store::{Expiry, MemoryStore};

const USER: Key<String> = Key::new("user");

/// The node's own idle timeout: short, so outliving it is quick to show.
const IDLE: Duration = Duration::from_millis(800);

async fn login(Path(how): Path<String>, session: Session) -> Result<String, SessionFailure> {
    session.insert(&USER, "ada".to_string()).await?;
    let expiry = match how.as_str() {
        "remember" => SessionExpiry::OnInactivity(Duration::from_secs(4)),
        "until" => SessionExpiry::AtDateTime(SystemTime::now() + Duration::from_millis(1200)),
        _ => SessionExpiry::OnSessionEnd,
    };
    session.set_expiry(expiry).await?;
    Ok(how)
}

async fn me(session: Session) -> Result<String, SessionFailure> {
    Ok(session.get(&USER).await?.unwrap_or_else(|| "guest".into()))
}

async fn app(consistency: Consistency) -> Browser {
    let mut config = NodeConfig::new()
        .with_consistency(consistency)
        .with_expiry(Expiry::idle(IDLE));
    config.renew_interval = Duration::from_millis(200);
    config.lease = Duration::from_secs(3);
    config.lease_margin = Duration::from_millis(500);
    let node = Node::start(Arc::new(MemoryStore::new()), config)
        .await
        .unwrap();
    let app = Router::new()
        .route("/login/{how}", post(login))
        .route("/me", get(me))
        .layer(SessionLayer::new(node).with_secure(false));
    Browser::new(serve(app).await)
}

fn max_age(reply: &support::Reply) -> Option<u64> {
    let set = reply.set_cookie()?;
    set.split(';')
        .find_map(|p| p.trim().strip_prefix("Max-Age="))
        .and_then(|v| v.parse().ok())
}

async fn remember_me_outlives_the_node_idle_timeout(consistency: Consistency) {
    let mut b = app(consistency).await;
    let login = b.post("/login/remember").await;
    assert_eq!(max_age(&login), Some(4), "a persistent cookie: {login:?}");
    let again = b.get("/me").await;
    assert_eq!(again.body, "ada");
    assert_eq!(max_age(&again), Some(4), "re-sent on use, so it slides");
    tokio::time::sleep(IDLE * 2).await; // twice the node's idle timeout, unused
    assert_eq!(
        b.get("/me").await.body,
        "ada",
        "{consistency:?}: still logged in"
    );

    // A control session without its own expiry ends after the node's idle timeout.
    let mut plain = Browser::new(b.addr);
    let first = plain.post("/login/default").await;
    assert_eq!(max_age(&first), None, "a browser-session cookie");
    tokio::time::sleep(IDLE * 2).await;
    assert_eq!(
        plain.get("/me").await.body,
        "guest",
        "{consistency:?}: it idled out"
    );
}

#[tokio::test]
async fn remember_me_outlives_the_node_idle_timeout_exclusive() {
    remember_me_outlives_the_node_idle_timeout(Consistency::Exclusive).await;
}

#[tokio::test]
async fn remember_me_outlives_the_node_idle_timeout_optimistic() {
    remember_me_outlives_the_node_idle_timeout(Consistency::Optimistic).await;
}

#[tokio::test]
async fn a_session_that_chose_a_date_ends_then_though_in_use() {
    for consistency in [Consistency::Exclusive, Consistency::Optimistic] {
        let mut b = app(consistency).await;
        let login = b.post("/login/until").await;
        let age = max_age(&login).expect("a persistent cookie");
        assert!(age <= 2, "lives until the date: Max-Age {age}");
        // Used all the time (it never idles out), yet it ends at the date.
        let started = std::time::Instant::now();
        let mut ended = false;
        while started.elapsed() < Duration::from_secs(3) {
            if b.get("/me").await.body == "guest" {
                ended = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ended, "{consistency:?}: the session ended at its date");
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "{consistency:?}: not before it ({:?})",
            started.elapsed()
        );
    }
}
