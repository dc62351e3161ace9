//! Structural comparison through real HTTP: a route changes one line of a 500-line
//! cart held under `Key::structural`; each request commits a patch of a few dozen
//! bytes instead of the whole cart (about 50 kB), and the store holds exactly the
//! cart the requests made.

mod support;

use std::sync::Arc;

use axum::extract::Path;
use axum::routing::post;
use axum::Router;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use support::{serve, Browser};
use tenure_axum::{Session, SessionFailure, SessionLayer};
use tenure_core::{Codec, MessagePack, SessionId};
use tenure_node::{Consistency, Key, Node, NodeConfig};
use tenure_store::{MemoryStore, Store};
use tenure_test::CountingStore;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Item {
    sku: String,
    title: String,
    quantity: u32,
    price_cents: u64,
    tags: Vec<String>,
}

const ITEMS: usize = 500;
const CART: Key<Vec<Item>> = Key::structural("cart");

fn new_cart() -> Vec<Item> {
    (0..ITEMS)
        .map(|i| Item {
            sku: format!("SKU-{i:06}"),
            title: format!("Test cart line number {i:03}, blue, size M"),
            quantity: 0,
            price_cents: 1_000 + i as u64 * 7,
            tags: vec!["gift".into(), format!("t{}", i % 10)],
        })
        .collect()
}

/// Adds one to line `i` of the cart (created on first use); answers its quantity.
async fn add(Path(i): Path<usize>, session: Session) -> Result<String, SessionFailure> {
    let mut cart = session.get_mut_or_insert_with(CART, new_cart).await?;
    cart[i].quantity += 1;
    Ok(cart[i].quantity.to_string())
}

async fn cart_over_http(consistency: Consistency) {
    let store = CountingStore::new(MemoryStore::new());
    let node = Node::start(
        Arc::new(store.clone()),
        NodeConfig::new().with_consistency(consistency),
    )
    .await
    .unwrap();
    let app = Router::new()
        .route("/cart/{i}", post(add))
        .layer(SessionLayer::new(node.clone()));
    let mut browser = Browser::new(serve(app).await);
    let mut expected = new_cart();
    let cart_bytes = MessagePack.encode(&expected).unwrap().len();
    assert!(cart_bytes > 40_000, "{cart_bytes} bytes");

    let requests = 30;
    for r in 0..requests {
        let i = (r * 37 + 11) % ITEMS;
        let (seen, stats) = (store.commit_payloads().len(), node.stats());
        let reply = browser.post(&format!("/cart/{i}")).await;
        assert_eq!(reply.status, StatusCode::OK, "request {r}: {reply:?}");
        expected[i].quantity += 1;
        assert_eq!(reply.body, expected[i].quantity.to_string(), "request {r}");
        if r == 0 {
            continue; // created the session, with the whole cart
        }
        let commits: Vec<_> = store.commit_payloads().into_iter().skip(seen).collect();
        let after = node.stats();
        assert_eq!(commits.len(), 1, "request {r}: one commit: {commits:?}");
        assert!(
            commits[0].encoded_bytes < 200,
            "request {r}: a patch, not the {cart_bytes}-byte cart: {commits:?}"
        );
        assert!(
            after.commit_bytes - stats.commit_bytes < 200,
            "request {r}: {} bytes committed",
            after.commit_bytes - stats.commit_bytes
        );
        assert_eq!(after.patches - stats.patches, 1, "request {r}");
        assert_eq!(after.patches_refused, 0, "request {r}");
    }

    let cookie = browser.cookie.clone().expect("a session cookie");
    let sid = SessionId::parse(cookie.split_once('=').expect("name=value").1).expect("an id");
    let snapshot = store.inner().load(&sid).await.unwrap().expect("stored");
    let stored: Vec<Item> = MessagePack
        .decode(snapshot.value("cart").expect("a cart"))
        .unwrap();
    assert_eq!(stored, expected);
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn exclusive_one_line_change_over_http_commits_a_small_patch() {
    cart_over_http(Consistency::Exclusive).await;
}

#[tokio::test]
async fn optimistic_one_line_change_over_http_commits_a_small_patch() {
    cart_over_http(Consistency::Optimistic).await;
}
