//! Cases about large attribute values (tens of KB, as a cart of many items is): a
//! store may keep them apart from the small ones (Redis keeps each in chunks and
//! rewrites only the chunks a patch touches), and whatever it does, patches, removal,
//! rotation, deletion and takeover treat them exactly as small ones.

use std::sync::Arc;

use tenure_core::patch::{Patch, Splice};
use tenure_core::{Bytes, Delta, Expect, SessionId};
use tenure_store::{AcquireReply, CommitReply, Known, OptimisticReply, RotateReply, Store};

use super::patches::{patched, set};
use super::util::*;

/// A value of `len` bytes that is not text and differs from `seed`'s.
fn large(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i % 251) as u8).wrapping_add(seed))
        .collect()
}

/// One edit: at `offset`, `removed` bytes replaced by `inserted`.
struct Edit {
    what: &'static str,
    splices: Vec<(usize, usize, Vec<u8>)>,
}

impl Edit {
    fn new(what: &'static str, splices: Vec<(usize, usize, Vec<u8>)>) -> Self {
        Self { what, splices }
    }

    /// The patch of this edit against `old` at `version`, and the bytes it makes.
    fn patch(&self, version: u64, old: &[u8]) -> (Patch, Vec<u8>) {
        let mut new = Vec::with_capacity(old.len());
        let mut cursor = 0;
        for (offset, removed, inserted) in &self.splices {
            new.extend_from_slice(&old[cursor..*offset]);
            new.extend_from_slice(inserted);
            cursor = offset + removed;
        }
        new.extend_from_slice(&old[cursor..]);
        let splices: Vec<Splice<'_>> = self
            .splices
            .iter()
            .map(|(offset, removed, inserted)| Splice {
                offset: *offset,
                removed: *removed,
                inserted,
            })
            .collect();
        (Patch::encode(version, old.len(), new.len(), &splices), new)
    }
}

async fn stored(store: &dyn Store, sid: &SessionId, name: &str) -> Option<(Vec<u8>, u64)> {
    let snap = loaded(store, sid, "load").await;
    snap.attrs.get(name).map(|e| (e.value.to_vec(), e.version))
}

/// Patches on a 50 KB value store exactly the bytes they make, at the commit's
/// version: splices that keep their length (one and several), that grow it, that
/// shrink it well below 8 KB and grow it back; then through an optimistic commit.
/// A patch against another version or length of a large value is refused and applies
/// nothing.
pub async fn large_value_patches_apply_exactly(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    create(s, &sid, &[("small", "kept")]).await;
    let a = owner("a");
    let fence = granted(s, &sid, &a, LONG, "acquire").await.fence;
    let mut cart = large(50_000, 0);
    let mut version = committed(s, &sid, &a, fence, set("cart", &cart), false, "set").await;
    let edits = [
        Edit::new(
            "one splice keeping the length",
            vec![(25_000, 2, vec![7, 7])],
        ),
        Edit::new(
            "three splices keeping the length",
            vec![
                (0, 1, vec![1]),
                (30_000, 100, large(100, 9)),
                (49_999, 1, vec![0]),
            ],
        ),
        Edit::new("a splice growing it", vec![(100, 0, large(300, 3))]),
        Edit::new("a splice shrinking it", vec![(10, 45_000, vec![5; 10])]),
        Edit::new("a patch of the small value", vec![(1, 1, vec![1])]),
        Edit::new("growing it back", vec![(0, 0, large(20_000, 4))]),
        Edit::new(
            "a splice keeping the length again",
            vec![(12_345, 3, vec![1, 2, 3])],
        ),
    ];
    for edit in &edits {
        let (patch, new) = edit.patch(version, &cart);
        let mut delta = patched("cart", patch, Expect::Any);
        delta.set("w", Bytes::from_static(edit.what.as_bytes()));
        version = committed(s, &sid, &a, fence, delta, false, edit.what).await;
        assert_eq!(
            stored(s, &sid, "cart").await,
            Some((new.clone(), version)),
            "large values: {}: the stored value must be exactly the patched bytes",
            edit.what
        );
        cart = new;
    }
    let before = loaded(s, &sid, "before the refusals").await;
    let keep = Edit::new("refused", vec![(500, 4, vec![9; 4])]);
    for (what, base, len) in [
        ("another base version", version + 1, cart.len()),
        ("another base length", version, cart.len() + 1),
    ] {
        let (mut patch, _) = keep.patch(base, &cart);
        if len != cart.len() {
            let longer = [cart.as_slice(), &[0]].concat();
            patch = keep.patch(base, &longer).0;
        }
        let mut delta = patched("cart", patch, Expect::Any);
        delta.set("w", Bytes::from_static(b"must not appear"));
        match commit(s, &sid, &a, fence, delta, false).await {
            CommitReply::PatchRefused(r) => assert_eq!(r.attrs, vec!["cart".to_string()]),
            other => panic!("large values: {what}: must answer PatchRefused, got {other:?}"),
        }
        assert_eq!(
            loaded(s, &sid, what).await,
            before,
            "large values: {what}: a refused patch applies nothing"
        );
    }
    release(s, &sid, &a, fence).await;
    let (patch, new) = keep.patch(version, &cart);
    match optimistic(s, &sid, patched("cart", patch, Expect::Version(version))).await {
        OptimisticReply::Committed { version: v } => {
            assert_eq!(stored(s, &sid, "cart").await, Some((new, v)), "optimistic");
        }
        other => panic!("large values: an optimistic patch must commit, got {other:?}"),
    }
    let after = loaded(s, &sid, "after").await;
    assert_eq!(value(&after, "small"), Some("kept".into()));
}

/// A large value survives a takeover that names an older copy, a rotation and its
/// removal leaves nothing behind; a deleted session's id created anew has none of it.
pub async fn large_values_move_rotate_and_go(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    create(s, &sid, &[]).await;
    let a = owner("a");
    let fence = granted(s, &sid, &a, LONG, "acquire").await.fence;
    committed(
        s,
        &sid,
        &a,
        fence,
        set("cart", &large(30_000, 1)),
        false,
        "set",
    )
    .await;
    let copy = loaded(s, &sid, "copy").await;
    let (patch, new) =
        Edit::new("edit", vec![(10, 1, vec![0])]).patch(copy.version, &large(30_000, 1));
    let version = committed(
        s,
        &sid,
        &a,
        fence,
        patched("cart", patch, Expect::Any),
        true,
        "patch and release",
    )
    .await;
    let b = owner("b");
    let reply = ok(
        s.acquire_since(&sid, &b, LONG, LONG, &Known::of(&copy))
            .await,
        "acquire_since",
    );
    let grant = match reply {
        AcquireReply::Granted(grant) => grant,
        AcquireReply::Partial(partial) => partial
            .merge(copy.clone())
            .unwrap_or_else(|e| panic!("large values: the partial grant must merge: {e}")),
        other => panic!("large values: acquire_since must grant, got {other:?}"),
    };
    assert_eq!(
        grant
            .snapshot
            .attrs
            .get("cart")
            .map(|e| (e.value.to_vec(), e.version)),
        Some((new.clone(), version)),
        "large values: a takeover with an older copy carries the patched value"
    );
    let rotated = super::util::sid();
    let fence = match ok(
        s.rotate_id(&sid, &rotated, Some((&b, grant.fence))).await,
        "rotate",
    ) {
        RotateReply::Rotated { fence: Some(fence) } => fence,
        other => panic!(
            "large values: rotate by the holder must answer Rotated with a fence, got {other:?}"
        ),
    };
    assert_eq!(
        stored(s, &rotated, "cart").await.map(|(v, _)| v),
        Some(new),
        "large values: rotation carries the value"
    );
    assert!(
        load(s, &sid).await.is_none(),
        "large values: the old id is gone"
    );
    // The old id created anew holds only what its creation gave it.
    create(s, &sid, &[("fresh", "1")]).await;
    let fresh = loaded(s, &sid, "fresh").await;
    assert_eq!(fresh.attrs.keys().collect::<Vec<_>>(), vec!["fresh"]);
    // Removal, then deletion and creation anew, of the rotated id.
    let c = b;
    let mut gone = Delta::default();
    gone.remove("cart");
    committed(s, &rotated, &c, fence, gone, false, "remove").await;
    assert!(
        stored(s, &rotated, "cart").await.is_none(),
        "large values: removed"
    );
    committed(
        s,
        &rotated,
        &c,
        fence,
        set("cart", &large(40_000, 2)),
        true,
        "set again",
    )
    .await;
    assert!(
        ok(s.delete(&rotated).await, "delete"),
        "large values: delete finds it"
    );
    create(s, &rotated, &[]).await;
    let empty = loaded(s, &rotated, "created anew").await;
    assert!(
        empty.attrs.is_empty(),
        "large values: a deleted session's value must not come back, got {:?}",
        empty.attrs.keys().collect::<Vec<_>>()
    );
}

/// A commit that replaces every attribute and patches a large one: the patch applies
/// to the value as stored before the commit, and what the commit leaves is exactly its
/// own attributes, the patched one included.
pub async fn large_value_patch_under_replace_all(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    create(s, &sid, &[("gone", "1")]).await;
    let a = owner("a");
    let fence = granted(s, &sid, &a, LONG, "acquire").await.fence;
    let cart = large(40_000, 5);
    let version = committed(s, &sid, &a, fence, set("cart", &cart), false, "set").await;
    // Two edits in one patch: the first lasting patch cuts the chunks on Redis.
    let edit = Edit::new(
        "replace all",
        vec![(3, 2, vec![1, 2]), (39_000, 0, vec![7; 9])],
    );
    let (patch, new) = edit.patch(version, &cart);
    let mut delta = patched("cart", patch, Expect::Any);
    delta.replace_all = true;
    delta.set("w", Bytes::from_static(b"kept"));
    let v = committed(s, &sid, &a, fence, delta, false, "replace all with a patch").await;
    let snap = loaded(s, &sid, "after").await;
    assert_eq!(
        snap.attrs.keys().collect::<Vec<_>>(),
        vec!["cart", "w"],
        "large values: replace all leaves exactly the commit's attributes"
    );
    assert_eq!(
        stored(s, &sid, "cart").await,
        Some((new.clone(), v)),
        "large values: the patch applied under replace all"
    );
    // And the value takes a further patch as stored.
    let (patch, newer) = Edit::new("after", vec![(20_000, 1, vec![0])]).patch(v, &new);
    let v2 = committed(
        s,
        &sid,
        &a,
        fence,
        patched("cart", patch, Expect::Any),
        false,
        "again",
    )
    .await;
    assert_eq!(stored(s, &sid, "cart").await, Some((newer, v2)));
}
