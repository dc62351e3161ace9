//! `Node::events` (issue 15): a consumer on one node sees the lifecycle of sessions
//! that other nodes change (login with principal, rotation, logout everywhere, an
//! expiry while no node held the session), in order per session; a consumer that
//! stops part way and resumes from its position gets the rest without a gap or a
//! repeat; one that resumes from a position the log dropped is told.

mod support;

use std::time::Duration;

use tenure_core::SessionId;
use tenure_node::{EventError, Node, SessionExpiry};
use tenure_store::{EventId, EventKind, SessionEvent};

async fn next_n(stream: &mut tenure_node::EventStream, n: usize) -> Vec<SessionEvent> {
    let mut out = Vec::new();
    for _ in 0..n {
        let event = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("an event within 10 s")
            .expect("the log reads");
        out.push(event);
    }
    out
}

fn kinds_of(events: &[SessionEvent], sid: &SessionId) -> Vec<&'static str> {
    events
        .iter()
        .filter(|e| &e.session == sid)
        .map(|e| e.kind.name())
        .collect()
}

async fn login(node: &Node, user: &str) -> SessionId {
    let mut s = node.session(None);
    s.insert("n", 1u64).await.unwrap();
    s.set_principal(user).await.unwrap();
    s.end().await.unwrap().id.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_consumer_sees_every_event_once_in_order() {
    let (_, store) = support::memory();
    let nodes = support::nodes(store.clone(), 2, &support::config()).await;
    let mut consumer = nodes[1].events(None);

    let a = login(&nodes[0], "ada").await;
    let mut s = nodes[0].session(Some(a.clone()));
    let b = s.rotate_id().await.unwrap().unwrap();
    s.end().await.unwrap();
    // Three events so far: created, principal, rotated (a → b).
    let head = next_n(&mut consumer, 3).await;
    let position = consumer.position();
    drop(consumer);

    // While the consumer is away: logout everywhere, and a session that expires with
    // no node holding it.
    assert_eq!(nodes[1].delete_sessions_of("ada", None).await.unwrap(), 1);
    let mut short = nodes[0].session(None);
    short
        .set_expiry(SessionExpiry::OnInactivity(Duration::from_millis(300)))
        .await
        .unwrap();
    short.insert("n", 1u64).await.unwrap();
    let c = short.end().await.unwrap().id.unwrap();
    nodes[0].release(&c).await.unwrap();
    assert!(!nodes[0].holds(&c));

    let mut resumed = nodes[1].events(position);
    let tail = next_n(&mut resumed, 3).await;
    let mut all = head.clone();
    all.extend(tail);
    let ids: Vec<EventId> = all.iter().map(|e| e.id).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "in order, no repeat: {ids:?}"
    );
    assert_eq!(kinds_of(&all, &a), ["created", "principal", "rotated"]);
    assert_eq!(all[2].kind, EventKind::Rotated { to: b.clone() });
    assert_eq!(kinds_of(&all, &b), ["deleted"]);
    assert_eq!(kinds_of(&all, &c), ["created", "expired"]);
}

#[tokio::test]
async fn a_position_the_log_dropped_is_reported() {
    let (_, store) = support::memory();
    let node = Node::start(store, support::config()).await.unwrap();
    let first = login(&node, "ada").await;
    let mut stream = node.events(None);
    let created = next_n(&mut stream, 1).await;
    assert_eq!(created[0].session, first);
    // More events than the log keeps.
    for _ in 0..=tenure_store::events::MEMORY_EVENT_LOG / 2 {
        let mut s = node.session(Some(first.clone()));
        s.clear_principal().await.unwrap();
        s.end().await.unwrap();
        let mut s = node.session(Some(first.clone()));
        s.set_principal("ada").await.unwrap();
        s.end().await.unwrap();
    }
    let mut late = node.events(stream.position());
    match late.next().await {
        Err(EventError::Missed { after }) => assert_eq!(Some(after), stream.position()),
        other => panic!("a dropped position must be reported, got {other:?}"),
    }
    // Then it goes on from the oldest event kept.
    assert!(late.next().await.is_ok());
}
