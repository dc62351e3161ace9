//! Conditional takeover: a node that takes back a session it gave away asks for only
//! what changed since its copy (`acquire_since`), and merges the answer with the copy.
//! Workload (c) of the benchmark in small: a 100 KB filler and a note changed by each
//! request, the session moving between two nodes on every request. After the first
//! move (to a node that never had the session) each takeover carries the note alone;
//! without the memory each carries the whole session. The values seen are always the
//! latest, whatever the nodes remembered.

mod support;

use std::sync::Arc;

use tenure_core::SessionId;
use tenure_node::{Node, NodeConfig};
use tenure_store::{MemoryStore, Store};
use tenure_test::{CountingStore, GrantPayload};

const FILLER: usize = 100 * 1024;
const MOVES: usize = 10;

fn filler() -> String {
    "f".repeat(FILLER)
}

async fn two_nodes(config: &NodeConfig) -> (CountingStore<MemoryStore>, Node, Node) {
    let store = CountingStore::new(MemoryStore::new());
    let shared: Arc<dyn Store> = Arc::new(store.clone());
    let a = Node::start(shared.clone(), config.clone()).await.unwrap();
    let b = Node::start(shared, config.clone()).await.unwrap();
    (store, a, b)
}

/// One request on `node`: checks the filler and that the note is `expected`, then
/// writes `next` into the note.
async fn step(node: &Node, id: &SessionId, expected: &str, next: &str) {
    let mut s = node.session(Some(id.clone()));
    let note = s.get_mut::<String>("note").await.unwrap().unwrap();
    assert_eq!(note, expected, "the note is the latest one written");
    *note = next.to_string();
    let size = s.get::<String>("filler").await.unwrap().map(|f| f.len());
    assert_eq!(size, Some(FILLER), "the filler is whole");
    let report = s.end().await.unwrap();
    assert!(report.written);
}

/// Creates the session on `a`, then moves it back and forth `MOVES` times, one note
/// change per move; answers the grants of the moves.
async fn back_and_forth(config: &NodeConfig) -> (Vec<GrantPayload>, Node, Node) {
    let (store, a, b) = two_nodes(config).await;
    let mut s = a.session(None);
    s.insert("filler", filler()).await.unwrap();
    s.insert("note", "note 0".to_string()).await.unwrap();
    let id = s.end().await.unwrap().id.unwrap();
    store.reset();
    for i in 1..=MOVES {
        let node = if i % 2 == 1 { &b } else { &a };
        step(node, &id, &format!("note {}", i - 1), &format!("note {i}")).await;
        assert!(node.holds(&id), "move {i} took the session");
    }
    let grants = store.grant_payloads();
    assert_eq!(grants.len(), MOVES, "one grant per move: {grants:?}");
    let stored: String = support::stored(&store, &id, "note").await.unwrap();
    assert_eq!(stored, format!("note {MOVES}"));
    (grants, a, b)
}

#[tokio::test(start_paused = true)]
async fn after_the_first_move_a_takeover_carries_only_the_change() {
    let (grants, a, b) = back_and_forth(&support::config()).await;
    let first = grants[0];
    assert!(!first.partial, "b never had the session: all of it");
    assert!(first.payload_bytes > FILLER, "{first:?}");
    for (i, g) in grants.iter().enumerate().skip(1) {
        assert!(g.partial, "move {} named the copy it had: {g:?}", i + 1);
        assert_eq!(g.attrs, 1, "move {}: only the note: {g:?}", i + 1);
        assert!(g.payload_bytes < 32, "move {}: {g:?}", i + 1);
    }
    let after: usize = grants[1..].iter().map(|g| g.payload_bytes).sum();
    println!(
        "takeover bytes with remembered copies: first move {}, then {} per move",
        first.payload_bytes,
        after / (MOVES - 1)
    );
    let partial = a.stats().partial_grants + b.stats().partial_grants;
    assert_eq!(partial, MOVES as u64 - 1);
    let bytes = a.stats().grant_bytes + b.stats().grant_bytes;
    assert_eq!(
        bytes,
        grants.iter().map(|g| g.payload_bytes as u64).sum::<u64>()
    );
}

#[tokio::test(start_paused = true)]
async fn without_the_memory_every_takeover_carries_everything() {
    let mut config = support::config();
    config.remembered_copies = 0;
    let (grants, _, _) = back_and_forth(&config).await;
    for g in &grants {
        assert!(!g.partial && g.payload_bytes > FILLER, "{g:?}");
    }
    let per_move = grants.iter().map(|g| g.payload_bytes).sum::<usize>() / MOVES;
    println!("takeover bytes without remembered copies: {per_move} per move");
}

/// A copy several changes old (attributes changed, added and removed by the other
/// node meanwhile) is completed, never trusted: the taker sees the session as it is.
#[tokio::test(start_paused = true)]
async fn an_old_copy_is_completed_with_every_change_since() {
    let (store, a, b) = two_nodes(&support::config()).await;
    let mut s = a.session(None);
    s.insert("filler", filler()).await.unwrap();
    s.insert("gone", 1u32).await.unwrap();
    s.insert("kept", 2u32).await.unwrap();
    let id = s.end().await.unwrap().id.unwrap();
    for i in 0..3u32 {
        let mut s = b.session(Some(id.clone()));
        s.insert("counter", i).await.unwrap();
        if i == 1 {
            s.remove::<u32>("gone").await.unwrap();
            s.insert("fresh", 7u32).await.unwrap();
        }
        s.end().await.unwrap();
    }
    store.reset();
    let mut s = a.session(Some(id.clone()));
    assert_eq!(s.get::<u32>("counter").await.unwrap(), Some(2));
    assert_eq!(s.get::<u32>("gone").await.unwrap(), None, "removed since");
    assert_eq!(s.get::<u32>("fresh").await.unwrap(), Some(7), "added since");
    assert_eq!(s.get::<u32>("kept").await.unwrap(), Some(2));
    assert_eq!(s.get::<String>("filler").await.unwrap(), Some(filler()));
    s.end().await.unwrap();
    let grants = store.grant_payloads();
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert!(grants[0].partial && grants[0].removed == 1 && grants[0].attrs == 2);
}

/// A remembered copy of a session that is gone (deleted elsewhere) is forgotten: the
/// store answers no such session, and the request starts a new one.
#[tokio::test(start_paused = true)]
async fn a_copy_of_a_deleted_session_starts_a_new_one() {
    let (_store, a, b) = two_nodes(&support::config()).await;
    let mut s = a.session(None);
    s.insert("note", "old".to_string()).await.unwrap();
    let id = s.end().await.unwrap().id.unwrap();
    let mut s = b.session(Some(id.clone()));
    s.delete().await.unwrap();
    s.end().await.unwrap();
    let mut s = a.session(Some(id.clone()));
    assert_eq!(s.get::<String>("note").await.unwrap(), None);
    assert!(
        s.is_new(),
        "the deleted id names nothing, remembered or not"
    );
    s.end().await.unwrap();
}
