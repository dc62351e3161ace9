//! A session's principal (`Session::set_principal`) through the node: stored with the
//! request's changes, seen by other nodes in every mode, kept through `rotate_id`
//! and `clear`, taken away by `clear_principal`, and checked.

mod support;

use tenure_core::{Consistency, PRINCIPAL_ATTR};
use tenure_node::SessionError;
use tenure_store::Store;

#[tokio::test]
async fn the_principal_is_stored_seen_everywhere_and_kept_through_rotation() {
    for mode in [
        Consistency::Exclusive,
        Consistency::Optimistic,
        Consistency::LastWriterWins,
    ] {
        let (_, store) = support::memory();
        let config = support::config().with_consistency(mode);
        let nodes = support::nodes(store.clone(), 2, &config).await;

        // Login: a new session, its id rotated, the principal set.
        let mut s = nodes[0].session(None);
        s.insert("cart", 3u32).await.unwrap();
        assert_eq!(s.principal(), None);
        s.set_principal("user-42").await.unwrap();
        assert_eq!(s.principal().as_deref(), Some("user-42"), "{mode:?}");
        let old = s.end().await.unwrap().id.expect("created");

        // The store holds the principal's own bytes, for its index to read.
        let snap = store.load(&old).await.unwrap().expect("stored");
        assert_eq!(
            snap.value(PRINCIPAL_ATTR).map(|b| b.to_vec()),
            Some(b"user-42".to_vec()),
            "{mode:?}"
        );

        let mut s = nodes[1].session(Some(old.clone()));
        assert_eq!(s.principal_now().await.unwrap().as_deref(), Some("user-42"));
        let new = s.rotate_id().await.unwrap().expect("rotated");
        // `clear` removes the app's attributes, not who the session belongs to.
        s.clear().await.unwrap();
        s.end().await.unwrap();

        let mut s = nodes[0].session(Some(new.clone()));
        assert_eq!(
            s.principal_now().await.unwrap().as_deref(),
            Some("user-42"),
            "{mode:?}: kept through rotate_id and clear"
        );
        assert_eq!(s.get::<u32>("cart").await.unwrap(), None);
        assert!(
            s.is_empty().await.unwrap(),
            "the principal is not an app attribute"
        );
        s.clear_principal().await.unwrap();
        assert_eq!(s.principal(), None);
        s.end().await.unwrap();

        let mut s = nodes[1].session(Some(new.clone()));
        assert_eq!(s.principal_now().await.unwrap(), None, "{mode:?}: cleared");
        s.end().await.unwrap();
    }
}

#[tokio::test]
async fn a_request_dropped_without_end_sets_no_principal() {
    let (_, store) = support::memory();
    let nodes = support::nodes(store.clone(), 1, &support::config()).await;
    let id = support::new_counter_session(&nodes[0]).await;

    let mut s = nodes[0].session(Some(id.clone()));
    s.set_principal("user-7").await.unwrap();
    drop(s);

    let mut s = nodes[0].session(Some(id.clone()));
    assert_eq!(s.principal_now().await.unwrap(), None);
    s.end().await.unwrap();
    let snap = store.load(&id).await.unwrap().expect("stored");
    assert!(snap.value(PRINCIPAL_ATTR).is_none());
}

#[tokio::test]
async fn bad_principals_are_refused_and_change_nothing() {
    let (_, store) = support::memory();
    let nodes = support::nodes(store.clone(), 1, &support::config()).await;
    let id = support::new_counter_session(&nodes[0]).await;

    let mut s = nodes[0].session(Some(id.clone()));
    s.set_principal("ada").await.unwrap();
    for bad in [String::new(), "a\nb".to_string(), "x".repeat(257)] {
        let err = s.set_principal(&bad).await.unwrap_err();
        assert!(matches!(err, SessionError::Limit(_)), "{bad:?}: {err}");
    }
    assert_eq!(s.principal().as_deref(), Some("ada"));
    s.end().await.unwrap();
    let snap = store.load(&id).await.unwrap().expect("stored");
    assert_eq!(
        snap.value(PRINCIPAL_ATTR).map(|b| b.to_vec()),
        Some(b"ada".to_vec())
    );
}
