//! The principal index on a Redis Cluster (issue 15; `src/directory.rs`): sharded by
//! slot, with a per-principal directory of slots written before the session's script.
//! These tests hold its bounds and its crash windows: 10,000 expired sessions leave
//! nothing after one listing; a commit that registered and then never applied (the
//! crash between the directory and the script) lists nothing and is trimmed once the
//! guard passed; sessions that outlive a slot's horizon ask the slot pass, which moves
//! it on (also after its record was lost); and logins racing listings are never lost.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use futures::future::join_all;
use support::*;
use tenure_core::{Bytes, Delta, OwnerId, SessionId, PRINCIPAL_ATTR};
use tenure_redis::fred::interfaces::{
    HashesInterface, KeysInterface, SetsInterface, SortedSetsInterface,
};
use tenure_redis::{RedisConfig, RedisStore};
use tenure_store::{CommitId, CommitReply, Expiry, Fence, Store};
use tenure_test::Poll;

/// A store under a prefix of its own, so the test can count every key it made.
async fn store(config: impl FnOnce(RedisConfig) -> RedisConfig) -> (RedisStore, String) {
    let prefix = format!("tci-{}", &SessionId::generate().unwrap().as_str()[..12]);
    let url = cluster_url().expect("checked by `reachable`");
    let store = RedisStore::connect(config(RedisConfig::new(url).prefix(prefix.clone())))
        .await
        .expect("connect to the cluster");
    (store, prefix)
}

fn hex(p: &str) -> String {
    p.bytes().map(|b| format!("{b:02x}")).collect()
}

fn directory_key(prefix: &str, p: &str) -> String {
    format!("{prefix}:d:{{{}}}", hex(p))
}

/// The principal's shards: keys `P:p:{tag}:<hex>`.
async fn shards(store: &RedisStore, prefix: &str, p: &str) -> Vec<String> {
    keys_matching(store, &format!("{prefix}:p:*"))
        .await
        .into_iter()
        .filter(|k| k.ends_with(&format!("}}:{}", hex(p))))
        .collect()
}

async fn directory_fields(store: &RedisStore, prefix: &str, p: &str) -> Vec<(String, String)> {
    let fields: std::collections::HashMap<String, String> = store
        .client()
        .hgetall(directory_key(prefix, p))
        .await
        .unwrap();
    let mut fields: Vec<_> = fields.into_iter().collect();
    fields.sort();
    fields
}

/// The principals asking the slot pass, over every slot key.
async fn asks(store: &RedisStore, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for key in keys_matching(store, &format!("{prefix}:x:*")).await {
        let members: Vec<String> = store.client().smembers(&key).await.unwrap();
        out.extend(members);
    }
    out
}

fn principal_attrs(p: &str) -> Vec<(String, Bytes)> {
    vec![(PRINCIPAL_ATTR.to_string(), Bytes::from(p.to_string()))]
}

async fn listed_ids(store: &RedisStore, p: &str) -> BTreeSet<SessionId> {
    store
        .sessions_of(p, None)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect()
}

#[test]
fn ten_thousand_expired_sessions_leave_nothing_after_one_listing() {
    if !reachable(cluster_url()) {
        return;
    }
    multi_thread_runtime().block_on(async {
        let (store, prefix) = store(|c| c.directory_guard(Duration::from_millis(200))).await;
        let p = "bulk-user";
        const N: usize = 10_000;
        let idle = Duration::from_millis(500);
        let short = Expiry {
            idle: Some(idle),
            absolute: None,
        };
        for chunk in 0..N / 500 {
            let calls = (0..500).map(|_| {
                let store = &store;
                async move {
                    let sid = SessionId::generate().unwrap();
                    store.create(&sid, principal_attrs(p), short, None).await.unwrap();
                    sid
                }
            });
            assert_eq!(join_all(calls).await.len(), 500, "chunk {chunk}");
        }
        let created_by = server_ms(&store).await;
        let keep = SessionId::generate().unwrap();
        store
            .create(&keep, principal_attrs(p), Expiry::default(), None)
            .await
            .unwrap();
        let slots = directory_fields(&store, &prefix, p).await.len();
        let shard_keys = shards(&store, &prefix, p).await.len();
        assert!(slots > 5_000, "the sessions spread over many slots: {slots}");
        assert_eq!(slots, shard_keys, "one shard per slot in the directory");

        // Every short session is past its keys' deadline (idle plus Redis' 1 s slack)
        // by the server's clock, and past the directory guard.
        let poll = Poll::new(Duration::from_secs(30), "the sessions' keys to expire");
        while server_ms(&store).await < created_by + idle.as_millis() as i64 + 1_200 {
            poll.tick().await;
        }

        let listed = listed_ids(&store, p).await;
        assert_eq!(listed, BTreeSet::from([keep.clone()]), "only the live session");
        let fields = directory_fields(&store, &prefix, p).await;
        let shard_keys = shards(&store, &prefix, p).await;
        eprintln!(
            "measured: {N} expired sessions in {slots} slots; one sessions_of call left {} directory fields and {} shard keys",
            fields.len(),
            shard_keys.len(),
        );
        assert_eq!(fields.len(), 1, "only the live session's slot stays: {fields:?}");
        assert_eq!(shard_keys.len(), 1, "only the live session's shard stays");
        let entries: Vec<String> = store
            .client()
            .zrange(&shard_keys[0], 0, -1, None, false, None, false)
            .await
            .unwrap();
        assert_eq!(entries, vec![String::new(), keep.as_str().to_string()]);

        assert!(store.delete(&keep).await.unwrap());
        assert!(listed_ids(&store, p).await.is_empty());
        remove_all(&store, &prefix).await;
        store.quit().await;
    });
}

/// The crash window between the directory and the session's script: the store
/// registered the slot, and the commit then did not apply (here: a stale fence).
#[test]
fn a_registration_whose_commit_never_applied_lists_nothing_and_is_trimmed() {
    if !reachable(cluster_url()) {
        return;
    }
    multi_thread_runtime().block_on(async {
        let guard = Duration::from_millis(300);
        let (store, prefix) = store(|c| c.directory_guard(guard)).await;
        let p = "crash-user";
        let sid = SessionId::generate().unwrap();
        store
            .create(&sid, Vec::new(), Expiry::default(), None)
            .await
            .unwrap();
        let owner = OwnerId::generate("w").unwrap();
        let mut delta = Delta::default();
        delta.set(PRINCIPAL_ATTR, Bytes::from(p));
        let reply = store
            .commit(&sid, &owner, Fence(1), CommitId(1), delta, false)
            .await
            .unwrap();
        assert!(matches!(reply, CommitReply::Stale { .. }), "{reply:?}");
        assert_eq!(
            directory_fields(&store, &prefix, p).await.len(),
            1,
            "registered"
        );
        assert_eq!(
            shards(&store, &prefix, p).await.len(),
            1,
            "its horizon recorded"
        );

        // Within the guard the slot stays (a login could be under way), and nothing
        // is listed.
        let since = server_ms(&store).await;
        assert!(listed_ids(&store, p).await.is_empty());
        if server_ms(&store).await - since < guard.as_millis() as i64 / 2 {
            assert_eq!(
                directory_fields(&store, &prefix, p).await.len(),
                1,
                "kept within the guard"
            );
        }
        let poll = Poll::new(Duration::from_secs(10), "the guard to pass");
        while server_ms(&store).await < since + guard.as_millis() as i64 + 50 {
            poll.tick().await;
        }
        assert!(listed_ids(&store, p).await.is_empty());
        assert!(
            directory_fields(&store, &prefix, p).await.is_empty(),
            "trimmed"
        );
        assert!(
            shards(&store, &prefix, p).await.is_empty(),
            "the empty shard went"
        );
        let dir_exists: i64 = store
            .client()
            .exists(directory_key(&prefix, p))
            .await
            .unwrap();
        assert_eq!(dir_exists, 0);
        remove_all(&store, &prefix).await;
        store.quit().await;
    });
}

/// A live session the listing cannot read (its meta gone, as while a slot migration
/// has moved its keys and not its shard's) is left out, but keeps its entry and its
/// slot: the shard is not trimmed as empty.
#[test]
fn an_unreadable_entry_keeps_its_slot() {
    if !reachable(cluster_url()) {
        return;
    }
    multi_thread_runtime().block_on(async {
        let guard = Duration::from_millis(100);
        let (store, prefix) = store(|c| c.directory_guard(guard)).await;
        let p = "moved-user";
        let sid = SessionId::generate().unwrap();
        store
            .create(&sid, principal_attrs(p), Expiry::default(), None)
            .await
            .unwrap();
        let since = server_ms(&store).await;
        let poll = Poll::new(Duration::from_secs(10), "the guard to pass");
        while server_ms(&store).await < since + guard.as_millis() as i64 + 50 {
            poll.tick().await;
        }
        let meta = format!("{prefix}:{{{}}}:m", sid.as_str());
        let _: i64 = store.client().del(&meta).await.unwrap();
        assert!(listed_ids(&store, p).await.is_empty(), "left out");
        assert_eq!(
            directory_fields(&store, &prefix, p).await.len(),
            1,
            "slot kept"
        );
        let shard = shards(&store, &prefix, p).await;
        assert_eq!(shard.len(), 1);
        let entry: Option<f64> = store
            .client()
            .zscore(&shard[0], sid.as_str())
            .await
            .unwrap();
        assert!(entry.is_some(), "entry kept");
        remove_all(&store, &prefix).await;
        store.quit().await;
    });
}

/// Sessions that live past a slot's horizon ask the slot pass, which moves the
/// directory's horizon on and then the shard's; a shard whose record was lost (the
/// crash between the two) asks again at the next TTL move.
#[test]
fn long_lived_sessions_move_their_horizons_through_the_slot_pass() {
    if !reachable(cluster_url()) {
        return;
    }
    multi_thread_runtime().block_on(async {
        let (store, prefix) = store(|c| c.slot_pass(16_384)).await;
        let p = "long-user";
        let long = Expiry {
            idle: Some(Duration::from_secs(3 * 3600)),
            absolute: None,
        };
        let sid = SessionId::generate().unwrap();
        store
            .create(&sid, principal_attrs(p), long, None)
            .await
            .unwrap();
        let short = SessionId::generate().unwrap();
        let brief = Expiry {
            idle: Some(Duration::from_secs(600)),
            absolute: None,
        };
        store
            .create(&short, principal_attrs("brief-user"), brief, None)
            .await
            .unwrap();
        assert_eq!(
            asks(&store, &prefix).await,
            BTreeSet::from([p.to_string()]),
            "the 3 h session is past its 2 h horizon; the 10 min one is not"
        );

        store.maintain().await.unwrap();
        assert!(
            asks(&store, &prefix).await.is_empty(),
            "the pass answered the ask"
        );
        let shard = shards(&store, &prefix, p).await;
        assert_eq!(shard.len(), 1);
        let recorded: f64 = store.client().zscore(&shard[0], "").await.unwrap();
        let entry: f64 = store
            .client()
            .zscore(&shard[0], sid.as_str())
            .await
            .unwrap();
        assert!(
            recorded >= entry + 3_600_000.0,
            "shard horizon {recorded} past entry {entry} by the margin"
        );
        let fields = directory_fields(&store, &prefix, p).await;
        let horizon: f64 = fields[0].1.split(' ').next().unwrap().parse().unwrap();
        assert!(
            horizon >= recorded,
            "the directory's horizon is never the earlier"
        );
        let dir_ttl: i64 = store
            .client()
            .pttl(directory_key(&prefix, p))
            .await
            .unwrap();
        assert!(dir_ttl as f64 >= horizon - server_ms(&store).await as f64 - 1_000.0);

        // The record lost: the next move of the session's TTL (here a commit with new
        // timeouts) asks again.
        let _: i64 = store.client().zrem(&shard[0], "").await.unwrap();
        let longer = Delta {
            expiry: Some(Expiry {
                idle: Some(Duration::from_secs(4 * 3600)),
                absolute: None,
            }),
            ..Delta::default()
        };
        let reply = store.commit_optimistic(&sid, longer).await.unwrap();
        assert!(
            matches!(reply, tenure_store::OptimisticReply::Committed { .. }),
            "{reply:?}"
        );
        assert_eq!(asks(&store, &prefix).await, BTreeSet::from([p.to_string()]));
        store.maintain().await.unwrap();
        assert!(asks(&store, &prefix).await.is_empty());
        assert_eq!(listed_ids(&store, p).await, BTreeSet::from([sid.clone()]));

        // A session without timeouts takes the horizon to +inf and the directory's
        // TTL away.
        let forever = SessionId::generate().unwrap();
        store
            .create(&forever, principal_attrs(p), Expiry::default(), None)
            .await
            .unwrap();
        store.maintain().await.unwrap();
        assert!(asks(&store, &prefix).await.is_empty());
        let dir_ttl: i64 = store
            .client()
            .pttl(directory_key(&prefix, p))
            .await
            .unwrap();
        assert_eq!(
            dir_ttl, -1,
            "no TTL while a session without timeouts is indexed"
        );
        assert_eq!(
            listed_ids(&store, p).await,
            BTreeSet::from([sid.clone(), forever.clone()])
        );
        remove_all(&store, &prefix).await;
        store.quit().await;
    });
}

/// Logins race listings that trim: every session given the principal is listed at
/// the end, whichever listing saw its slot empty meanwhile.
#[test]
fn logins_racing_listings_are_never_lost() {
    if !reachable(cluster_url()) {
        return;
    }
    multi_thread_runtime().block_on(async {
        let (store, prefix) = store(|c| c.directory_guard(Duration::from_millis(200))).await;
        let p = "racing-user";
        let expiry = Expiry {
            idle: Some(Duration::from_secs(60)),
            absolute: None,
        };
        let stop = std::sync::atomic::AtomicBool::new(false);
        let listings = async {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                store.sessions_of(p, None).await.unwrap();
                n += 1;
            }
            n
        };
        let logins = async {
            let mut made = BTreeSet::new();
            for round in 0..20 {
                let calls = (0..25).map(|_| {
                    let store = &store;
                    async move {
                        let sid = SessionId::generate().unwrap();
                        store.create(&sid, Vec::new(), expiry, None).await.unwrap();
                        let reply = store
                            .commit_optimistic(&sid, {
                                let mut d = Delta::default();
                                d.set(PRINCIPAL_ATTR, Bytes::from(p));
                                d
                            })
                            .await
                            .unwrap();
                        assert!(matches!(
                            reply,
                            tenure_store::OptimisticReply::Committed { .. }
                        ));
                        sid
                    }
                });
                made.extend(join_all(calls).await);
                assert_eq!(made.len(), 25 * (round + 1));
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            made
        };
        let (made, n) = tokio::join!(logins, listings);
        assert!(n > 1, "listings ran alongside: {n}");
        assert_eq!(listed_ids(&store, p).await, made, "every login is listed");
        remove_all(&store, &prefix).await;
        store.quit().await;
    });
}
