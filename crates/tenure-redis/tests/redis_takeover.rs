//! Conditional takeover on Redis (`acquire_since`): the script answers a partial
//! grant that carries only the changed attribute of a large session, on one server
//! and on a cluster, and versions beyond what Lua's numbers hold exactly are treated
//! as "send it" (the conformance suite checks the rest of the contract).

mod support;

use std::time::Duration;

use support::*;
use tenure_core::{Bytes, Delta, OwnerId, SessionId, Snapshot};
use tenure_redis::RedisStore;
use tenure_store::{AcquireReply, CommitId, CommitReply, Expiry, Known, Store};

const LEASE: Duration = Duration::from_secs(10);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn expiry() -> Expiry {
    Expiry {
        idle: Some(Duration::from_secs(60)),
        absolute: None,
    }
}

/// A 100 KB filler and a small note; `a` takes it, changes the note and releases.
/// Answers a's copy from its grant.
async fn session_changed_by_a(store: &RedisStore, sid: &SessionId, a: &OwnerId) -> Snapshot {
    let filler = Bytes::from(vec![7u8; 100 * 1024]);
    let attrs = vec![
        ("filler".to_string(), filler),
        ("note".to_string(), Bytes::from_static(b"first note")),
    ];
    store.create(sid, attrs, expiry(), None).await.unwrap();
    let AcquireReply::Granted(grant) = store.acquire(sid, a, LEASE, LEASE).await.unwrap() else {
        panic!("a free session is granted");
    };
    let mut delta = Delta::default();
    delta.set("note", Bytes::from_static(b"later note"));
    let reply = store
        .commit(sid, a, grant.fence, CommitId(1), delta, true)
        .await
        .unwrap();
    assert!(matches!(reply, CommitReply::Committed { version: 2 }));
    grant.snapshot
}

async fn only_the_change_moves(url: Option<String>) {
    let store = connect(url).await;
    let sid = SessionId::generate().unwrap();
    let (a, b) = (
        OwnerId::generate("a").unwrap(),
        OwnerId::generate("b").unwrap(),
    );
    let copy = session_changed_by_a(&store, &sid, &a).await;
    let reply = store
        .acquire_since(&sid, &b, LEASE, LEASE, &Known::of(&copy))
        .await
        .unwrap();
    let AcquireReply::Partial(partial) = reply else {
        panic!("Redis answers a copy it can complete with a partial grant: {reply:?}");
    };
    assert_eq!(
        partial.grant.snapshot.attrs.keys().collect::<Vec<_>>(),
        ["note"],
        "only the changed note is sent"
    );
    assert!(partial.grant.snapshot.size_bytes() < 20);
    assert!(partial.removed.is_empty());
    let merged = partial.merge(copy).unwrap();
    assert_eq!(Some(merged.snapshot), store.load(&sid).await.unwrap());
    assert!(store.delete(&sid).await.unwrap());
    store.quit().await;
}

#[test]
fn only_the_change_moves_on_one_server() {
    if reachable(single_url()) {
        runtime().block_on(only_the_change_moves(single_url()));
    }
}

#[test]
fn only_the_change_moves_on_a_cluster() {
    if reachable(cluster_url()) {
        runtime().block_on(only_the_change_moves(cluster_url()));
    }
}

#[test]
fn versions_beyond_lua_numbers_are_sent() {
    if !reachable(single_url()) {
        return;
    }
    runtime().block_on(async {
        let store = connect(single_url()).await;
        let sid = SessionId::generate().unwrap();
        let (a, b) = (
            OwnerId::generate("a").unwrap(),
            OwnerId::generate("b").unwrap(),
        );
        let copy = session_changed_by_a(&store, &sid, &a).await;
        let current = store.load(&sid).await.unwrap().unwrap();

        let mut huge_version = Known::of(&current);
        huge_version.version = u64::MAX;
        let reply = store
            .acquire_since(&sid, &b, LEASE, LEASE, &huge_version)
            .await
            .unwrap();
        let AcquireReply::Granted(grant) = reply else {
            panic!("a copy claiming a version past the session's gets everything: {reply:?}");
        };
        assert_eq!(grant.snapshot, current);

        // b holds it now; asking again as the holder with a huge attribute version
        // (and a name the session never had) keeps the fence and sends the filler.
        let mut huge_attr = Known::of(&copy);
        huge_attr.attrs.insert("filler".into(), u64::MAX);
        huge_attr.attrs.insert("never".into(), (1 << 53) + 1);
        let reply = store
            .acquire_since(&sid, &b, LEASE, LEASE, &huge_attr)
            .await
            .unwrap();
        let AcquireReply::Partial(partial) = reply else {
            panic!("expected a partial grant: {reply:?}");
        };
        assert_eq!(partial.grant.fence, grant.fence);
        assert_eq!(partial.removed, ["never"]);
        let sent: Vec<_> = partial.grant.snapshot.attrs.keys().cloned().collect();
        assert_eq!(sent, ["filler", "note"]);
        assert!(store.delete(&sid).await.unwrap());
        store.quit().await;
    });
}
