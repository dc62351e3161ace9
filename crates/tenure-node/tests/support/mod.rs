//! Helpers shared by the node tests.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::Duration;

use tenure_core::{Codec, MessagePack, SessionId};
use tenure_node::{EndReport, Node, NodeConfig, SessionError};
use tenure_store::{MemoryStore, Store};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A configuration with the given policy-independent defaults, quick enough for tests.
pub fn config() -> NodeConfig {
    let mut c = NodeConfig::default();
    c.label = "test".into();
    c
}

/// Starts `n` nodes on one store.
pub async fn nodes(store: Arc<dyn Store>, n: usize, config: &NodeConfig) -> Vec<Node> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(
            Node::start(store.clone(), config.clone())
                .await
                .expect("node starts"),
        );
    }
    out
}

/// Creates a session through `node` holding `counter = 0`, and answers its id.
pub async fn new_counter_session(node: &Node) -> SessionId {
    let mut s = node.session(None);
    s.insert("counter", 0u64).await.expect("insert");
    s.end().await.expect("end").id.expect("created")
}

/// Reads one attribute from the store directly (no node involved).
pub async fn stored<T: serde::de::DeserializeOwned>(
    store: &dyn Store,
    id: &SessionId,
    name: &str,
) -> Option<T> {
    let snap = store.load(id).await.expect("load")?;
    snap.value(name)
        .map(|b| MessagePack.decode(b).expect("decodes"))
}

/// A memory store behind an `Arc<dyn Store>`.
pub fn memory() -> (MemoryStore, Arc<dyn Store>) {
    let m = MemoryStore::new();
    (m.clone(), Arc::new(m))
}

/// Lets every ready task run (in a current-thread runtime, until all are blocked).
pub async fn settle() {
    for _ in 0..200 {
        tokio::task::yield_now().await;
    }
}

pub const SECOND: Duration = Duration::from_secs(1);

/// Advances paused time by `d` in 10 ms steps, as real time would pass, letting
/// timers and spawned work run at each step.
pub async fn advance_in_steps(d: Duration) {
    let step = Duration::from_millis(10);
    let mut left = d;
    while !left.is_zero() {
        let s = left.min(step);
        tokio::time::advance(s).await;
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        left -= s;
    }
    settle().await;
}

/// Starts a request on `node` that takes `attr` mutably, applies `change`, and stays
/// in flight (holding the attribute's lock) until the returned sender fires. Returns
/// once the request holds the attribute; the task answers the request's `end()`.
pub async fn in_flight(
    node: &Node,
    id: &SessionId,
    attr: &'static str,
    change: impl FnOnce(&mut u64) + Send + 'static,
) -> (
    oneshot::Sender<()>,
    JoinHandle<Result<EndReport, SessionError>>,
) {
    let (holding_tx, holding) = oneshot::channel();
    let (go, go_rx) = oneshot::channel::<()>();
    let (node, id) = (node.clone(), id.clone());
    let task = tokio::spawn(async move {
        let mut s = node.session(Some(id));
        change(s.get_mut::<u64>(attr).await?.expect("attribute exists"));
        let _ = holding_tx.send(());
        let _ = go_rx.await;
        s.end().await
    });
    holding.await.expect("the request took the attribute");
    (go, task)
}
