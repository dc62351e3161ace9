//! Session lifecycle through the node: id rotation (login), deletion (logout), and
//! store-side expiry, seen from several nodes.

mod support;

use std::time::Duration;

use tenure_core::Consistency;
use tenure_store::{Expiry, Store};

#[tokio::test]
async fn rotate_id_keeps_the_data_and_retires_the_old_id() {
    for mode in [Consistency::Exclusive, Consistency::Optimistic] {
        let (_, store) = support::memory();
        let mut config = support::config();
        config.consistency = mode;
        let nodes = support::nodes(store.clone(), 2, &config).await;
        let old = support::new_counter_session(&nodes[0]).await;

        let mut s = nodes[0].session(Some(old.clone()));
        s.insert("user", "ada".to_string()).await.unwrap();
        let new = s
            .rotate_id()
            .await
            .unwrap()
            .expect("a stored session gets a new id");
        assert_ne!(new, old);
        assert_eq!(s.id(), Some(&new));
        let report = s.end().await.unwrap();
        assert_eq!(report.id.as_ref(), Some(&new), "{mode:?}");

        // Another node finds the data under the new id only.
        let mut s = nodes[1].session(Some(new.clone()));
        assert_eq!(
            s.get::<String>("user").await.unwrap().as_deref(),
            Some("ada"),
            "{mode:?}"
        );
        assert_eq!(s.get::<u64>("counter").await.unwrap(), Some(0));
        s.end().await.unwrap();
        let mut s = nodes[1].session(Some(old.clone()));
        assert_eq!(
            s.get::<String>("user").await.unwrap(),
            None,
            "{mode:?}: the old id is dead"
        );
        assert!(s.is_new());
        s.end().await.unwrap();
        assert!(store.load(&old).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn delete_ends_the_session_everywhere() {
    let (_, store) = support::memory();
    let nodes = support::nodes(store.clone(), 2, &support::config()).await;
    let id = support::new_counter_session(&nodes[0]).await;

    let mut s = nodes[0].session(Some(id.clone()));
    s.delete().await.unwrap();
    assert_eq!(s.id(), None);
    assert_eq!(
        s.get::<u64>("counter").await.unwrap(),
        None,
        "the handle is a new, empty session"
    );
    let report = s.end().await.unwrap();
    assert_eq!(
        report.id, None,
        "nothing stored after the delete: no session"
    );
    assert!(!nodes[0].holds(&id));
    assert!(store.load(&id).await.unwrap().is_none());

    let mut s = nodes[1].session(Some(id));
    assert_eq!(s.get::<u64>("counter").await.unwrap(), None);
    assert!(s.is_new());
}

#[tokio::test]
async fn delete_then_insert_starts_a_fresh_session() {
    let (_, store) = support::memory();
    let nodes = support::nodes(store, 1, &support::config()).await;
    let id = support::new_counter_session(&nodes[0]).await;
    let mut s = nodes[0].session(Some(id.clone()));
    s.delete().await.unwrap();
    s.insert("flash", "logged out".to_string()).await.unwrap();
    let report = s.end().await.unwrap();
    assert!(report.created);
    assert_ne!(report.id, Some(id));
}

#[tokio::test(start_paused = true)]
async fn idle_expiry_at_the_store_slides_with_use_and_ends_unused_sessions() {
    let (_, store) = support::memory();
    let mut config = support::config();
    config.expiry = Expiry {
        idle: Some(Duration::from_secs(60)),
        absolute: None,
    };
    config.idle_release = Duration::from_secs(3600); // the node keeps holding it
    let store = tenure_test::CountingStore::from_arc(store);
    let nodes = support::nodes(std::sync::Arc::new(store.clone()), 1, &config).await;
    let id = support::new_counter_session(&nodes[0]).await;
    // Requests every 40 s are served from the node's memory (no acquire, no load);
    // only the renewals' `touch` tells the store the session is in use.
    let before = store.counts();
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_secs(40)).await;
        let mut s = nodes[0].session(Some(id.clone()));
        assert_eq!(s.get::<u64>("counter").await.unwrap(), Some(0));
        s.end().await.unwrap();
    }
    let calls = store.counts() - before;
    assert_eq!(
        (calls.acquire, calls.load, calls.commit),
        (0, 0, 0),
        "{calls:?}"
    );
    assert!(nodes[0].holds(&id));
    // Unused for longer than the idle timeout: the store ends it even though the node
    // still renews its lease, and the node learns it from the renewal.
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert!(!nodes[0].holds(&id));
    assert!(store.load(&id).await.unwrap().is_none());
    let mut s = nodes[0].session(Some(id));
    assert_eq!(s.get::<u64>("counter").await.unwrap(), None);
    assert!(s.is_new());
}

/// Regression: the node served a held session from its near cache after the store's
/// absolute timeout, and the request then failed on a stale commit. A held session
/// past its timeout now behaves as a new one, without asking the store.
#[tokio::test(start_paused = true)]
async fn a_held_session_past_its_absolute_timeout_is_new_again() {
    let (_, store) = support::memory();
    let mut config = support::config();
    config.expiry = Expiry {
        idle: None,
        absolute: Some(Duration::from_secs(60)),
    };
    let nodes = support::nodes(store.clone(), 1, &config).await;
    let id = support::new_counter_session(&nodes[0]).await;
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_secs(11)).await;
        let mut s = nodes[0].session(Some(id.clone()));
        *s.get_mut::<u64>("counter").await.unwrap().unwrap() += 1;
        s.end().await.unwrap();
    }
    assert!(nodes[0].holds(&id), "busy, so still held at 55 s");
    tokio::time::sleep(Duration::from_secs(6)).await; // 61 s
    let mut s = nodes[0].session(Some(id.clone()));
    assert_eq!(s.get::<u64>("counter").await.unwrap(), None);
    assert!(s.is_new());
    s.insert("counter", 1u64).await.unwrap();
    let report = s.end().await.unwrap();
    assert!(report.created && report.id != Some(id.clone()));
    support::settle().await;
    assert!(store.load(&id).await.unwrap().is_none());
}
