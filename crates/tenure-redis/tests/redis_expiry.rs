//! A commit's new timeouts (`Delta::expiry`) reach the keys' TTLs, so Redis removes
//! the session on its own soon after the new deadline: every key of the session gets
//! the new TTL (plus a slack of an eighth, at least a second), loses it when the
//! commit removes every timeout, and is deleted at once when the new deadline has
//! already passed. Accesses that skip resetting the TTLs (within the slack) never let
//! a key expire before its session does.

mod support;

use std::time::Duration;

use support::*;
use tenure_core::{Bytes, Delta, OwnerId, SessionId};
use tenure_redis::fred::interfaces::KeysInterface;
use tenure_redis::RedisStore;
use tenure_store::{CommitReply, CreateReply, Expiry, Fence, Store};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The PTTL of each of the session's data keys (-1 none, -2 no key).
async fn ttls(store: &RedisStore, sid: &SessionId) -> Vec<i64> {
    let mut out = Vec::new();
    for suffix in ["m", "a", "v"] {
        let key = format!("tenure-test:{{{}}}:{suffix}", sid.as_str());
        out.push(store.client().pttl(&key).await.unwrap());
    }
    out
}

async fn commit_expiry(
    store: &RedisStore,
    sid: &SessionId,
    owner: &OwnerId,
    fence: Fence,
    e: Expiry,
) {
    let mut delta = Delta::default();
    delta.set("a", Bytes::from_static(b"2"));
    delta.expiry = Some(e);
    static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let reply = store
        .commit(sid, owner, fence, tenure_store::CommitId(id), delta, false)
        .await
        .unwrap();
    assert!(
        matches!(reply, CommitReply::Committed { version: 2.. }),
        "{reply:?}"
    );
}

#[test]
fn a_commit_sets_the_ttls_of_its_new_timeouts() {
    if !reachable(single_url()) {
        return;
    }
    runtime().block_on(async {
        let store = connect(single_url()).await;
        let sid = SessionId::generate().unwrap();
        let owner = OwnerId::generate("t").unwrap();
        let attrs = vec![("a".to_string(), Bytes::from_static(b"1"))];
        let created = store
            .create(
                &sid,
                attrs,
                Expiry::idle(Duration::from_secs(60)),
                Some((&owner, Duration::from_secs(30))),
            )
            .await
            .unwrap();
        let CreateReply::Created { fence: Some(fence) } = created else {
            panic!("{created:?}")
        };
        commit_expiry(
            &store,
            &sid,
            &owner,
            fence,
            Expiry::idle(Duration::from_secs(3600)),
        )
        .await;
        for ttl in ttls(&store, &sid).await {
            assert!(
                ttl > 3_500_000 && ttl <= 3_600_000 * 9 / 8,
                "the longer idle timeout and its slack are the TTL: {ttl}"
            );
        }
        commit_expiry(&store, &sid, &owner, fence, Expiry::default()).await;
        assert_eq!(
            ttls(&store, &sid).await,
            vec![-1; 3],
            "no timeouts: no TTLs"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
        commit_expiry(
            &store,
            &sid,
            &owner,
            fence,
            Expiry::absolute(Duration::from_millis(1)),
        )
        .await;
        assert_eq!(
            ttls(&store, &sid).await,
            vec![-2; 3],
            "past its new deadline: deleted"
        );
        store.quit().await;
    });
}

/// A session used every 300 ms with a 4 s idle timeout: its keys' TTLs are reset only
/// once the slack (1 s) ran out, yet after every access each key outlives the
/// session's new deadline, and by no more than the slack.
#[test]
fn skipped_ttl_resets_never_let_a_key_expire_before_its_session() {
    if !reachable(single_url()) {
        return;
    }
    runtime().block_on(async {
        let store = connect(single_url()).await;
        let sid = SessionId::generate().unwrap();
        let owner = OwnerId::generate("t").unwrap();
        let attrs = vec![("a".to_string(), Bytes::from_static(b"1"))];
        let idle = Duration::from_secs(4);
        let created = store
            .create(
                &sid,
                attrs,
                Expiry::idle(idle),
                Some((&owner, Duration::from_secs(30))),
            )
            .await
            .unwrap();
        let CreateReply::Created { fence: Some(fence) } = created else {
            panic!("{created:?}")
        };
        let mut ttl_seen = Vec::new();
        for round in 1..=8u64 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let mut delta = Delta::default();
            delta.set("a", Bytes::from(round.to_string()));
            let reply = store
                .commit(
                    &sid,
                    &owner,
                    fence,
                    tenure_store::CommitId(round),
                    delta,
                    false,
                )
                .await
                .unwrap();
            assert!(matches!(reply, CommitReply::Committed { .. }), "{reply:?}");
            for ttl in ttls(&store, &sid).await {
                // The session now lives 4 s from this commit; a key may be freed up to
                // the slack (1 s) after that. 100 ms for this test's own round trips.
                assert!(
                    (4_000 - 100..=5_000).contains(&ttl),
                    "round {round}: a key's TTL of {ttl} ms against a 4 s session"
                );
                ttl_seen.push(ttl);
            }
        }
        let (min, max) = (ttl_seen.iter().min(), ttl_seen.iter().max());
        assert!(
            max.zip(min).is_some_and(|(max, min)| max - min > 300),
            "the TTLs were not reset on every access: {ttl_seen:?}"
        );
        store.quit().await;
    });
}
