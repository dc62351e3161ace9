//! Concurrent local requests on one session: on different attributes they overlap, on
//! the same attribute they run one after the other. Shown by what each request sees
//! and by which tasks have finished, not by timing.

mod support;

use tenure_node::{Node, SessionError};
use tokio::sync::oneshot;

async fn setup() -> (Node, tenure_core::SessionId) {
    let (_, store) = support::memory();
    let node = Node::start(store, support::config()).await.unwrap();
    let mut s = node.session(None);
    s.insert("a", 0u64).await.unwrap();
    s.insert("b", 0u64).await.unwrap();
    let id = s.end().await.unwrap().id.unwrap();
    (node, id)
}

/// Request 1 takes `a` mutably, increments it, and waits for `go` before it ends.
async fn hold_a(
    node: &Node,
    id: &tenure_core::SessionId,
) -> (oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (go, task) = support::in_flight(node, id, "a", |v| *v += 1).await;
    (
        go,
        tokio::spawn(async move {
            task.await.unwrap().unwrap();
        }),
    )
}

#[tokio::test]
async fn different_attributes_overlap() {
    let (node, id) = setup().await;
    let (go, r1) = hold_a(&node, &id).await;

    // Request 2 on `b` runs from start to end while request 1 is inside its request.
    let mut s = node.session(Some(id.clone()));
    *s.get_mut::<u64>("b").await.unwrap().unwrap() += 1;
    s.end().await.unwrap();
    assert!(
        !r1.is_finished(),
        "request 1 is still in flight: the two overlapped"
    );

    go.send(()).unwrap();
    r1.await.unwrap();
    let mut s = node.session(Some(id));
    assert_eq!(
        (
            s.get::<u64>("a").await.unwrap(),
            s.get::<u64>("b").await.unwrap()
        ),
        (Some(1), Some(1))
    );
}

#[tokio::test]
async fn i11_same_attribute_serializes() {
    let (node, id) = setup().await;
    let (go, r1) = hold_a(&node, &id).await;

    // Request 3 wants `a` too: it must not get it while request 1 holds it.
    let (node3, id3) = (node.clone(), id.clone());
    let r3 = tokio::spawn(async move {
        let mut s = node3.session(Some(id3));
        let a = s.get_mut::<u64>("a").await.unwrap().unwrap();
        let seen = *a;
        *a += 1;
        s.end().await.unwrap();
        seen
    });
    support::settle().await;
    assert!(
        !r3.is_finished(),
        "request 3 waits for request 1's lock on `a`"
    );

    go.send(()).unwrap();
    r1.await.unwrap();
    // Had the two overlapped, request 3 would have read 0 (request 1's change is only
    // applied when it ends).
    assert_eq!(r3.await.unwrap(), 1, "request 3 ran after request 1 ended");
    let mut s = node.session(Some(id));
    assert_eq!(s.get::<u64>("a").await.unwrap(), Some(2));
}

#[tokio::test]
async fn readers_share_an_attribute() {
    let (node, id) = setup().await;
    let mut r1 = node.session(Some(id.clone()));
    assert_eq!(r1.get::<u64>("a").await.unwrap(), Some(0));
    // A second reader gets `a` while the first still holds its shared lock.
    let mut r2 = node.session(Some(id.clone()));
    assert_eq!(r2.get::<u64>("a").await.unwrap(), Some(0));
    r1.end().await.unwrap();
    r2.end().await.unwrap();
}

/// I11 as it stands: reads take no lock, so two requests that read an attribute and
/// then both take it mutably do not deadlock (with shared read locks they did); the
/// second waits for the first, sees its change, and neither increment is lost.
#[tokio::test]
async fn i11_read_then_modify_by_two_requests_is_no_deadlock() {
    let (node, id) = setup().await;
    let mut r1 = node.session(Some(id.clone()));
    let mut r2 = node.session(Some(id.clone()));
    assert_eq!(r1.get::<u64>("a").await.unwrap(), Some(0));
    assert_eq!(r2.get::<u64>("a").await.unwrap(), Some(0));
    *r1.get_mut::<u64>("a").await.unwrap().unwrap() += 10;
    let second = tokio::spawn(async move {
        let a = r2.get_mut::<u64>("a").await.unwrap().unwrap();
        let seen = *a;
        *a += 1;
        r2.end().await.unwrap();
        seen
    });
    support::settle().await;
    assert!(
        !second.is_finished(),
        "request 2 waits for request 1's write lock"
    );
    r1.end().await.unwrap();
    assert_eq!(second.await.unwrap(), 10, "get_mut sees the latest value");
    assert_eq!(node.stats().deadlocks, 0);
    let mut s = node.session(Some(id));
    assert_eq!(s.get::<u64>("a").await.unwrap(), Some(11));
}

/// I11: taking two attributes in opposite orders is the deadlock that remains: the
/// request that would close the cycle is refused with a typed error naming both.
#[tokio::test]
async fn i11_opposite_orders_are_a_typed_deadlock_not_a_hang() {
    let (node, id) = setup().await;
    let mut r1 = node.session(Some(id.clone()));
    let mut r2 = node.session(Some(id.clone()));
    *r1.get_mut::<u64>("a").await.unwrap().unwrap() += 1;
    *r2.get_mut::<u64>("b").await.unwrap().unwrap() += 1;
    let first = tokio::spawn(async move {
        *r1.get_mut::<u64>("b").await.unwrap().unwrap() += 1;
        r1.end().await.unwrap();
    });
    support::settle().await;
    assert!(
        !first.is_finished(),
        "request 1 waits for request 2's lock on b"
    );
    let err = r2.get_mut::<u64>("a").await.unwrap_err();
    assert!(
        matches!(&err, SessionError::Deadlock { attrs } if attrs == &["a", "b"]),
        "{err}"
    );
    drop(r2); // the refused request fails and lets go
    first.await.unwrap();
    assert_eq!(node.stats().deadlocks, 1);
    let mut s = node.session(Some(id));
    assert_eq!(
        (
            s.get::<u64>("a").await.unwrap(),
            s.get::<u64>("b").await.unwrap()
        ),
        (Some(1), Some(1)),
        "request 1 applied both; the refused request nothing"
    );
}

/// I11: a read takes no lock: it never waits for a writer, and sees the value as the
/// last request that ended left it (not the writer's change in progress).
#[tokio::test]
async fn i11_a_read_never_waits_and_sees_the_last_ended_value() {
    let (node, id) = setup().await;
    let (go, writer) = hold_a(&node, &id).await; // changes a to 1, not ended yet
    let mut reader = node.session(Some(id.clone()));
    assert_eq!(
        reader.get::<u64>("a").await.unwrap(),
        Some(0),
        "answered at once, with the last ended value"
    );
    go.send(()).unwrap();
    writer.await.unwrap();
    assert_eq!(
        reader.get::<u64>("a").await.unwrap(),
        Some(1),
        "a later read in the same request sees the writer's ended change"
    );
    reader.end().await.unwrap();
}
