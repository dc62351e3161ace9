//! The cookie claims, as an attacker meets them. "A missing, malformed,
//! forged, oversized or unknown cookie starts a new session ... never a panic", and
//! the `__Host-` name when secure.

mod support;

use std::sync::Arc;

use axum::routing::post;
use axum::Router;
use http::StatusCode;
use support::{serve, Browser};
use tenure_axum::{Key, Session, SessionFailure, SessionLayer};
use tenure_node::{Node, NodeConfig};
use tenure_store::MemoryStore;

async fn bump(session: Session) -> Result<String, SessionFailure> {
    let mut n = session.get_mut_or_insert_with("n", || 0u64).await?;
    *n += 1;
    Ok(n.to_string())
}

#[tokio::test]
async fn k1_bad_cookies_start_new_sessions_and_never_reach_a_real_one() {
    let node = Node::start(Arc::new(MemoryStore::new()), NodeConfig::new())
        .await
        .unwrap();
    let app = Router::new().route("/n", post(bump)).layer(
        SessionLayer::new(node)
            .with_secure(false)
            .with_signed(Key::generate()),
    );
    let addr = serve(app).await;
    let mut real = Browser::new(addr);
    assert_eq!(real.post("/n").await.body, "1");
    assert_eq!(real.post("/n").await.body, "2");
    let good = real.cookie.clone().unwrap();
    let value = good.split_once('=').unwrap().1.to_string();
    // The signed value is signature + id; flip one char of the signature, strip it,
    // give only the id, oversized, non-UTF-8-ish, many cookies.
    let mut flipped = value.clone().into_bytes();
    flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let id_only = value[value.len() - 32..].to_string();
    let cases = vec![
        format!("tenure={flipped}"),
        format!("tenure={id_only}"),
        format!("tenure={}", "A".repeat(10_000)),
        "tenure=".to_string(),
        "tenure=%00%ff;;;==".to_string(),
        format!("{}; tenure={flipped}", "x=y; ".repeat(500)),
        // Several, none valid (a forged one before a valid one: axum_several_cookies.rs).
        format!("tenure={flipped}; tenure={id_only}; tenure=\"{flipped}\""),
    ];
    for cookie in cases {
        let mut b = Browser::new(addr);
        b.cookie = Some(cookie.clone());
        let r = b.post("/n").await;
        assert_eq!(r.status, StatusCode::OK, "{:.60}", cookie);
        assert_eq!(r.body, "1", "a new session for {:.60}", cookie);
    }
    assert_eq!(
        real.post("/n").await.body,
        "3",
        "the real session untouched"
    );
}

#[tokio::test]
async fn k2_secure_default_sends_host_prefixed_secure_http_only_lax() {
    let node = Node::start(Arc::new(MemoryStore::new()), NodeConfig::new())
        .await
        .unwrap();
    let app = Router::new()
        .route("/n", post(bump))
        .layer(SessionLayer::new(node).check().unwrap());
    let mut b = Browser::new(serve(app).await);
    let r = b.post("/n").await;
    let set = r.set_cookie().unwrap();
    println!("{set}");
    assert!(set.starts_with("__Host-tenure="), "{set}");
    for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set.contains(attr), "{attr} in {set}");
    }
    assert!(!set.contains("Domain"), "{set}");
}
