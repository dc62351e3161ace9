//! Script loading and key layout on a real server: calls keep working after the
//! server forgets its scripts (`SCRIPT FLUSH`, as after a restart or failover), and a
//! session's keys all carry its hash tag under the configured prefix.

mod support;

use std::time::Duration;

use support::*;
use tenure_core::{OwnerId, SessionId};
use tenure_redis::fred::interfaces::{ClientLike, KeysInterface};
use tenure_redis::fred::types::{ClusterHash, CustomCommand, Value};
use tenure_store::{AcquireReply, CreateReply, Expiry, Store};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn calls_survive_script_flush() {
    if !reachable(single_url()) {
        return;
    }
    runtime().block_on(async {
        let store = connect(single_url()).await;
        let sid = SessionId::generate().unwrap();
        let owner = OwnerId::generate("t").unwrap();
        let expiry = Expiry {
            idle: Some(Duration::from_secs(60)),
            absolute: None,
        };
        let created = store.create(&sid, vec![], expiry, None).await.unwrap();
        assert!(matches!(created, CreateReply::Created { fence: None }));
        let flush = CustomCommand::new_static("SCRIPT", ClusterHash::Random, false);
        let _: Value = store.client().custom(flush, vec!["FLUSH"]).await.unwrap();
        let reply = store
            .acquire(&sid, &owner, Duration::from_secs(5), Duration::from_secs(1))
            .await
            .unwrap();
        assert!(
            matches!(reply, AcquireReply::Granted(_)),
            "NOSCRIPT is answered by loading the script again: {reply:?}"
        );
        assert!(store.delete(&sid).await.unwrap());
        store.quit().await;
    });
}

#[test]
fn session_keys_share_a_hash_tag_under_the_prefix() {
    if !reachable(single_url()) {
        return;
    }
    runtime().block_on(async {
        let store = connect(single_url()).await;
        let sid = SessionId::generate().unwrap();
        let attrs = vec![("a".to_string(), tenure_core::Bytes::from_static(b"1"))];
        let expiry = Expiry {
            idle: Some(Duration::from_secs(60)),
            absolute: None,
        };
        store.create(&sid, attrs, expiry, None).await.unwrap();
        for suffix in ["m", "a", "v"] {
            let key = format!("tenure-test:{{{}}}:{suffix}", sid.as_str());
            let ttl: i64 = store.client().pttl(&key).await.unwrap();
            assert!(
                ttl > 60_000 && ttl <= 60_000 * 9 / 8,
                "{key} exists with the idle timeout and its slack as TTL, got {ttl}"
            );
        }
        store.delete(&sid).await.unwrap();
        let key = format!("tenure-test:{{{}}}:m", sid.as_str());
        let exists: i64 = store.client().exists(&key).await.unwrap();
        assert_eq!(exists, 0, "delete removes the keys");
        store.quit().await;
    });
}
