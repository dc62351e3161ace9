//! A takeover that carries patches (Redis): a node whose copy has a large value at a
//! version the value's patch log reaches back to is sent those patches instead of the
//! value, and merged they give exactly the stored value; a copy older than the log,
//! or a log cleared by a whole write, gets the value whole. On one server; on a
//! cluster, where values are not kept apart (their keys cannot be declared), every
//! takeover gets the value whole and merges just as exactly.

mod support;

use std::time::Duration;

use support::*;
use tenure_core::patch::{Patch, Splice};
use tenure_core::{Bytes, Change, Delta, Expect, OwnerId, SessionId, Snapshot};
use tenure_redis::RedisStore;
use tenure_store::{AcquireReply, CommitId, CommitReply, Expiry, Fence, Known, Store};

const LEASE: Duration = Duration::from_secs(10);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

struct Cart<'a> {
    store: &'a RedisStore,
    sid: SessionId,
    next: u64,
}

impl Cart<'_> {
    async fn take(&self, owner: &OwnerId) -> Fence {
        match self
            .store
            .acquire(&self.sid, owner, LEASE, LEASE)
            .await
            .unwrap()
        {
            AcquireReply::Granted(g) => g.fence,
            other => panic!("a free session is granted: {other:?}"),
        }
    }

    async fn commit(&mut self, owner: &OwnerId, fence: Fence, delta: Delta, release: bool) {
        self.next += 1;
        let reply = self
            .store
            .commit(&self.sid, owner, fence, CommitId(self.next), delta, release)
            .await
            .unwrap();
        assert!(matches!(reply, CommitReply::Committed { .. }), "{reply:?}");
    }

    async fn now(&self) -> Snapshot {
        self.store.load(&self.sid).await.unwrap().unwrap()
    }

    /// `n` patches by `owner`, each changing 3 bytes at a different place (one also
    /// growing the value), then a release.
    async fn patch(&mut self, owner: &OwnerId, n: usize) {
        let fence = self.take(owner).await;
        for i in 0..n {
            let snap = self.now().await;
            let entry = &snap.attrs["cart"];
            let at = (i * 7919) % (entry.value.len() - 3);
            let grow = i % 5 == 0;
            let inserted = [i as u8, 1, 2];
            let splice = Splice {
                offset: at,
                removed: if grow { 0 } else { 3 },
                inserted: &inserted,
            };
            let len = entry.value.len() + if grow { 3 } else { 0 };
            let patch = Patch::encode(entry.version, entry.value.len(), len, &[splice]);
            let mut delta = Delta::default();
            let change = Change::Patch {
                patch,
                value: Bytes::new(),
            };
            delta.push("cart", change, Expect::Any);
            self.commit(owner, fence, delta, false).await;
        }
        self.commit(owner, fence, Delta::default(), true).await;
    }
}

/// Takes the session with `copy` named: answers how many patches came instead of the
/// value, after checking the merged grant is exactly what is stored.
async fn take_with(cart: &Cart<'_>, owner: &OwnerId, copy: &Snapshot) -> usize {
    let reply = cart
        .store
        .acquire_since(&cart.sid, owner, LEASE, LEASE, &Known::of(copy))
        .await
        .unwrap();
    let AcquireReply::Partial(partial) = reply else {
        panic!("a copy Redis can complete gets a partial grant: {reply:?}");
    };
    let patches = partial.patched.iter().map(|p| p.patches.len()).sum();
    let fence = partial.grant.fence;
    let merged = partial.merge(copy.clone()).unwrap();
    assert_eq!(
        merged.snapshot,
        cart.now().await,
        "merged: the stored session"
    );
    let reply = cart
        .store
        .commit(&cart.sid, owner, fence, CommitId(1), Delta::default(), true)
        .await
        .unwrap();
    assert!(matches!(reply, CommitReply::Committed { .. }), "{reply:?}");
    patches
}

async fn patches_move_instead_of_the_value(url: Option<String>, apart: bool) {
    let store = connect(url).await;
    let sid = SessionId::generate().unwrap();
    let value: Bytes = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let expiry = Expiry::idle(Duration::from_secs(60));
    let attrs = vec![("cart".to_string(), value)];
    store.create(&sid, attrs, expiry, None).await.unwrap();
    let mut cart = Cart {
        store: &store,
        sid,
        next: 0,
    };
    let (a, b) = (
        OwnerId::generate("a").unwrap(),
        OwnerId::generate("b").unwrap(),
    );
    // The first patch cuts the one chunk a create writes: a log from there on.
    cart.patch(&a, 1).await;
    let copy = cart.now().await;
    cart.patch(&a, 40).await;
    let sent = if apart { 40 } else { 0 };
    assert_eq!(
        take_with(&cart, &b, &copy).await,
        sent,
        "40 patches, not the value"
    );

    // A copy from before the log's oldest entry gets the value. The log keeps about a
    // half of the value (25 KB over 8 + 36 bytes an entry: some 570 entries).
    let old = cart.now().await;
    cart.patch(&a, 700).await;
    assert_eq!(
        take_with(&cart, &b, &old).await,
        0,
        "past the log: the value whole"
    );

    // A whole write clears the log.
    let before = cart.now().await;
    let fence = cart.take(&a).await;
    let mut delta = Delta::default();
    delta.set("cart", Bytes::from(vec![3u8; 30_000]));
    cart.commit(&a, fence, delta, true).await;
    cart.patch(&a, 3).await;
    assert_eq!(
        take_with(&cart, &b, &before).await,
        0,
        "across a whole write: the value"
    );
    assert!(store.delete(&cart.sid).await.unwrap());
    store.quit().await;
}

#[test]
fn patches_move_instead_of_the_value_on_one_server() {
    if !reachable(single_url()) {
        return;
    }
    runtime().block_on(patches_move_instead_of_the_value(single_url(), true));
}

#[test]
fn a_cluster_sends_the_value_whole() {
    if !reachable(cluster_url()) {
        return;
    }
    runtime().block_on(patches_move_instead_of_the_value(cluster_url(), false));
}
