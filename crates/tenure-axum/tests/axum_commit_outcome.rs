//! What a client is told about its change when the store fails during the commit
//! that ends its request, through real HTTP: a 2xx change is stored once, a 503 stored
//! nothing, and a change whose outcome the store never confirmed is a 504 with
//! `Tenure-Outcome: unknown`; a late copy of a commit never overwrites newer data.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::routing::{get, post};
use axum::Router;
use http::StatusCode;
use support::{serve, Browser};
use tenure_axum::{Session, SessionFailure, SessionLayer, OUTCOME};
use tenure_core::{Delta, OwnerId, SessionId};
use tenure_node::{Node, NodeConfig};
use tenure_store::{CommitId, CommitReply, Fence, MemoryStore, Store, StoreError};
use tenure_test::{wait_until, FaultyStore, Forward, Forwarding};
use tokio::sync::oneshot;

async fn inc(session: Session) -> Result<String, SessionFailure> {
    let mut n = session.get_mut_or_insert_with("n", || 0u64).await?;
    *n += 1;
    Ok(n.to_string())
}

async fn read(session: Session) -> Result<String, SessionFailure> {
    Ok(session.get::<u64>("n").await?.unwrap_or(0).to_string())
}

fn app(node: Node) -> Router {
    Router::new()
        .route("/inc", post(inc))
        .route("/n", get(read))
        .layer(SessionLayer::new(node))
}

fn config() -> NodeConfig {
    let mut config = NodeConfig::default();
    config.outcome_timeout = Duration::from_millis(300);
    config
}

async fn stored(store: &MemoryStore, browser: &Browser) -> u64 {
    let pair = browser.cookie.as_ref().expect("a session cookie");
    let sid = SessionId::parse(pair.split_once('=').expect("name=value").1).expect("an id");
    let snap = store
        .load(&sid)
        .await
        .unwrap()
        .expect("the session is stored");
    let bytes = snap.value("n").expect("n is stored");
    use tenure_core::Codec;
    tenure_core::MessagePack
        .decode(bytes)
        .expect("n is a number")
}

/// The store applies a commit but its reply is lost: the node sends the same commit
/// again, the store recognises it, and the client gets 200 for a change stored once.
/// (Before commit ids, the client got a 503 for a stored change, and its retry
/// applied it twice.)
#[tokio::test]
async fn a_commit_whose_reply_is_lost_is_sent_again_and_applies_once() {
    let memory = MemoryStore::new();
    let faulty = FaultyStore::new(memory.clone());
    let node = Node::start(Arc::new(faulty.clone()), config())
        .await
        .unwrap();
    let mut browser = Browser::new(serve(app(node)).await);
    assert_eq!(browser.post("/inc").await.body, "1");
    assert_eq!(browser.post("/inc").await.body, "2");
    faulty.lose_next_replies(1);
    let reply = browser.post("/inc").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body, "3");
    assert_eq!(stored(&memory, &browser).await, 3, "applied exactly once");
    assert_eq!(browser.post("/inc").await.body, "4");
    assert_eq!(stored(&memory, &browser).await, 4);
}

/// The store answers nothing for longer than `outcome_timeout`: 504 with
/// `Tenure-Outcome: unknown`. Once the store is back, the node learns the outcome
/// before it serves the session again, so the values clients see never repeat and
/// the store holds every acknowledged increment (and the unknown one at most once).
#[tokio::test]
async fn an_unconfirmed_commit_answers_504_unknown_and_is_resolved_before_reuse() {
    let memory = MemoryStore::new();
    let faulty = FaultyStore::new(memory.clone());
    let node = Node::start(Arc::new(faulty.clone()), config())
        .await
        .unwrap();
    let mut browser = Browser::new(serve(app(node)).await);
    assert_eq!(browser.post("/inc").await.body, "1");
    faulty.set_unavailable(true);
    let reply = browser.post("/inc").await;
    assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT, "{}", reply.body);
    assert_eq!(
        reply.headers.get(OUTCOME).and_then(|v| v.to_str().ok()),
        Some("unknown")
    );
    // While the store is away, the session is not served from the copy.
    let during = browser.get("/n").await;
    assert_eq!(
        during.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        during.body
    );
    assert_eq!(
        during.headers.get(OUTCOME).and_then(|v| v.to_str().ok()),
        Some("not-stored")
    );
    faulty.set_unavailable(false);
    let seen: u64 = browser.get("/n").await.body.parse().unwrap();
    assert_eq!(
        seen,
        stored(&memory, &browser).await,
        "the copy agrees with the store"
    );
    assert!(
        seen == 1 || seen == 2,
        "the unknown change applied at most once: {seen}"
    );
    let next: u64 = browser.post("/inc").await.body.parse().unwrap();
    assert_eq!(next, seen + 1, "no value handed out twice");
    assert_eq!(stored(&memory, &browser).await, next);
}

/// A sending the network delays: the caller hears of a failure at once, the store
/// gets it later.
#[derive(Debug)]
struct Delayed {
    inner: Arc<dyn Store>,
    park_next: AtomicBool,
    parked: Mutex<Vec<oneshot::Sender<()>>>,
    late_replies: Arc<Mutex<Vec<CommitReply>>>,
}

#[async_trait]
impl Forward for Delayed {
    fn inner(&self) -> &dyn Store {
        &*self.inner
    }

    async fn commit(
        &self,
        sid: &SessionId,
        owner: &OwnerId,
        fence: Fence,
        id: CommitId,
        delta: Delta,
        release: bool,
    ) -> Result<CommitReply, StoreError> {
        if !self.park_next.swap(false, Ordering::SeqCst) {
            return self
                .inner
                .commit(sid, owner, fence, id, delta, release)
                .await;
        }
        let (tx, rx) = oneshot::channel();
        self.parked.lock().unwrap().push(tx);
        let (inner, sid, owner) = (self.inner.clone(), sid.clone(), owner.clone());
        let late = self.late_replies.clone();
        tokio::spawn(async move {
            let _ = rx.await;
            let reply = inner.commit(&sid, &owner, fence, id, delta, release).await;
            late.lock().unwrap().push(reply.unwrap());
        });
        Err(StoreError::Unavailable(
            "connection reset (the commit is still on its way)".into(),
        ))
    }
}

/// A commit whose first sending is delayed in the network: the node sends it again
/// (applied once), moves on with newer commits, and when the first sending finally
/// arrives the store refuses it, so it cannot overwrite the newer value.
#[tokio::test]
async fn a_late_copy_of_a_commit_never_overwrites_newer_data() {
    let memory = MemoryStore::new();
    let late_replies = Arc::new(Mutex::new(Vec::new()));
    let delayed = Arc::new(Forwarding(Delayed {
        inner: Arc::new(memory.clone()),
        park_next: AtomicBool::new(false),
        parked: Mutex::new(Vec::new()),
        late_replies: late_replies.clone(),
    }));
    let node = Node::start(delayed.clone(), config()).await.unwrap();
    let mut browser = Browser::new(serve(app(node)).await);
    assert_eq!(browser.post("/inc").await.body, "1");
    delayed.0.park_next.store(true, Ordering::SeqCst);
    let reply = browser.post("/inc").await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "the second sending applies: {}",
        reply.body
    );
    assert_eq!(reply.body, "2");
    assert_eq!(browser.post("/inc").await.body, "3");
    assert_eq!(browser.post("/inc").await.body, "4");
    for tx in delayed.0.parked.lock().unwrap().drain(..) {
        let _ = tx.send(());
    }
    let arrived = late_replies.clone();
    wait_until(Duration::from_secs(5), "the late copy's reply", move || {
        let arrived = arrived.clone();
        async move { !arrived.lock().unwrap().is_empty() }
    })
    .await;
    let late = late_replies.lock().unwrap().clone();
    assert!(
        matches!(late[..], [CommitReply::Stale { .. }]),
        "the late copy must be refused: {late:?}"
    );
    assert_eq!(stored(&memory, &browser).await, 4, "the newer value stands");
    assert_eq!(browser.get("/n").await.body, "4");
}
