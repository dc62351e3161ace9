//! The embedded store's principal index (issue 15) does not outgrow its sessions:
//! the entries of 10,000 expired sessions of one principal are gone after one
//! `sessions_of` call (the embedded index checks every entry of the principal it
//! lists), or after `purge_expired`, and never listed meanwhile. Paused clock.

use std::time::Duration;

use tenure_core::{Bytes, SessionId, PRINCIPAL_ATTR};
use tenure_store::{Expiry, MemoryStore, Store};

async fn create_many(store: &MemoryStore, principal: &str, n: usize, expiry: Expiry) {
    for _ in 0..n {
        let sid = SessionId::generate().unwrap();
        let attrs = vec![(
            PRINCIPAL_ATTR.to_string(),
            Bytes::from(principal.to_string()),
        )];
        store.create(&sid, attrs, expiry, None).await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn expired_entries_go_with_one_listing_or_a_purge() {
    let store = MemoryStore::new();
    let short = Expiry::idle(Duration::from_secs(1));
    create_many(&store, "bulk", 10_000, short).await;
    create_many(&store, "other", 10_000, short).await;
    create_many(&store, "bulk", 1, Expiry::default()).await;
    assert_eq!(store.principal_entries(), 20_001);
    tokio::time::advance(Duration::from_secs(2)).await;

    let listed = store.sessions_of("bulk", None).await.unwrap();
    assert_eq!(listed.len(), 1, "only the live session is listed");
    assert_eq!(
        store.principal_entries(),
        10_001,
        "one listing removed the principal's expired entries"
    );
    assert_eq!(store.purge_expired(), 10_000);
    assert_eq!(store.principal_entries(), 1, "a purge removes the rest");
}
