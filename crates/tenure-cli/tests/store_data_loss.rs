//! The store loses data while a node holds a session (Redis restarted without
//! persistence, or a failover to a replica that missed writes): the node must not go
//! on serving its copy as if nothing happened. It learns it from its next keep-alive
//! (its liveness key is gone before its TTL), counts it, logs it, and drops its
//! copies; the client then starts over with a new session, through real HTTP.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::post;
use axum::Router;
use http::StatusCode;
use support::*;
use tenure_axum::{Session, SessionFailure, SessionLayer};
use tenure_node::{Node, NodeConfig};
use tenure_redis::fred::interfaces::{ClientLike, KeysInterface};
use tenure_redis::fred::types::{CustomCommand, Value};
use tenure_test::wait_until;

async fn increment(session: Session) -> Result<String, SessionFailure> {
    let mut n = session.get_mut_or_insert_with("counter", || 0u64).await?;
    *n += 1;
    Ok(n.to_string())
}

/// Deletes every key under `prefix`, as a restart without persistence would.
async fn wipe(store: &tenure_redis::RedisStore, prefix: &str) -> usize {
    let keys: Value = store
        .client()
        .custom(
            CustomCommand::new_static("KEYS", None, false),
            vec![format!("{prefix}*")],
        )
        .await
        .unwrap();
    let keys: Vec<String> = keys.convert().unwrap();
    for key in &keys {
        let _: i64 = store.client().del(key).await.unwrap();
    }
    keys.len()
}

#[tokio::test]
async fn a_node_drops_its_copies_when_the_store_lost_them() {
    let prefix = unique_prefix("data-loss");
    let Some(store) = redis(single_url(), &prefix).await else {
        return;
    };
    let node = Node::start(Arc::new(store.clone()), NodeConfig::default())
        .await
        .unwrap();
    let app = Router::new()
        .route("/counter", post(increment))
        .layer(SessionLayer::new(node.clone()).with_secure(false));
    let addr = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    };
    let mut browser = Browser::new();
    for want in ["1", "2", "3"] {
        assert_eq!(
            browser.send("POST", addr, "/counter").await,
            (StatusCode::OK, want.to_string())
        );
    }
    assert!(node.held_count() == 1, "the node holds the session");
    assert!(
        wipe(&store, &prefix).await > 0,
        "the store had the session's keys"
    );
    wait_until(
        Duration::from_secs(10),
        "the node to notice the lost data",
        || {
            let node = node.clone();
            async move { node.stats().store_data_lost >= 1 }
        },
    )
    .await;
    wait_until(
        Duration::from_secs(10),
        "the lost copy to be dropped",
        || {
            let node = node.clone();
            async move { node.held_count() == 0 }
        },
    )
    .await;
    let (status, body) = browser.send("POST", addr, "/counter").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "1"),
        "the lost session is not served from the copy: the client starts over"
    );
    node.shutdown().await.unwrap();
    wipe(&store, &prefix).await;
    store.quit().await;
}
