//! Bad input gives typed errors, never a panic: bytes that do not decode as the
//! requested type, and attribute size, name and count limits.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tenure_core::{Bytes, LimitError, Limits, SessionId};
use tenure_node::{Node, SessionError};
use tenure_store::{Expiry, MemoryStore, Store};

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Cart {
    items: Vec<String>,
    total: u64,
}

#[tokio::test]
async fn wrong_type_is_a_decode_error_naming_the_attribute() {
    let (_, store) = support::memory();
    let node = Node::start(store, support::config()).await.unwrap();
    let mut s = node.session(None);
    s.insert("name", "ada".to_string()).await.unwrap();
    let id = s.end().await.unwrap().id.unwrap();
    let mut s = node.session(Some(id));
    for err in [
        s.get::<u64>("name").await.unwrap_err(),
        s.get_mut::<Cart>("name").await.map(|_| ()).unwrap_err(),
    ] {
        assert!(
            matches!(&err, SessionError::Decode { attr, .. } if attr == "name"),
            "{err}"
        );
        assert!(err.to_string().contains("`name`"));
    }
    // The attribute is untouched and still readable as what it is.
    assert_eq!(
        s.get::<String>("name").await.unwrap().as_deref(),
        Some("ada")
    );
}

/// Arbitrary bytes at the store, read as several types: errors or values, never panics.
#[tokio::test]
async fn arbitrary_stored_bytes_never_panic() {
    let memory = MemoryStore::new();
    let node = Node::start(Arc::new(memory.clone()), support::config())
        .await
        .unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let mut attrs = Vec::new();
    for i in 0..2_000 {
        let len = rng.random_range(0..64);
        let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        attrs.push((format!("a{i}"), Bytes::from(bytes)));
    }
    let id = SessionId::generate().unwrap();
    memory
        .create(&id, attrs.clone(), Expiry::default(), None)
        .await
        .unwrap();
    let mut s = node.session(Some(id));
    let mut decoded = 0;
    for (name, _) in &attrs {
        decoded += usize::from(s.get::<Cart>(name).await.is_ok());
        decoded += usize::from(s.get::<BTreeMap<String, u64>>(name).await.is_ok());
        decoded += usize::from(s.get::<String>(name).await.is_ok());
        if let Err(e) = s.get::<serde_json::Value>(name).await {
            assert!(matches!(e, SessionError::Decode { .. }), "{e}");
        }
    }
    println!("{decoded} of {} typed reads decoded", attrs.len() * 3);
}

#[tokio::test]
async fn limits_give_typed_errors() {
    let (_, store) = support::memory();
    let mut config = support::config();
    config.limits = Limits {
        max_name_len: 16,
        max_value_bytes: 1_000,
        max_attrs: 3,
        max_session_bytes: 2_500,
    };
    let node = Node::start(store, config).await.unwrap();
    let mut s = node.session(None);

    let err = s.insert("big", "x".repeat(2_000)).await.unwrap_err();
    assert!(
        matches!(&err, SessionError::Limit(LimitError::ValueSize { attr, size, max: 1_000 }) if attr == "big" && *size > 2_000),
        "{err}"
    );
    let err = s.insert("n".repeat(17).as_str(), 1u8).await.unwrap_err();
    assert!(
        matches!(err, SessionError::Limit(LimitError::Name { .. })),
        "{err}"
    );
    let err = s.get::<u8>("").await.unwrap_err();
    assert!(
        matches!(err, SessionError::Limit(LimitError::Name { .. })),
        "{err}"
    );
    // A value grown in place past the limit is caught when the request ends.
    *s.get_mut_or_insert_with("grows", String::new)
        .await
        .unwrap() = "y".repeat(1_500);
    let err = s.end().await.unwrap_err();
    assert!(
        matches!(err, SessionError::Limit(LimitError::ValueSize { .. })),
        "{err}"
    );

    let mut s = node.session(None);
    for name in ["a", "b", "c", "d"] {
        s.insert(name, 1u8).await.unwrap();
    }
    let err = s.end().await.unwrap_err();
    assert!(
        matches!(
            err,
            SessionError::Limit(LimitError::Count { count: 4, max: 3 })
        ),
        "{err}"
    );

    let mut s = node.session(None);
    s.insert("a", "x".repeat(900)).await.unwrap();
    let id = s.end().await.unwrap().id.unwrap();
    let mut s = node.session(Some(id.clone()));
    s.insert("b", "x".repeat(900)).await.unwrap();
    s.insert("c", "x".repeat(900)).await.unwrap();
    let err = s.end().await.unwrap_err();
    assert!(
        matches!(err, SessionError::Limit(LimitError::SessionSize { .. })),
        "{err}"
    );
    // Nothing of the refused request was applied.
    let mut s = node.session(Some(id));
    assert_eq!(s.get::<String>("b").await.unwrap(), None);
}

#[tokio::test]
async fn unknown_session_id_starts_a_new_session() {
    let (_, store) = support::memory();
    let node = Node::start(store, support::config()).await.unwrap();
    let unknown = SessionId::generate().unwrap();
    let mut s = node.session(Some(unknown.clone()));
    assert_eq!(s.get::<u64>("counter").await.unwrap(), None);
    assert!(s.is_new());
    assert_eq!(s.id(), None, "the unknown id is not kept");
    s.insert("counter", 1u64).await.unwrap();
    let report = s.end().await.unwrap();
    assert!(report.created);
    assert_ne!(
        report.id.as_ref(),
        Some(&unknown),
        "a fresh id, never the presented one"
    );
}

/// The README quotes this message: a rule that binds two settings names both, and
/// says what to change.
#[tokio::test]
async fn an_impossible_config_fails_start_with_a_message_naming_what_to_change() {
    let config = tenure_node::NodeConfig::new().with_expiry(tenure_store::Expiry {
        idle: Some(std::time::Duration::from_secs(10)),
        absolute: None,
    });
    let err = tenure_node::Node::start(
        std::sync::Arc::new(tenure_store::MemoryStore::new()),
        config,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid node configuration: the idle timeout (10s) must exceed twice \
         renew_interval (5s), since reads served from memory reach the store with the \
         renewals: raise the idle timeout (NodeConfig::with_expiry) or lower renew_interval"
    );
}
