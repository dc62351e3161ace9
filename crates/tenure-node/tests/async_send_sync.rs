//! The futures a web framework awaits must be `Send`; the handles must be shareable.

use std::sync::Arc;

use tenure_node::{Node, NodeConfig, Session};
use tenure_store::MemoryStore;

fn send<T: Send>(_: &T) {}
fn send_sync<T: Send + Sync>() {}

#[test]
fn handles_are_send_and_sync() {
    send_sync::<Node>();
    send_sync::<Session>();
    send_sync::<tenure_node::SessionError>();
}

#[tokio::test]
async fn session_futures_are_send() {
    let node = Node::start(Arc::new(MemoryStore::new()), NodeConfig::default())
        .await
        .unwrap();
    let mut s = node.session(None);
    send(&s.get::<u64>("a"));
    send(&s.get_mut::<u64>("a"));
    send(&s.insert("a", 1u64));
    send(&s.remove_value("a"));
    send(&s.rotate_id());
    send(&s.delete());
    send(&node.flush_all());
    send(&node.shutdown());
    send(&node.session(None).end());
    send(&Node::start(
        Arc::new(MemoryStore::new()),
        NodeConfig::default(),
    ));
}
