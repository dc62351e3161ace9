//! The principal index on one Redis server (issue 15): entries of expired sessions
//! are pruned in a bounded number of `sessions_of` calls (each removes at most
//! `PRUNE_PER_CALL`), the index keeps no TTL while it names a session without
//! timeouts, and a principal whose sessions all expired leaves no key behind.

mod support;

use std::time::Duration;

use futures::future::join_all;
use support::*;
use tenure_core::{Bytes, SessionId, PRINCIPAL_ATTR};
use tenure_redis::fred::interfaces::{ClientLike, KeysInterface, SortedSetsInterface};
use tenure_redis::RedisStore;
use tenure_store::{Expiry, Store, PRUNE_PER_CALL};
use tenure_test::Poll;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn unique_principal(tag: &str) -> String {
    format!("{tag}-{}", SessionId::generate().unwrap().as_str())
}

/// The index key, as the store names it: the principal's bytes in hex.
fn index_key(principal: &str) -> String {
    let hex: String = principal.bytes().map(|b| format!("{b:02x}")).collect();
    format!("tenure-test:p:{{{hex}}}")
}

async fn create_many(store: &RedisStore, principal: &str, n: usize, expiry: Expiry) {
    let attrs = vec![(
        PRINCIPAL_ATTR.to_string(),
        Bytes::from(principal.to_string()),
    )];
    for chunk in 0..n.div_ceil(500) {
        let count = 500.min(n - chunk * 500);
        let calls = (0..count).map(|_| {
            let sid = SessionId::generate().unwrap();
            let attrs = attrs.clone();
            async move { store.create(&sid, attrs, expiry, None).await.unwrap() }
        });
        join_all(calls).await;
    }
}

/// Whether every finite score in the index has passed by the server's clock.
async fn all_finite_scores_passed(store: &RedisStore, key: &str) -> bool {
    let (secs, micros): (i64, i64) = store
        .client()
        .custom(
            tenure_redis::fred::cmd!("TIME"),
            Vec::<tenure_redis::fred::types::Value>::new(),
        )
        .await
        .unwrap();
    let now_ms = secs * 1000 + micros / 1000;
    let pending: Vec<String> = store
        .client()
        .zrangebyscore(key, now_ms as f64, "(inf", false, None)
        .await
        .unwrap();
    pending.is_empty()
}

#[test]
fn ten_thousand_expired_sessions_are_pruned_in_bounded_calls() {
    if !reachable(single_url()) {
        return;
    }
    runtime().block_on(async {
        let store = connect(single_url()).await;
        let p = unique_principal("bulk");
        let key = index_key(&p);
        const N: usize = 10_000;
        let short = Expiry {
            idle: Some(Duration::from_millis(500)),
            absolute: None,
        };
        create_many(&store, &p, N, short).await;
        // One session without timeouts: the index then has no TTL of its own, so only
        // pruning can remove the expired entries.
        let keep = SessionId::generate().unwrap();
        let attrs = vec![(PRINCIPAL_ATTR.to_string(), Bytes::from(p.clone()))];
        store
            .create(&keep, attrs, Expiry::default(), None)
            .await
            .unwrap();
        let card: u64 = store.client().zcard(&key).await.unwrap();
        assert_eq!(card, N as u64 + 1, "every session is in the index");
        let ttl: i64 = store.client().pttl(&key).await.unwrap();
        assert_eq!(ttl, -1, "an index naming a session without timeouts keeps no TTL");

        // Wait until every expired session's keys have passed their deadline (the
        // score: expiry plus Redis' slack), by the server's clock.
        let poll = Poll::new(Duration::from_secs(20), "the expired entries' scores to pass");
        while !all_finite_scores_passed(&store, &key).await {
            poll.tick().await;
        }

        let mut calls = 0;
        let mut sizes = Vec::new();
        loop {
            let listed = store.sessions_of(&p, None).await.unwrap();
            calls += 1;
            let ids: Vec<&SessionId> = listed.iter().map(|s| &s.id).collect();
            assert_eq!(ids, vec![&keep], "only the live session is listed, call {calls}");
            let card: u64 = store.client().zcard(&key).await.unwrap();
            sizes.push(card);
            if card == 1 {
                break;
            }
            assert!(calls <= N, "pruning makes no progress: {sizes:?}");
        }
        eprintln!(
            "measured: {N} expired entries pruned in {calls} sessions_of calls; index sizes after each: {sizes:?}"
        );
        let bound = N.div_ceil(PRUNE_PER_CALL);
        assert_eq!(calls, bound, "each call prunes PRUNE_PER_CALL entries: {sizes:?}");
        for pair in std::iter::once(N as u64 + 1).chain(sizes.iter().copied()).collect::<Vec<_>>().windows(2) {
            assert!(pair[0] - pair[1] <= PRUNE_PER_CALL as u64, "one call pruned more than its bound: {sizes:?}");
        }

        assert!(store.delete(&keep).await.unwrap());
        let exists: u64 = store.client().exists(&key).await.unwrap();
        assert_eq!(exists, 0, "deleting the last session empties (and so removes) the index");
        store.quit().await;
    });
}

#[test]
fn an_index_of_expired_sessions_goes_by_its_own_ttl() {
    if !reachable(single_url()) {
        return;
    }
    runtime().block_on(async {
        let store = connect(single_url()).await;
        let p = unique_principal("ttl");
        let key = index_key(&p);
        let short = Expiry {
            idle: Some(Duration::from_millis(300)),
            absolute: None,
        };
        create_many(&store, &p, 3, short).await;
        let ttl: i64 = store.client().pttl(&key).await.unwrap();
        assert!(
            ttl > 0,
            "an index of sessions with timeouts has a TTL, got {ttl}"
        );
        // Nothing calls sessions_of: the key must go on its own once its sessions'
        // keys have (their TTL is the index's highest score).
        let poll = Poll::new(Duration::from_secs(20), "the index key to expire");
        loop {
            let exists: u64 = store.client().exists(&key).await.unwrap();
            if exists == 0 {
                break;
            }
            poll.tick().await;
        }
        store.quit().await;
    });
}
