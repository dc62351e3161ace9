//! A principal's sessions through the node (issue 15): `Node::sessions_of` lists
//! them with their device labels from any node, and `Node::delete_sessions_of` ends
//! all of them (but the one excepted), also those other nodes hold with requests in
//! flight: afterwards no node holds them, every id starts a new session on every
//! node, and no write from an in-flight request reappears.

mod support;

use std::collections::BTreeSet;

use tenure_core::{Consistency, SessionId};
use tenure_node::{Node, SessionError};
use tenure_store::Store;

/// A login on `node`: a new session with the principal and a device label.
async fn login(node: &Node, user: &str, device: &str) -> SessionId {
    let mut s = node.session(None);
    s.insert("counter", 0u64).await.unwrap();
    s.insert("device", device.to_string()).await.unwrap();
    s.set_principal(user).await.unwrap();
    s.end().await.unwrap().id.expect("created")
}

fn ids(listed: &[tenure_node::SessionOf]) -> BTreeSet<SessionId> {
    listed.iter().map(|s| s.id.clone()).collect()
}

#[tokio::test]
async fn sessions_are_listed_with_labels_from_every_node() {
    let (_, store) = support::memory();
    let config = support::config().with_device_label("device");
    let nodes = support::nodes(store, 3, &config).await;
    let a = login(&nodes[0], "ada", "phone").await;
    let b = login(&nodes[1], "ada", "laptop").await;
    let other = login(&nodes[2], "bob", "tablet").await;
    for node in &nodes {
        let listed = node.sessions_of("ada").await.unwrap();
        assert_eq!(ids(&listed), BTreeSet::from([a.clone(), b.clone()]));
        let labels: BTreeSet<_> = listed.iter().filter_map(|s| s.label.clone()).collect();
        assert_eq!(labels, BTreeSet::from(["laptop".into(), "phone".into()]));
        assert!(listed.iter().all(|s| s.created <= s.last_access));
    }
    assert_eq!(
        ids(&nodes[0].sessions_of("bob").await.unwrap()),
        BTreeSet::from([other])
    );
    assert!(matches!(
        nodes[0].sessions_of("").await,
        Err(SessionError::Limit(_))
    ));
    assert!(nodes[0].sessions_of("nobody").await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_everywhere_ends_sessions_held_elsewhere_with_requests_in_flight() {
    for mode in [
        Consistency::Exclusive,
        Consistency::Optimistic,
        Consistency::LastWriterWins,
    ] {
        let (_, store) = support::memory();
        let config = support::config().with_consistency(mode);
        let nodes = support::nodes(store.clone(), 3, &config).await;
        let mut sessions = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            sessions.push(login(node, "ada", &format!("device {i}")).await);
        }
        let keep = login(&nodes[0], "ada", "this one").await;
        let bob = login(&nodes[1], "bob", "bob's").await;

        // A request in flight on each session, on the node that created (and, in
        // exclusive mode, holds) it: each has changed `counter` and not ended.
        let mut flights = Vec::new();
        for (node, id) in nodes.iter().zip(&sessions) {
            flights.push(support::in_flight(node, id, "counter", |c| *c = 99).await);
        }
        let deleting = {
            let (node, keep) = (nodes[2].clone(), keep.clone());
            tokio::spawn(async move { node.delete_sessions_of("ada", Some(&keep)).await })
        };
        // The in-flight requests finish while the logout runs: in exclusive mode
        // the recalls wait for them.
        for (go, task) in flights {
            let _ = go.send(());
            // Stored before the delete, or refused: either is fine, a write after
            // the delete is not.
            let _ = task.await.unwrap();
        }
        let ended = deleting.await.unwrap().unwrap();
        assert_eq!(ended, 3, "{mode:?}");

        for id in &sessions {
            assert!(
                store.load(id).await.unwrap().is_none(),
                "{mode:?}: deleted at the store"
            );
            for node in &nodes {
                assert!(
                    !node.holds(id),
                    "{mode:?}: a node still holds an ended session"
                );
                let mut s = node.session(Some(id.clone()));
                assert_eq!(
                    s.get::<u64>("counter").await.unwrap(),
                    None,
                    "{mode:?}: a write reappeared"
                );
                assert!(s.is_new(), "{mode:?}: the old cookie starts a new session");
                s.end().await.unwrap();
            }
        }
        let listed = nodes[1].sessions_of("ada").await.unwrap();
        assert_eq!(ids(&listed), BTreeSet::from([keep.clone()]), "{mode:?}");
        assert_eq!(
            ids(&nodes[1].sessions_of("bob").await.unwrap()),
            BTreeSet::from([bob])
        );
        for node in nodes {
            node.shutdown().await.unwrap();
        }
        assert!(
            store.load(&sessions[0]).await.unwrap().is_none(),
            "{mode:?}: shutdown wrote nothing back"
        );
    }
}
