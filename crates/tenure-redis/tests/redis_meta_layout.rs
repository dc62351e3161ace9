//! The session meta is one packed field (`b` of the meta hash). Sessions written by
//! earlier versions, one decimal field each, are still read, and the first save
//! replaces their fields with the packed one; a packed meta that does not unpack is
//! refused as corrupt, without a write.

mod support;

use std::time::Duration;

use support::*;
use tenure_core::{Bytes, OwnerId, SessionId};
use tenure_redis::fred::interfaces::{HashesInterface, LuaInterface};
use tenure_store::{AcquireReply, Expiry, Store, StoreError};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn meta_key(sid: &SessionId) -> String {
    format!("tenure-test:{{{}}}:m", sid.as_str())
}

/// Rewrites a session's packed meta as the earlier layout had it.
const TO_LEGACY: &str = "local f = '<dddddddddddddI4c0I4c0' \
    local t = { struct.unpack(f, redis.call('HGET', KEYS[1], 'b')) } \
    local function d(n) return string.format('%d', n) end \
    redis.call('HDEL', KEYS[1], 'b') \
    local lf, lu = '', '' \
    if t[14] ~= '' then lf, lu = d(t[7]), d(t[8]) end \
    redis.call('HSET', KEYS[1], 'v', d(t[1]), 'c', d(t[2]), 'i', d(t[3]), 'x', d(t[4]), \
      'la', d(t[5]), 'lf', d(t[6]), 'f', lf, 'u', lu, 'cf', d(t[9]), 'cs', d(t[10]), \
      'cv', d(t[11]), 'ol', d(t[12]), 'kt', d(t[13]), 'o', t[14], 'q', t[15]) \
    return 1";

#[test]
fn a_session_in_the_earlier_layout_is_read_and_rewritten_packed() {
    if !reachable(single_url()) {
        return;
    }
    runtime().block_on(async {
        let store = connect(single_url()).await;
        let sid = SessionId::generate().unwrap();
        let attrs = vec![("a".to_string(), Bytes::from_static(b"1"))];
        store
            .create(&sid, attrs, Expiry::idle(Duration::from_secs(60)), None)
            .await
            .unwrap();
        let key = meta_key(&sid);
        let _: i64 = store
            .client()
            .eval(TO_LEGACY, vec![key.clone()], Vec::<String>::new())
            .await
            .unwrap();
        let fields: i64 = store.client().hlen(&key).await.unwrap();
        assert_eq!(fields, 15, "the earlier layout: one field each");
        let snapshot = store.load(&sid).await.unwrap().expect("still there");
        assert_eq!(snapshot.attrs.len(), 1);
        let owner = OwnerId::generate("t").unwrap();
        let reply = store
            .acquire(&sid, &owner, Duration::from_secs(5), Duration::from_secs(1))
            .await
            .unwrap();
        assert!(matches!(reply, AcquireReply::Granted(_)), "{reply:?}");
        let fields: i64 = store.client().hlen(&key).await.unwrap();
        assert_eq!(fields, 1, "the first save leaves only the packed meta");
        let again = store
            .acquire(&sid, &owner, Duration::from_secs(5), Duration::from_secs(1))
            .await
            .unwrap();
        assert!(matches!(again, AcquireReply::Granted(_)), "{again:?}");
        assert!(store.delete(&sid).await.unwrap());
        store.quit().await;
    });
}

#[test]
fn a_packed_meta_that_does_not_unpack_is_refused() {
    if !reachable(single_url()) {
        return;
    }
    runtime().block_on(async {
        let store = connect(single_url()).await;
        let sid = SessionId::generate().unwrap();
        store
            .create(&sid, vec![], Expiry::idle(Duration::from_secs(60)), None)
            .await
            .unwrap();
        let key = meta_key(&sid);
        for bad in [&b"short"[..], &[0xff; 200][..]] {
            let _: i64 = store
                .client()
                .hset(&key, ("b", Bytes::copy_from_slice(bad)))
                .await
                .unwrap();
            let owner = OwnerId::generate("t").unwrap();
            let reply = store
                .acquire(&sid, &owner, Duration::from_secs(5), Duration::from_secs(1))
                .await;
            assert!(
                matches!(
                    reply,
                    Err(StoreError::Protocol(_)) | Err(StoreError::Backend(_))
                ),
                "{reply:?}"
            );
            let stored: Bytes = store.client().hget(&key, "b").await.unwrap();
            assert_eq!(&stored[..], bad, "nothing written");
        }
        let _: Result<i64, _> =
            tenure_redis::fred::interfaces::KeysInterface::del(store.client(), vec![key]).await;
        store.quit().await;
    });
}
