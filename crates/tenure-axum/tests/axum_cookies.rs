//! Signed and private cookies over HTTP, with key rotation.

mod support;

use std::sync::Arc;

use axum::routing::post;
use axum::Router;
use support::{serve, Browser};
use tenure_axum::{CookieConfig, Key, Protection, Session, SessionFailure, SessionLayer};
use tenure_node::{Node, NodeConfig};
use tenure_store::MemoryStore;

async fn bump(session: Session) -> Result<String, SessionFailure> {
    let mut n = session.get_mut_or_insert_with("counter", || 0u64).await?;
    *n += 1;
    Ok(n.to_string())
}

async fn app(node: &Node, protection: Protection) -> Browser {
    let mut cookies = CookieConfig::default();
    cookies.protection = protection;
    let app = Router::new().route("/counter", post(bump)).layer(
        SessionLayer::new(node.clone())
            .with_cookies(cookies)
            .expect("valid cookie settings"),
    );
    Browser::new(serve(app).await)
}

#[tokio::test]
async fn signed_and_private_cookies_survive_key_rotation_and_reject_tampering() {
    let node = Node::start(Arc::new(MemoryStore::new()), NodeConfig::default())
        .await
        .unwrap();
    for make in [
        Protection::Signed as fn(Vec<Key>) -> Protection,
        Protection::Private,
    ] {
        let (old, new) = (Key::generate(), Key::generate());
        let mut browser = app(&node, make(vec![old.clone()])).await;
        browser.post("/counter").await;
        assert_eq!(browser.post("/counter").await.body, "2");
        let cookie = browser.cookie.clone().unwrap();

        // After rotation (new key first, old key kept), the old cookie still works.
        let mut rotated = app(&node, make(vec![new.clone(), old])).await;
        rotated.cookie = Some(cookie.clone());
        assert_eq!(rotated.post("/counter").await.body, "3");

        // Once the old key is dropped, or if the value is tampered with: a new session.
        let mut dropped = app(&node, make(vec![new])).await;
        dropped.cookie = Some(cookie.clone());
        assert_eq!(dropped.post("/counter").await.body, "1");
        let (name, value) = cookie.split_once('=').unwrap();
        let mut chars: Vec<char> = value.chars().collect();
        let last = chars.len() - 1;
        chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
        let mut tampered = browser.clone();
        tampered.cookie = Some(format!("{name}={}", chars.into_iter().collect::<String>()));
        assert_eq!(tampered.post("/counter").await.body, "1");
    }
}
