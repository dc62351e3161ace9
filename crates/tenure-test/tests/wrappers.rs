//! `CountingStore` and `FaultyStore` do what their docs say.

use std::time::Duration;

use tenure_core::{Bytes, Delta, OwnerId, SessionId};
use tenure_store::{
    AcquireReply, CommitId, CommitReply, CreateReply, Expiry, Hint, Known, MemoryStore,
    RenewOutcome, Renewal, Store, StoreError,
};
use tenure_test::{wait_until, CallCounts, CountingStore, FaultyStore};
use tokio::time::Instant;

const LEASE: Duration = Duration::from_secs(30);

fn ids() -> (SessionId, OwnerId, OwnerId) {
    (
        SessionId::generate().unwrap(),
        OwnerId::generate("a").unwrap(),
        OwnerId::generate("b").unwrap(),
    )
}

async fn create_held(store: &dyn Store, sid: &SessionId, owner: &OwnerId) -> tenure_store::Fence {
    match store
        .create(sid, vec![], Expiry::default(), Some((owner, LEASE)))
        .await
        .unwrap()
    {
        CreateReply::Created { fence: Some(f) } => f,
        other => panic!("create: {other:?}"),
    }
}

#[tokio::test]
async fn counting_store_counts_calls_and_commit_payloads() {
    let store = CountingStore::new(MemoryStore::new());
    let (sid, a, _) = ids();
    let fence = create_held(&store, &sid, &a).await;
    store.load(&sid).await.unwrap();
    store.acquire(&sid, &a, LEASE, LEASE).await.unwrap();
    let renewal = Renewal {
        sid: sid.clone(),
        fence,
        touch: true,
    };
    store
        .renew(&a, LEASE, &[renewal.clone(), renewal])
        .await
        .unwrap();
    let before = store.counts();
    let mut delta = Delta::default();
    delta.set("cart", Bytes::from_static(b"3 items"));
    delta.remove("old");
    store
        .commit(&sid, &a, fence, CommitId(1), delta.clone(), true)
        .await
        .unwrap();
    store
        .commit_optimistic(&sid, Delta::default())
        .await
        .unwrap();
    let _hints = store.hints(&a).await.unwrap();

    let counts = store.counts();
    let want = CallCounts {
        create: 1,
        load: 1,
        acquire: 1,
        renew: 1,
        commit: 1,
        commit_optimistic: 1,
        hints: 1,
        ..CallCounts::default()
    };
    assert_eq!(counts, want);
    assert_eq!(counts.total(), 7);
    assert_eq!((counts - before).total(), 3, "calls between two snapshots");
    let payloads = store.commit_payloads();
    assert_eq!(payloads.len(), 2);
    let first = payloads[0];
    assert_eq!(first.payload_bytes, delta.payload_bytes());
    assert_eq!(first.encoded_bytes, delta.encode().len());
    assert_eq!(
        (first.ops, first.optimistic, first.release),
        (2, false, true)
    );
    assert!(first.encoded_bytes < 200, "commit payload under 200 bytes");
    assert!(store.last_commit_payload().unwrap().optimistic);
    assert_eq!(store.max_commit_encoded_bytes(), first.encoded_bytes);

    let clone = store.clone();
    clone.reset();
    assert_eq!(
        store.counts(),
        CallCounts::default(),
        "clones share counters"
    );
    assert!(store.commit_payloads().is_empty());
}

/// `acquire_since` goes through both wrappers to the store (not the trait's
/// full-answer default), is counted as an acquire, and its grant's size is recorded.
#[tokio::test]
async fn wrappers_pass_acquire_since_on_and_count_grants() {
    let store = CountingStore::new(FaultyStore::new(MemoryStore::new()));
    let (sid, a, b) = ids();
    let big = Bytes::from(vec![1u8; 1000]);
    let attrs = vec![
        ("big".to_string(), big),
        ("n".to_string(), Bytes::from("1")),
    ];
    store
        .create(&sid, attrs, Expiry::default(), None)
        .await
        .unwrap();
    let AcquireReply::Granted(grant) = store.acquire(&sid, &a, LEASE, LEASE).await.unwrap() else {
        panic!("granted");
    };
    let mut delta = Delta::default();
    delta.set("n", Bytes::from("2"));
    store
        .commit(&sid, &a, grant.fence, CommitId(1), delta, true)
        .await
        .unwrap();
    let known = Known::of(&grant.snapshot);
    let reply = store.acquire_since(&sid, &b, LEASE, LEASE, &known).await;
    assert!(matches!(reply, Ok(AcquireReply::Partial(_))), "{reply:?}");
    assert_eq!(store.counts().acquire, 2);
    let grants = store.grant_payloads();
    let sizes: Vec<_> = grants
        .iter()
        .map(|g| (g.partial, g.attrs, g.payload_bytes))
        .collect();
    assert_eq!(sizes, [(false, 2, 1005), (true, 1, 2)]);
    store.reset();
    assert!(store.grant_payloads().is_empty());
}

#[tokio::test]
async fn faulty_store_fails_the_next_calls_then_recovers() {
    let store = FaultyStore::new(MemoryStore::new());
    let (sid, a, _) = ids();
    store.fail_next(2);
    assert!(matches!(
        store.load(&sid).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(store
        .acquire(&sid, &a, LEASE, LEASE)
        .await
        .unwrap_err()
        .is_transient());
    assert_eq!(
        store.acquire(&sid, &a, LEASE, LEASE).await.unwrap(),
        AcquireReply::NotFound
    );
    assert_eq!(store.injected_failures(), 2);
    store.clone().set_unavailable(true);
    assert!(store.load(&sid).await.is_err(), "clones share switches");
    store.heal();
    assert!(store.load(&sid).await.unwrap().is_none());
}

#[tokio::test]
async fn faulty_store_loses_replies_after_the_store_acted() {
    let store = FaultyStore::new(MemoryStore::new());
    let (sid, a, _) = ids();
    let fence = create_held(&store, &sid, &a).await;
    let mut delta = Delta::default();
    delta.set("x", Bytes::from_static(b"1"));
    store.lose_next_replies(1);
    assert!(store
        .commit(&sid, &a, fence, CommitId(1), delta, false)
        .await
        .is_err());
    let snap = store.load(&sid).await.unwrap().unwrap();
    assert_eq!(
        snap.value("x").map(|v| v.as_ref()),
        Some(&b"1"[..]),
        "the lost commit was applied"
    );
}

#[tokio::test]
async fn faulty_store_fails_renewals_of_one_owner_only() {
    let store = FaultyStore::new(MemoryStore::new());
    let (sid, a, b) = ids();
    let (sid_b, _, _) = ids();
    let fa = create_held(&store, &sid, &a).await;
    let fb = create_held(&store, &sid_b, &b).await;
    store.fail_renew_for(&a, true);
    let item = |sid: &SessionId, fence| {
        [Renewal {
            sid: sid.clone(),
            fence,
            touch: true,
        }]
    };
    assert!(store.renew(&a, LEASE, &item(&sid, fa)).await.is_err());
    assert_eq!(
        store.renew(&b, LEASE, &item(&sid_b, fb)).await.unwrap(),
        [RenewOutcome::Renewed { recall: false }]
    );
    assert!(
        matches!(
            store.acquire(&sid, &a, LEASE, LEASE).await,
            Ok(AcquireReply::Granted(_))
        ),
        "other calls work"
    );
    store.fail_renew_for(&a, false);
    assert!(store.renew(&a, LEASE, &item(&sid, fa)).await.is_ok());
}

#[tokio::test]
async fn faulty_store_drops_hints_on_streams_already_handed_out() {
    let store = FaultyStore::new(MemoryStore::new());
    let (sid, holder, waiter) = ids();
    let fence = create_held(&store, &sid, &holder).await;
    let mut rx = store.hints(&holder).await.unwrap();
    store.drop_hints(true);
    store.acquire(&sid, &waiter, LEASE, LEASE).await.unwrap();
    let s = &store;
    wait_until(
        Duration::from_secs(3),
        "the recall hint to be dropped",
        || async move { s.dropped_hints() >= 1 },
    )
    .await;
    assert!(rx.try_recv().is_err(), "a dropped hint arrived");
    store.drop_hints(false);
    store.acquire(&sid, &waiter, LEASE, LEASE).await.unwrap();
    let hint = tokio::time::timeout(Duration::from_secs(3), rx.recv())
        .await
        .unwrap();
    assert_eq!(hint, Some(Hint::Recall(sid.clone())));

    let mut waiter_rx = store.hints(&waiter).await.unwrap();
    store.drop_hints_for(&waiter, true);
    let before = store.dropped_hints();
    store
        .commit(&sid, &holder, fence, CommitId(1), Delta::default(), true)
        .await
        .unwrap();
    wait_until(
        Duration::from_secs(3),
        "the grant hint to be dropped",
        || async move { s.dropped_hints() > before },
    )
    .await;
    assert!(
        waiter_rx.try_recv().is_err(),
        "a hint for an owner whose hints are dropped arrived"
    );
}

#[tokio::test]
async fn faulty_store_delays_requests_and_replies() {
    let store = FaultyStore::new(MemoryStore::new());
    let (sid, a, _) = ids();
    let delay = Duration::from_millis(80);
    store.set_reply_delay(delay);
    let start = Instant::now();
    store.load(&sid).await.unwrap();
    assert!(start.elapsed() >= delay);
    store.set_reply_delay(Duration::ZERO);
    store.set_request_delay(delay);
    let start = Instant::now();
    let fence = create_held(&store, &sid, &a).await;
    assert!(start.elapsed() >= delay);
    store.heal();
    let reply = store
        .commit(&sid, &a, fence, CommitId(1), Delta::default(), false)
        .await
        .unwrap();
    assert_eq!(reply, CommitReply::Committed { version: 1 });
}
