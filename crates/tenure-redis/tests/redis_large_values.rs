//! The layout of large values on a real server: a value of 8 KB or more is kept
//! apart, in chunks (the hash `:b:<name>`, indexed in `:o`), with the session's TTL; a
//! value written whole is one chunk; a patch rewrites only the chunks it touches, the
//! first one cutting what it touches into chunks of about 4 KB; a value that shrinks
//! goes back into the values hash; removal, deletion, expiry and lost timeouts treat its key as the
//! session's other keys. (What a session holds is checked on every store by the
//! conformance cases `large_value_*`; these check the keys themselves.)

mod support;

use std::time::{Duration, Instant};

use support::*;
use tenure_core::patch::{Patch, Splice};
use tenure_core::{Bytes, Change, Delta, Expect, OwnerId, SessionId};
use tenure_redis::fred::interfaces::{HashesInterface, KeysInterface};
use tenure_redis::RedisStore;
use tenure_store::{CommitId, CommitReply, CreateReply, Expiry, Fence, Store};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn key(sid: &SessionId, suffix: &str) -> String {
    format!("tenure-test:{{{}}}:{suffix}", sid.as_str())
}

fn large(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i % 251) as u8).wrapping_add(seed))
        .collect()
}

struct Held<'a> {
    store: &'a RedisStore,
    sid: SessionId,
    owner: OwnerId,
    fence: Fence,
    next: u64,
}

impl Held<'_> {
    async fn commit(&mut self, delta: Delta) -> u64 {
        self.next += 1;
        let reply = self
            .store
            .commit(
                &self.sid,
                &self.owner,
                self.fence,
                CommitId(self.next),
                delta,
                false,
            )
            .await
            .unwrap();
        match reply {
            CommitReply::Committed { version } => version,
            other => panic!("the commit must apply, got {other:?}"),
        }
    }

    async fn set(&mut self, value: &[u8]) -> u64 {
        let mut delta = Delta::default();
        delta.set("cart", Bytes::copy_from_slice(value));
        self.commit(delta).await
    }

    async fn pttl(&self, suffix: &str) -> i64 {
        self.store
            .client()
            .pttl(key(&self.sid, suffix))
            .await
            .unwrap()
    }

    async fn exists(&self, suffix: &str) -> bool {
        let n: i64 = self
            .store
            .client()
            .exists(key(&self.sid, suffix))
            .await
            .unwrap();
        n == 1
    }

    /// The chunks of the value kept apart, by id.
    async fn chunks(&self) -> std::collections::BTreeMap<u64, Vec<u8>> {
        let all: std::collections::HashMap<String, Bytes> = self
            .store
            .client()
            .hgetall(key(&self.sid, "b:cart"))
            .await
            .unwrap();
        all.into_iter()
            .filter_map(|(id, chunk)| Some((id.parse().ok()?, chunk.to_vec())))
            .collect()
    }

    /// The fields of the value's patch log.
    async fn log(&self) -> Vec<String> {
        let all: std::collections::HashMap<String, Bytes> = self
            .store
            .client()
            .hgetall(key(&self.sid, "b:cart"))
            .await
            .unwrap();
        let mut log: Vec<String> = all.into_keys().filter(|f| f.starts_with('l')).collect();
        log.sort();
        log
    }

    async fn loaded(&self) -> Vec<u8> {
        let snap = self.store.load(&self.sid).await.unwrap().unwrap();
        snap.attrs["cart"].value.to_vec()
    }

    async fn field(&self) -> Option<Vec<u8>> {
        let v: Option<Bytes> = self
            .store
            .client()
            .hget(key(&self.sid, "a"), "cart")
            .await
            .unwrap();
        v.map(|b| b.to_vec())
    }
}

async fn held(store: &RedisStore, idle: Duration) -> Held<'_> {
    let sid = SessionId::generate().unwrap();
    let owner = OwnerId::generate("t").unwrap();
    let reply = store
        .create(
            &sid,
            vec![],
            Expiry::idle(idle),
            Some((&owner, Duration::from_secs(30))),
        )
        .await
        .unwrap();
    let CreateReply::Created { fence: Some(fence) } = reply else {
        panic!("{reply:?}")
    };
    Held {
        store,
        sid,
        owner,
        fence,
        next: 0,
    }
}

fn within_idle_ttl(ttl: i64) -> bool {
    ttl > 55_000 && ttl <= 60_000 * 9 / 8
}

#[test]
fn a_large_value_lives_in_a_key_of_its_own_and_comes_back_when_small() {
    if !reachable(single_url()) {
        return;
    }
    runtime().block_on(async {
        let store = connect(single_url()).await;
        let mut s = held(&store, Duration::from_secs(60)).await;
        let value = large(50_000, 0);
        let version = s.set(&value).await;
        let chunks = s.chunks().await;
        assert_eq!(
            chunks.values().collect::<Vec<_>>(),
            vec![&value],
            "written whole: one chunk"
        );
        assert_eq!(
            s.field().await,
            Some(vec![]),
            "the values hash holds '' for it"
        );
        for suffix in ["b:cart", "o", "m", "a", "v"] {
            let ttl = s.pttl(suffix).await;
            assert!(
                within_idle_ttl(ttl),
                "{suffix}: the session's TTL, got {ttl}"
            );
        }

        // A patch cuts what it touches into chunks of about 4 KB (all of the one chunk,
        // here); the next one rewrites only the chunk it touches; the key keeps its TTL.
        let splice = Splice {
            offset: 20_000,
            removed: 3,
            inserted: &[1, 2, 3],
        };
        let patch = Patch::encode(version, value.len(), value.len(), &[splice]);
        let mut patched = value.clone();
        patched[20_000..20_003].copy_from_slice(&[1, 2, 3]);
        let mut delta = Delta::default();
        let change = Change::Patch {
            patch,
            value: Bytes::new(),
        };
        delta.push("cart", change, Expect::Any);
        s.commit(delta).await;
        assert_eq!(s.loaded().await, patched, "patched");
        let chunks = s.chunks().await;
        assert_eq!(chunks.len(), 13, "cut into chunks of about 4 KB");
        assert_eq!(chunks.values().flatten().count(), value.len());
        assert!(
            chunks.values().all(|c| c.len() <= 4096),
            "no chunk above 4 KB"
        );
        assert_eq!(
            chunks.values().flatten().copied().collect::<Vec<u8>>(),
            patched,
            "in order of id"
        );
        let splice = Splice {
            offset: 40_000,
            removed: 0,
            inserted: &[9; 10],
        };
        let version = s.store.load(&s.sid).await.unwrap().unwrap().attrs["cart"].version;
        let patch = Patch::encode(version, patched.len(), patched.len() + 10, &[splice]);
        let mut delta = Delta::default();
        delta.push(
            "cart",
            Change::Patch {
                patch,
                value: Bytes::new(),
            },
            Expect::Any,
        );
        s.commit(delta).await;
        let after = s.chunks().await;
        let changed: Vec<_> = after.keys().filter(|id| !chunks.contains_key(id)).collect();
        assert_eq!(changed.len(), 1, "one chunk rewritten: {changed:?}");
        assert_eq!(after.len(), 13);
        patched.splice(40_000..40_000, [9; 10]);
        assert_eq!(s.loaded().await, patched, "patched again");
        assert!(within_idle_ttl(s.pttl("b:cart").await), "the TTL stays");
        assert_eq!(s.log().await, ["l1", "l2"], "both patches are in the log");

        // Written whole: one chunk again, and no log.
        s.set(&value).await;
        assert_eq!(s.chunks().await.len(), 1);
        assert!(s.log().await.is_empty(), "a whole write clears the log");

        // Small again: back in the values hash, its own key gone.
        s.set(b"small").await;
        assert_eq!(s.field().await, Some(b"small".to_vec()));
        assert!(
            !s.exists("b:cart").await,
            "a small value has no key of its own"
        );
        assert!(!s.exists("o").await, "no value is kept apart");

        // Timeouts removed: no TTL on any key, the value's included.
        s.set(&value).await;
        s.commit(Delta {
            expiry: Some(Expiry::default()),
            ..Delta::default()
        })
        .await;
        for suffix in ["b:cart", "o", "m", "a", "v"] {
            assert_eq!(s.pttl(suffix).await, -1, "{suffix}: no timeouts, no TTL");
        }

        // Removal, then deletion: nothing of the value stays.
        let mut delta = Delta::default();
        delta.remove("cart");
        s.commit(delta).await;
        assert!(!s.exists("b:cart").await, "a removed value's key goes");
        s.set(&value).await;
        assert!(store.delete(&s.sid).await.unwrap());
        for suffix in ["b:cart", "o", "m", "a", "v"] {
            assert!(!s.exists(suffix).await, "{suffix}: deleted");
        }
        store.quit().await;
    });
}

#[test]
fn a_large_value_expires_with_its_session() {
    if !reachable(single_url()) {
        return;
    }
    runtime().block_on(async {
        let store = connect(single_url()).await;
        let mut s = held(&store, Duration::from_millis(200)).await;
        s.set(&large(20_000, 1)).await;
        assert!(s.exists("b:cart").await);
        // The keys' TTL is the idle timeout and a slack of at least a second.
        let deadline = Instant::now() + Duration::from_secs(15);
        while s.exists("b:cart").await || s.exists("o").await {
            assert!(Instant::now() < deadline, "the value's keys must expire");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        store.quit().await;
    });
}
