//! Bugs a review found in the Redis store, each pinned by the reproduction it used:
//!
//! 1. Near its deadline a session was read as live, then the script's own
//!    `PEXPIREAT` deleted its keys on the spot (`TIME` inside a script lags the clock
//!    `PEXPIREAT` compares with), so `load` answered an empty session and `acquire`
//!    granted one that was gone. Scripts now treat a session as gone from its deadline
//!    on (as `MemoryStore` does) and set TTLs relative to their own clock.
//! 2. A `fence_linger` below 1 ms made `SET ... PX 0` fail inside `delete` and midway
//!    through `rotate_id`.
//! 3. A creation time ahead of the server clock (a clock step back, a failover to a
//!    replica behind) gave a negative age, a protocol error after the lock was granted.

mod support;

use std::time::Duration;

use support::*;
use tenure_core::{Bytes, OwnerId, SessionId};
use tenure_redis::fred::interfaces::LuaInterface;
use tenure_redis::{RedisConfig, RedisStore};
use tenure_store::{AcquireReply, Expiry, RotateReply, Store};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn one_attr() -> Vec<(String, Bytes)> {
    vec![("a".to_string(), Bytes::from_static(b"1"))]
}

#[test]
fn a_session_at_its_deadline_is_gone_not_empty() {
    if !reachable(single_url()) {
        return;
    }
    runtime().block_on(async {
        let store = connect(single_url()).await;
        let owner = OwnerId::generate("t").unwrap();
        let expiry = Expiry {
            idle: None,
            absolute: Some(Duration::from_millis(20)),
        };
        for round in 0..20 {
            let sid = SessionId::generate().unwrap();
            store.create(&sid, one_attr(), expiry, None).await.unwrap();
            loop {
                let loaded = store.load(&sid).await.unwrap();
                match loaded {
                    None => break,
                    Some(snap) => assert_eq!(
                        snap.attrs.len(),
                        1,
                        "round {round}: load answered a session without its data: {snap:?}"
                    ),
                }
                let acquired = store
                    .acquire(&sid, &owner, Duration::from_secs(5), Duration::from_secs(1))
                    .await
                    .unwrap();
                match acquired {
                    AcquireReply::NotFound => break,
                    AcquireReply::Granted(grant) => assert_eq!(
                        grant.snapshot.attrs.len(),
                        1,
                        "round {round}: granted a session without its data: {grant:?}"
                    ),
                    other => panic!("round {round}: {other:?}"),
                }
            }
        }
        store.quit().await;
    });
}

#[test]
fn a_zero_fence_linger_still_deletes_and_rotates() {
    let Some(url) = single_url().filter(|_| reachable(single_url())) else {
        return;
    };
    runtime().block_on(async {
        let config = RedisConfig::new(url)
            .prefix("tenure-test")
            .fence_linger(Duration::ZERO);
        let store = RedisStore::connect(config).await.unwrap();
        let expiry = Expiry {
            idle: Some(Duration::from_secs(60)),
            absolute: None,
        };
        let (a, b) = (
            SessionId::generate().unwrap(),
            SessionId::generate().unwrap(),
        );
        store.create(&a, one_attr(), expiry, None).await.unwrap();
        assert!(matches!(
            store.rotate_id(&a, &b, None).await.unwrap(),
            RotateReply::Rotated { fence: None }
        ));
        assert!(store.delete(&b).await.unwrap());
        assert!(store.load(&b).await.unwrap().is_none());
        store.quit().await;
    });
}

#[test]
fn a_creation_time_ahead_of_the_clock_is_age_zero() {
    if !reachable(single_url()) {
        return;
    }
    runtime().block_on(async {
        let store = connect(single_url()).await;
        let sid = SessionId::generate().unwrap();
        let expiry = Expiry {
            idle: Some(Duration::from_secs(60)),
            absolute: None,
        };
        store.create(&sid, one_attr(), expiry, None).await.unwrap();
        let meta = format!("tenure-test:{{{}}}:m", sid.as_str());
        // The creation time is the second number of the packed meta.
        let ahead = "local f = '<dddddddddddddI4c0I4c0' \
            local t = { struct.unpack(f, redis.call('HGET', KEYS[1], 'b')) } \
            t[2] = t[2] + 60000 \
            redis.call('HSET', KEYS[1], 'b', struct.pack(f, t[1], t[2], t[3], t[4], t[5], \
              t[6], t[7], t[8], t[9], t[10], t[11], t[12], t[13], #t[14], t[14], #t[15], \
              t[15])) return 1";
        let _: i64 = store
            .client()
            .eval(ahead, vec![meta], Vec::<String>::new())
            .await
            .unwrap();
        let owner = OwnerId::generate("t").unwrap();
        match store
            .acquire(&sid, &owner, Duration::from_secs(5), Duration::from_secs(1))
            .await
            .unwrap()
        {
            AcquireReply::Granted(grant) => assert_eq!(grant.age, Duration::ZERO),
            other => panic!("{other:?}"),
        }
        store.delete(&sid).await.unwrap();
        store.quit().await;
    });
}
