//! Bytes on the wire to and from Redis, read from the server's own counters
//! (`INFO stats`): a 100 KB session in which each request changes one 10-byte
//! attribute costs a small fraction of the session per request, because the held
//! copy answers reads and each commit carries only the changed field.
//!
//! Two cases: the session stays on one node (it keeps its tenure), and the session
//! alternates between two nodes on every request (each request is a handoff, which
//! moves the whole session once). The counters are server-wide and include the
//! replies to the measuring `INFO` calls themselves (about 3 KB per measurement).

mod support;

use std::sync::Arc;
use tenure_store::Inspect as _;

use support::{redis, single_url, unique_prefix};
use tenure_node::{Node, NodeConfig};
use tenure_redis::{Inspector, RedisStore};

const BLOB: usize = 100 * 1024;
/// Requests on the held session.
const HELD: u64 = 1_000;
/// Requests alternating between nodes (each waits out the holder's minimum hold).
const MOVING: u64 = 100;

fn note(i: u64) -> String {
    format!("note-{i:05}")
}

async fn node(store: &RedisStore, name: &str) -> Node {
    let mut config = NodeConfig::default();
    config.label = name.to_string();
    Node::start(Arc::new(store.clone()), config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_10_byte_change_in_a_100_kb_session() {
    let prefix = unique_prefix("wire");
    let Some(store) = redis(single_url(), &prefix).await else {
        return;
    };
    let a = node(&store, "a").await;
    let b = node(&store, "b").await;
    let mut s = a.session(None);
    s.insert("blob", vec![7u8; BLOB]).await.unwrap();
    s.insert("note", note(0)).await.unwrap();
    let id = s.end().await.unwrap().id.unwrap();
    assert_eq!(note(0).len(), 10);

    // Held on one node: every request a cache hit plus one small commit.
    let before = store.server_stats().await.unwrap();
    for i in 1..=HELD {
        let mut s = a.session(Some(id.clone()));
        *s.get_mut::<String>("note").await.unwrap().unwrap() = note(i);
        assert!(s.end().await.unwrap().written);
    }
    let held = &store.server_stats().await.unwrap() - &before;
    let held_bytes = held.net_bytes() / HELD;

    // Alternating nodes: every request recalls the session from the other node.
    let before = store.server_stats().await.unwrap();
    for i in 1..=MOVING {
        let node = if i % 2 == 1 { &b } else { &a };
        let mut s = node.session(Some(id.clone()));
        *s.get_mut::<String>("note").await.unwrap().unwrap() = note(HELD + i);
        assert!(s.end().await.unwrap().written);
    }
    let moving = &store.server_stats().await.unwrap() - &before;
    let moving_bytes = moving.net_bytes() / MOVING;

    println!(
        "100 KB session, 10-byte change per request: held {held_bytes} B/request \
         ({:.2} commands sent), alternating nodes {moving_bytes} B/request ({:.2} commands sent)",
        held.client_commands() as f64 / HELD as f64,
        moving.client_commands() as f64 / MOVING as f64,
    );
    assert!(
        held_bytes * 50 < BLOB as u64,
        "held: {held_bytes} B per request is more than 1/50 of the session"
    );
    assert!(
        moving_bytes < 2 * BLOB as u64,
        "alternating: {moving_bytes} B per request; one handoff should move the session once"
    );

    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
    let inspector = Inspector::new(store.clone());
    let info = inspector.show(&id).await.unwrap().unwrap();
    let stored = info.attrs.iter().find(|a| a.name == "note").unwrap();
    assert_eq!(
        tenure_core::Codec::decode::<String>(&tenure_core::MessagePack, &stored.value).unwrap(),
        note(HELD + MOVING)
    );
    inspector.delete(&id).await.unwrap();
    store.quit().await;
}
