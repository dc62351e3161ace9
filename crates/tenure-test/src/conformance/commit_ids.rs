//! Cases about commit ids (I2a): a commit sent again applies once, and a late copy of
//! an older commit of the same tenure applies never.

use std::sync::Arc;

use tenure_core::Delta;
use tenure_store::{CommitId, CommitReply, Fence, Store};

use super::util::*;

/// Sends one commit with an explicit id.
async fn send(
    store: &dyn Store,
    sid: &tenure_core::SessionId,
    owner: &tenure_core::OwnerId,
    fence: Fence,
    id: CommitId,
    delta: Delta,
    release: bool,
) -> CommitReply {
    ok(
        store.commit(sid, owner, fence, id, delta, release).await,
        "commit",
    )
}

/// I2a: the same commit (fence and id) sent twice applies once: the second answers
/// `AlreadyApplied` with the version the first made, and the session is as the
/// first left it, also when the resent copy carries other operations.
pub async fn repeated_commit_applies_once(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    create(s, &sid, &[("n", "0")]).await;
    let a = owner("a");
    let fence = granted(s, &sid, &a, LONG, "acquire").await.fence;
    let id = next_commit_id();
    let first = send(s, &sid, &a, fence, id, sets(&[("n", "1")]), false).await;
    assert_eq!(
        first,
        CommitReply::Committed { version: 2 },
        "first sending"
    );
    let again = send(s, &sid, &a, fence, id, sets(&[("n", "1")]), false).await;
    assert_eq!(
        again,
        CommitReply::AlreadyApplied { version: 2 },
        "I2a: the same commit sent again must answer AlreadyApplied with its version"
    );
    let other = send(
        s,
        &sid,
        &a,
        fence,
        id,
        sets(&[("n", "9"), ("x", "9")]),
        false,
    )
    .await;
    assert!(
        matches!(other, CommitReply::AlreadyApplied { version: 2 }),
        "I2a: a commit id names one commit; a resent id applies nothing, got {other:?}"
    );
    let snap = loaded(s, &sid, "after the repeats").await;
    assert_eq!(snap.version, 2, "I2a: a repeat must not make a new version");
    assert_eq!(value(&snap, "n").as_deref(), Some("1"));
    assert_eq!(value(&snap, "x"), None, "I2a: a repeat must apply nothing");
    let next = send(
        s,
        &sid,
        &a,
        fence,
        next_commit_id(),
        sets(&[("n", "2")]),
        false,
    )
    .await;
    assert_eq!(
        next,
        CommitReply::Committed { version: 3 },
        "a new id applies"
    );
}

/// I2a: once a later commit of the tenure applied, a late copy of an earlier one
/// answers `Stale` and applies nothing; the tenure is unharmed.
pub async fn late_older_commit_is_refused(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    create(s, &sid, &[("cart", "[]")]).await;
    let a = owner("a");
    let fence = granted(s, &sid, &a, LONG, "acquire").await.fence;
    let older = next_commit_id();
    let newer = next_commit_id();
    let applied = send(s, &sid, &a, fence, newer, sets(&[("cart", "[x,y]")]), false).await;
    assert!(
        matches!(applied, CommitReply::Committed { .. }),
        "newer commit: {applied:?}"
    );
    let late = send(s, &sid, &a, fence, older, sets(&[("cart", "[x]")]), false).await;
    assert!(
        matches!(late, CommitReply::Stale { .. }),
        "I2a: an older commit arriving after a newer one must be refused, got {late:?}"
    );
    let snap = loaded(s, &sid, "after the late copy").await;
    assert_eq!(
        value(&snap, "cart").as_deref(),
        Some("[x,y]"),
        "I2a: nothing of the late copy"
    );
    let v = committed(
        s,
        &sid,
        &a,
        fence,
        sets(&[("cart", "[x,y,z]")]),
        false,
        "the holder goes on",
    )
    .await;
    assert_eq!(v, snap.version + 1);
}

/// I2a: a releasing commit sent again after it applied answers `AlreadyApplied`,
/// also once the lock is free or held by the next owner, and frees or changes
/// nothing.
pub async fn repeated_release_applies_once(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    create(s, &sid, &[("n", "0")]).await;
    let (a, b) = (owner("a"), owner("b"));
    let fa = granted(s, &sid, &a, LONG, "a acquires").await.fence;
    let id = next_commit_id();
    let first = send(s, &sid, &a, fa, id, sets(&[("n", "1")]), true).await;
    assert!(
        matches!(first, CommitReply::Committed { version: 2 }),
        "release: {first:?}"
    );
    let again = send(s, &sid, &a, fa, id, sets(&[("n", "1")]), true).await;
    assert_eq!(
        again,
        CommitReply::AlreadyApplied { version: 2 },
        "I2a: resent release"
    );
    let fb = granted(s, &sid, &b, LONG, "b acquires after the release")
        .await
        .fence;
    let late = send(s, &sid, &a, fa, id, sets(&[("n", "1")]), true).await;
    assert!(
        matches!(late, CommitReply::AlreadyApplied { .. }),
        "I2a: the last applied commit is recognised while nobody has committed since, got {late:?}"
    );
    let vb = committed(s, &sid, &b, fb, sets(&[("n", "2")]), false, "b commits").await;
    assert_eq!(
        vb, 3,
        "b still holds the session: the repeats freed nothing"
    );
    let after = send(s, &sid, &a, fa, id, sets(&[("n", "1")]), true).await;
    assert!(
        matches!(after, CommitReply::Stale { .. }),
        "after another tenure committed, a's old commit must be Stale, got {after:?}"
    );
    let snap = loaded(s, &sid, "end").await;
    assert_eq!(value(&snap, "n").as_deref(), Some("2"));
}
