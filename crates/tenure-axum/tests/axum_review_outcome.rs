//! Review of "what an answer says about the change" (README, ARCHITECTURE): a 503
//! with `Tenure-Outcome: not-stored` must mean the store is as it was before the
//! request.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use axum::routing::{get, post};
use axum::Router;
use http::StatusCode;
use support::{serve, Browser};
use tenure_axum::{Session, SessionFailure, SessionLayer, OUTCOME};
use tenure_core::{OwnerId, SessionId};
use tenure_node::{Node, NodeConfig};
use tenure_store::{Fence, MemoryStore, RotateReply, Store, StoreError};
use tenure_test::{Forward, Forwarding};

/// `rotate_id` reaches the store and applies, but its reply is lost (once, when armed).
#[derive(Debug)]
struct LoseRotateReply {
    inner: MemoryStore,
    armed: Arc<AtomicBool>,
}

#[async_trait]
impl Forward for LoseRotateReply {
    fn inner(&self) -> &dyn Store {
        &self.inner
    }

    async fn rotate_id(
        &self,
        old: &SessionId,
        new: &SessionId,
        holder: Option<(&OwnerId, Fence)>,
    ) -> Result<RotateReply, StoreError> {
        let reply = self.inner.rotate_id(old, new, holder).await;
        if self.armed.swap(false, Ordering::SeqCst) {
            return Err(StoreError::Unavailable("review: reply lost".into()));
        }
        reply
    }
}

async fn inc(session: Session) -> Result<String, SessionFailure> {
    let mut n = session.get_mut_or_insert_with("n", || 0u64).await?;
    *n += 1;
    Ok(n.to_string())
}

async fn read(session: Session) -> Result<String, SessionFailure> {
    Ok(session.get::<u64>("n").await?.unwrap_or(0).to_string())
}

async fn login(session: Session) -> Result<&'static str, SessionFailure> {
    session.rotate_id().await?;
    Ok("logged in")
}

async fn app(consistency: tenure_core::Consistency) -> (Browser, Arc<AtomicBool>, MemoryStore) {
    let memory = MemoryStore::new();
    let armed = Arc::new(AtomicBool::new(false));
    let store = Forwarding(LoseRotateReply {
        inner: memory.clone(),
        armed: armed.clone(),
    });
    let node = Node::start(
        Arc::new(store),
        NodeConfig::default().with_consistency(consistency),
    )
    .await
    .unwrap();
    let app = Router::new()
        .route("/inc", post(inc))
        .route("/n", get(read))
        .route("/login", post(login))
        .layer(SessionLayer::new(node));
    (Browser::new(serve(app).await), armed, memory)
}

async fn rotation_with_a_lost_reply(consistency: tenure_core::Consistency) {
    let (mut browser, armed, memory) = app(consistency).await;
    assert_eq!(browser.post("/inc").await.body, "1");
    armed.store(true, Ordering::SeqCst);
    let reply = browser.post("/login").await;
    println!(
        "login: {} {:?} {:?}; store holds {} session(s)",
        reply.status,
        reply.headers.get(OUTCOME),
        reply.body,
        memory.len()
    );
    if reply.status == StatusCode::SERVICE_UNAVAILABLE {
        assert_eq!(
            reply.headers.get(OUTCOME).and_then(|v| v.to_str().ok()),
            Some("not-stored")
        );
        // "nothing stored: retry it": the session must be as it was, under the id
        // the client still presents.
        let presented = presented_id(&browser);
        let still_there = memory.load(&presented).await.unwrap().is_some();
        let next = browser.post("/inc").await;
        let after = browser.get("/n").await;
        println!(
            "after the 503: the client's id is stored: {still_there}; /inc: {} {:?}; /n: {:?}",
            next.status, next.body, after.body
        );
        assert!(
            still_there,
            "a 503 not-stored login rotated the session at the store; the client kept the old id"
        );
        assert_eq!(next.body, "2");
        assert_eq!(after.body, "2");
    } else {
        assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT, "{}", reply.body);
    }
}

fn presented_id(browser: &Browser) -> SessionId {
    let pair = browser.cookie.as_ref().expect("a session cookie");
    SessionId::parse(pair.split_once('=').expect("name=value").1).expect("an id")
}

/// Exclusive mode: `rotate_id` applies at the store, its reply is lost. The answer
/// must not be 503 `not-stored`, since the session has moved (it is 504 `unknown`).
/// (Found in review: it was 503, and the client's old cookie named no session.)
#[tokio::test]
async fn exclusive_rotate_with_a_lost_reply_is_not_a_503_not_stored() {
    rotation_with_a_lost_reply(tenure_core::Consistency::Exclusive).await;
}

/// The same in the optimistic mode (`LoadedBacking::rotate`).
#[tokio::test]
async fn optimistic_rotate_with_a_lost_reply_is_not_a_503_not_stored() {
    rotation_with_a_lost_reply(tenure_core::Consistency::Optimistic).await;
}
