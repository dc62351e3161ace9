//! Lease expiry: a node that stops renewing (and hears no hints) loses the session
//! after its lease; another node gets it; the first node's later commit is rejected
//! as stale and applies nothing.

mod support;

use std::sync::Arc;
use std::time::Duration;

use tenure_node::{Node, SessionError};
use tenure_store::{MemoryStore, Store};
use tenure_test::FaultyStore;
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn stalled_node_loses_tenure_and_its_late_commit_applies_nothing() {
    let faulty = FaultyStore::new(MemoryStore::new());
    let shared: Arc<dyn Store> = Arc::new(faulty.clone());
    let mut config = support::config();
    config.lease = Duration::from_secs(3);
    config.renew_interval = Duration::from_secs(1);
    config.lease_margin = Duration::from_millis(500);
    let a = Node::start(shared.clone(), config.clone()).await.unwrap();
    let b = Node::start(shared.clone(), config.clone()).await.unwrap();
    let id = support::new_counter_session(&a).await;

    // A request on A is in flight when A stalls: no renewals, no hints.
    let (go, stalled) = support::in_flight(&a, &id, "counter", |v| *v = 999).await;
    faulty.fail_renew_for(&a.owner(), true);
    faulty.drop_hints_for(&a.owner(), true);
    let stalled_at = Instant::now();

    // B gets the session once A's lease has run out at the store.
    let mut s = b.session(Some(id.clone()));
    *s.get_mut::<u64>("counter").await.unwrap().unwrap() += 1;
    s.end().await.unwrap();
    let waited = stalled_at.elapsed();
    assert!(
        waited >= config.lease - config.renew_interval,
        "B was granted only after A's lease ended (waited {waited:?})"
    );

    // A's request ends now: its commit carries a superseded fence.
    go.send(()).unwrap();
    let err = stalled.await.unwrap().unwrap_err();
    assert!(matches!(err, SessionError::TenureLost), "{err}");
    assert!(err.is_tenure_lost());
    assert_eq!(
        support::stored::<u64>(&*shared, &id, "counter").await,
        Some(1),
        "A's write applied nothing"
    );
    assert_eq!(a.stats().tenure_lost, 1, "counted");
    assert!(!a.holds(&id), "A dropped its copy");

    // A can take part again: it queues behind B like anyone else.
    faulty.heal();
    let mut s = a.session(Some(id.clone()));
    assert_eq!(s.get::<u64>("counter").await.unwrap(), Some(1));
    s.end().await.unwrap();
}
