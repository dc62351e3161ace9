//! Cases about patches: a [`Change::Patch`] applies to the attribute's stored bytes
//! exactly, or the commit applies nothing.

use std::sync::Arc;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use tenure_core::patch::{Patch, Splice, HEADER_LEN};
use tenure_core::structural::{self, Budget};
use tenure_core::{Bytes, Change, Delta, Expect, OwnerId, SessionId};
use tenure_store::{CommitReply, Fence, OptimisticReply, Store};

use super::util::*;
use crate::values;

/// Pairs of values each patch case runs through the store.
const PAIRS: usize = 32;

/// Deterministic draws from a strategy, the same on every run and for every store.
fn draws<S: Strategy>(strategy: S, n: usize) -> Vec<S::Value> {
    let mut runner = TestRunner::deterministic();
    (0..n)
        .map(|_| {
            strategy
                .new_tree(&mut runner)
                .unwrap_or_else(|e| panic!("drawing a test value: {e}"))
                .current()
        })
        .collect()
}

/// The patch structural comparison finds from `old` (at `version`) to `new`, or,
/// where it finds none worth sending, one splice replacing everything: every pair
/// gives the store a patch to apply.
fn patch_between(version: u64, old: &[u8], new: &[u8]) -> Patch {
    structural::diff(version, old, new, &Budget::default()).unwrap_or_else(|| {
        let whole = Splice {
            offset: 0,
            removed: old.len(),
            inserted: new,
        };
        Patch::encode(version, old.len(), new.len(), &[whole])
    })
}

/// A patch as sent: the whole value left empty, so a store that used it instead of
/// the patch would be caught.
pub(super) fn patched(name: &str, patch: Patch, expect: Expect) -> Delta {
    let mut delta = Delta::default();
    let value = Bytes::new();
    delta.push(name, Change::Patch { patch, value }, expect);
    delta
}

pub(super) fn set(name: &str, value: &[u8]) -> Delta {
    let mut delta = Delta::default();
    delta.set(name, Bytes::copy_from_slice(value));
    delta
}

/// The attribute's bytes and version at the store.
async fn stored(store: &dyn Store, sid: &SessionId, name: &str) -> Option<(Bytes, u64)> {
    let snap = loaded(store, sid, "load after a patch").await;
    snap.attrs.get(name).map(|e| (e.value.clone(), e.version))
}

/// A fenced commit of a patch stores exactly the bytes the patch makes, at the
/// commit's version, for arbitrary pairs of values (nested maps, sequences, scalars,
/// type changes), from the values' strategies in [`crate::values`].
pub async fn patches_apply_exactly(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    create(s, &sid, &[("other", "kept")]).await;
    let a = owner("a");
    let fence = granted(s, &sid, &a, LONG, "acquire").await.fence;
    for (i, (old, new)) in draws(values::pair(), PAIRS).into_iter().enumerate() {
        let (old, new) = (values::encode(&old), values::encode(&new));
        let base = committed(s, &sid, &a, fence, set("v", &old), false, "set").await;
        let mut delta = patched("v", patch_between(base, &old, &new), Expect::Any);
        delta.set("w", Bytes::from(format!("{i}")));
        let ctx = format!("patch {i} ({} to {} bytes)", old.len(), new.len());
        let version = committed(s, &sid, &a, fence, delta, false, &ctx).await;
        assert_eq!(
            stored(s, &sid, "v").await,
            Some((Bytes::from(new), version)),
            "patches: {ctx}: the stored value must be exactly the new encoding, at the commit's version"
        );
    }
    let snap = loaded(s, &sid, "after the patches").await;
    assert_eq!(value(&snap, "other").as_deref(), Some("kept"));
}

/// An optimistic commit of a patch, expecting the version the patch names, stores
/// exactly the bytes the patch makes.
pub async fn optimistic_patches_apply_exactly(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    create(s, &sid, &[]).await;
    for (i, (old, new)) in draws(values::related(), PAIRS / 2).into_iter().enumerate() {
        let (old, new) = (values::encode(&old), values::encode(&new));
        let OptimisticReply::Committed { version: base } =
            optimistic(s, &sid, set("v", &old)).await
        else {
            panic!("an optimistic set must commit");
        };
        let delta = patched("v", patch_between(base, &old, &new), Expect::Version(base));
        let reply = optimistic(s, &sid, delta).await;
        let OptimisticReply::Committed { version } = reply else {
            panic!("patches: optimistic patch {i} must commit, got {reply:?}");
        };
        assert_eq!(
            stored(s, &sid, "v").await,
            Some((Bytes::from(new), version)),
            "patches: optimistic patch {i}: the stored value must be exactly the new encoding"
        );
    }
}

/// The patches a store must refuse: against another version, another length, a
/// truncated one, and one for an attribute the session does not have.
fn refusable(base: u64, old: &[u8], new: &[u8]) -> Vec<(&'static str, &'static str, Patch)> {
    let good = patch_between(base, old, new);
    let mut longer = old.to_vec();
    longer.push(0xc0);
    let truncated = Patch::from_bytes(good.as_bytes().slice(..good.len() - 1));
    vec![
        (
            "a newer base version",
            "v",
            patch_between(base + 1, old, new),
        ),
        (
            "an older base version",
            "v",
            patch_between(base - 1, old, new),
        ),
        (
            "another base length",
            "v",
            patch_between(base, &longer, new),
        ),
        ("a truncated patch", "v", truncated),
        ("an absent attribute", "missing", good),
    ]
}

/// A session held by `a`, whose attribute `v` holds `old` at version `base`; `new` is
/// `old` after a few edits.
struct Held {
    sid: SessionId,
    a: OwnerId,
    fence: Fence,
    old: Vec<u8>,
    new: Vec<u8>,
    base: u64,
}

async fn held(s: &dyn Store) -> Held {
    let sid = sid();
    create(s, &sid, &[]).await;
    let a = owner("a");
    let fence = granted(s, &sid, &a, LONG, "acquire").await.fence;
    let (old, new) = draws(values::related(), 1).remove(0);
    let (old, new) = (values::encode(&old), values::encode(&new));
    let base = committed(s, &sid, &a, fence, set("v", &old), false, "set").await;
    Held {
        sid,
        a,
        fence,
        old,
        new,
        base,
    }
}

/// A patch that does not apply to the stored attribute answers `PatchRefused`
/// naming it, and the commit applies nothing: not the patch, not its other
/// operations, not the version. The commit id is not used up: the same commit sent
/// again with whole values applies.
pub async fn refused_patch_applies_nothing(store: Arc<dyn Store>) {
    let s = &*store;
    let Held {
        sid,
        a,
        fence,
        old,
        new,
        base,
    } = held(s).await;
    let before = loaded(s, &sid, "before").await;
    for (what, name, patch) in refusable(base, &old, &new) {
        let mut delta = Delta::default();
        delta.set("w", Bytes::from_static(b"must not appear"));
        delta.push(
            name,
            Change::Patch {
                patch,
                value: Bytes::from(new.clone()),
            },
            Expect::Any,
        );
        let id = next_commit_id();
        let reply = s.commit(&sid, &a, fence, id, delta.clone(), false).await;
        match ok(reply, "commit") {
            CommitReply::PatchRefused(refused) => assert_eq!(
                refused.attrs,
                vec![name.to_string()],
                "patches: {what}: the refusal names the attribute"
            ),
            other => panic!("patches: {what}: commit must answer PatchRefused, got {other:?}"),
        }
        assert_eq!(
            loaded(s, &sid, what).await,
            before,
            "patches: {what}: a refused commit applies nothing"
        );
        if name == "v" {
            let whole = delta.without_patches();
            let reply = ok(s.commit(&sid, &a, fence, id, whole, false).await, "commit");
            let CommitReply::Committed { .. } = reply else {
                panic!("patches: {what}: the same commit id with whole values must apply, got {reply:?}");
            };
            let base = committed(s, &sid, &a, fence, set("v", &old), false, "reset").await;
            return refused_again(s, &sid, &a, fence, base, &old, &new).await;
        }
    }
}

/// The rest of [`refused_patch_applies_nothing`] after the session moved on: every
/// other kind of refusal, and the same through an optimistic commit.
async fn refused_again(
    s: &dyn Store,
    sid: &SessionId,
    a: &OwnerId,
    fence: Fence,
    base: u64,
    old: &[u8],
    new: &[u8],
) {
    let before = loaded(s, sid, "before").await;
    for (what, name, patch) in refusable(base, old, new).into_iter().skip(1) {
        let delta = patched(name, patch, Expect::Any);
        match commit(s, sid, a, fence, delta, false).await {
            CommitReply::PatchRefused(_) => {}
            other => panic!("patches: {what}: commit must answer PatchRefused, got {other:?}"),
        }
        assert_eq!(loaded(s, sid, what).await, before, "patches: {what}");
    }
    release(s, sid, a, fence).await;
    let before = loaded(s, sid, "released").await;
    let base = before.attrs.get("v").map_or(0, |e| e.version);
    for (what, name, patch) in refusable(base, old, new) {
        let expect = if name == "v" {
            Expect::Version(base)
        } else {
            Expect::Absent
        };
        match optimistic(s, sid, patched(name, patch, expect)).await {
            OptimisticReply::PatchRefused(refused) => {
                assert_eq!(refused.attrs, vec![name.to_string()], "patches: {what}")
            }
            other => panic!("patches: optimistic {what}: must answer PatchRefused, got {other:?}"),
        }
        let after = loaded(s, sid, what).await;
        assert_eq!(after.attrs, before.attrs, "patches: optimistic {what}");
    }
}

/// Arbitrary bytes as a patch, also behind a valid header: the store answers (no
/// error, no crash) and either refuses, applying nothing, or stores exactly what
/// `Patch::apply` makes of them.
pub async fn arbitrary_patch_bytes_never_write(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    create(s, &sid, &[]).await;
    let a = owner("a");
    let fence = granted(s, &sid, &a, LONG, "acquire").await.fence;
    let old = values::encode(&draws(values::value(), 1).remove(0));
    let mut version = committed(s, &sid, &a, fence, set("v", &old), false, "set").await;
    let tails = draws(
        proptest::collection::vec(proptest::prelude::any::<u8>(), 0..48),
        64,
    );
    for (i, tail) in tails.into_iter().enumerate() {
        let bytes = if i % 2 == 0 {
            tail
        } else {
            // A header naming the right base, then arbitrary splices.
            let mut b = Patch::encode(version, old.len(), old.len(), &[])
                .as_bytes()
                .to_vec();
            b.truncate(HEADER_LEN - 8);
            b.extend_from_slice(&tail);
            b
        };
        let patch = Patch::from_bytes(Bytes::from(bytes));
        let expected = patch.apply(version, &old);
        let reply = commit(s, &sid, &a, fence, patched("v", patch, Expect::Any), false).await;
        let now = stored(s, &sid, "v").await;
        match (reply, expected) {
            (CommitReply::PatchRefused(_), Err(_)) => {
                assert_eq!(now, Some((Bytes::from(old.clone()), version)), "patches: arbitrary bytes {i}: refused, and nothing written");
            }
            (CommitReply::Committed { version: v }, Ok(bytes)) => {
                assert_eq!(now, Some((bytes.clone(), v)), "patches: arbitrary bytes {i}");
                version = committed(s, &sid, &a, fence, set("v", &old), false, "reset").await;
            }
            (reply, expected) => panic!(
                "patches: arbitrary bytes {i}: the store answered {reply:?}, Patch::apply {expected:?}"
            ),
        }
    }
}

/// Every patch op of a delta must apply, also one that a later op on the same name
/// overrides; the last op on a name still decides what is stored.
pub async fn every_patch_must_apply_even_when_overridden(store: Arc<dyn Store>) {
    let s = &*store;
    let Held {
        sid,
        a,
        fence,
        old,
        new,
        base,
    } = held(s).await;
    let before = loaded(s, &sid, "before").await;
    let mut bad = patched("v", patch_between(base + 1, &old, &new), Expect::Any);
    bad.set("v", Bytes::from_static(b"later"));
    match commit(s, &sid, &a, fence, bad, false).await {
        CommitReply::PatchRefused(refused) => assert_eq!(refused.attrs, vec!["v".to_string()]),
        other => panic!(
            "patches: an overridden patch that does not apply must be refused, got {other:?}"
        ),
    }
    assert_eq!(
        loaded(s, &sid, "refused").await,
        before,
        "patches: nothing applied"
    );
    let mut good = patched("v", patch_between(base, &old, &new), Expect::Any);
    good.remove("v");
    good.set("w", Bytes::from_static(b"1"));
    committed(
        s,
        &sid,
        &a,
        fence,
        good,
        false,
        "a good patch, then a removal",
    )
    .await;
    let after = loaded(s, &sid, "after").await;
    assert!(
        !after.attrs.contains_key("v"),
        "patches: the last op on a name wins"
    );
    assert_eq!(value(&after, "w").as_deref(), Some("1"));
}
