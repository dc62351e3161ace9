//! Cases about a session's life: `create` (I6), `delete`, `rotate_id`, unknown ids.

use std::sync::Arc;

use tenure_core::{Delta, OwnerId, SessionId};
use tenure_store::{
    AcquireReply, CommitReply, CreateReply, Fence, OptimisticReply, RenewOutcome, RotateReply,
    Store,
};

use super::util::*;

/// I6: `create` of an existing id answers `Exists` and changes nothing (data,
/// version, lock): not when free, not with a tenure asked for, not while locked.
pub async fn create_never_overwrites(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    create(s, &sid, &[("a", "1")]).await;
    let first = loaded(s, &sid, "after create").await;
    assert_eq!(first.version, 1, "a created session is at version 1");
    let (b, c) = (owner("b"), owner("c"));
    let again = ok(
        s.create(&sid, attrs(&[("a", "2")]), EXPIRY, None).await,
        "create",
    );
    assert_eq!(again, CreateReply::Exists, "I6: create of an existing id");
    let again = ok(
        s.create(&sid, attrs(&[("z", "2")]), EXPIRY, Some((&b, LONG)))
            .await,
        "create",
    );
    assert_eq!(
        again,
        CreateReply::Exists,
        "I6: create with tenure of an existing id"
    );
    assert_eq!(
        loaded(s, &sid, "after Exists").await,
        first,
        "I6: create overwrote the session"
    );
    let f = granted(
        s,
        &sid,
        &c,
        LONG,
        "I6: a failed create must not have granted a lock",
    )
    .await
    .fence;
    committed(s, &sid, &c, f, sets(&[("a", "3")]), false, "commit").await;
    let held = loaded(s, &sid, "after commit").await;
    let again = ok(
        s.create(&sid, attrs(&[]), EXPIRY, Some((&b, LONG))).await,
        "create",
    );
    assert_eq!(again, CreateReply::Exists, "I6: create of a locked id");
    assert_eq!(
        loaded(s, &sid, "after Exists").await,
        held,
        "I6: create overwrote the session"
    );
    let outcome = renew1(s, &c, LONG, &sid, f, true).await;
    assert_eq!(
        outcome,
        RenewOutcome::Renewed { recall: false },
        "I6: create took the lock"
    );
}

/// `create` with a tenure grants the lock in the same step: others queue, the
/// creator commits with that fence and re-acquires with the same fence.
pub async fn create_with_tenure_grants_lock(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    let (a, b) = (owner("a"), owner("b"));
    let f = create_held(s, &sid, &[("a", "0")], EXPIRY, &a, LONG).await;
    assert_eq!(
        queued(
            s,
            &sid,
            &b,
            LONG,
            "acquire of a session created with tenure"
        )
        .await,
        1
    );
    let v = committed(
        s,
        &sid,
        &a,
        f,
        sets(&[("a", "1")]),
        false,
        "creator commits",
    )
    .await;
    assert_eq!(v, 2);
    let grant = granted(s, &sid, &a, LONG, "creator acquires").await;
    assert_eq!(
        grant.fence, f,
        "the creator holds the lock with the fence from create"
    );
    assert_eq!(
        renew1(s, &a, LONG, &sid, f, true).await,
        RenewOutcome::Renewed { recall: true }
    );
    release(s, &sid, &a, f).await;
    let grant = granted(s, &sid, &b, LONG, "waiter after the creator released").await;
    assert!(grant.fence > f, "I1: fence {} after {f}", grant.fence);
    assert_eq!(value(&grant.snapshot, "a").as_deref(), Some("1"));
    let empty = super::util::sid();
    create_held(s, &empty, &[], EXPIRY, &a, LONG).await;
    let snap = loaded(s, &empty, "session created without attributes").await;
    assert_eq!((snap.version, snap.attrs.len()), (1, 0));
}

/// `delete` removes data, lock and queue: load finds nothing, the holder is stale,
/// waiters find it gone, a second delete answers false, and the id can be created
/// anew with fresh data and a fence greater than any before (I1).
pub async fn delete_removes_data_and_lock(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    let (a, b) = (owner("a"), owner("b"));
    let f = create_held(s, &sid, &[("a", "1")], EXPIRY, &a, LONG).await;
    queued(s, &sid, &b, LONG, "waiter").await;
    assert!(
        ok(s.delete(&sid).await, "delete"),
        "delete of an existing session must answer true"
    );
    assert!(load(s, &sid).await.is_none(), "load after delete");
    stale(
        s,
        &sid,
        &a,
        f,
        sets(&[("a", "2")]),
        true,
        "holder after delete",
    )
    .await;
    assert_eq!(
        renew1(s, &a, LONG, &sid, f, true).await,
        RenewOutcome::Lost,
        "renew after delete"
    );
    assert_eq!(
        acquire(s, &sid, &b, LONG).await,
        AcquireReply::NotFound,
        "waiter after delete"
    );
    assert_eq!(
        optimistic(s, &sid, sets(&[("a", "2")])).await,
        OptimisticReply::NotFound
    );
    assert!(
        load(s, &sid).await.is_none(),
        "a call after delete re-created the session"
    );
    assert!(
        !ok(s.delete(&sid).await, "delete"),
        "a second delete must answer false"
    );
    create(s, &sid, &[("n", "1")]).await;
    let snap = loaded(s, &sid, "re-created").await;
    assert_eq!(snap.version, 1, "a re-created session starts at version 1");
    assert!(
        snap.value("a").is_none(),
        "a re-created session kept deleted data"
    );
    stale(
        s,
        &sid,
        &a,
        f,
        sets(&[("a", "2")]),
        false,
        "old holder on the re-created session",
    )
    .await;
    let grant = granted(s, &sid, &b, LONG, "acquire of the re-created session").await;
    assert!(
        grant.fence > f,
        "I1: fence {} on a re-created id after {f}",
        grant.fence
    );
}

/// `rotate_id` moves data, version and lock to the new id with a greater fence and
/// frees the old id; it answers `Stale` (wrong owner, wrong fence, locked without a
/// holder), `Exists` (new id taken) and `NotFound`, changing nothing in those cases.
pub async fn rotate_id_moves_session(store: Arc<dyn Store>) {
    let s = &*store;
    let (old, new, taken) = (sid(), sid(), sid());
    let (a, b, c) = (owner("a"), owner("b"), owner("c"));
    let f1 = create_held(s, &old, &[("a", "1")], EXPIRY, &a, LONG).await;
    assert_eq!(
        committed(s, &old, &a, f1, sets(&[("a", "2")]), false, "commit").await,
        2
    );
    queued(s, &old, &b, LONG, "waiter on the old id").await;
    assert_eq!(
        rotate(s, &old, &new, Some((&b, f1))).await,
        RotateReply::Stale,
        "rotate by a non-holder"
    );
    let wrong = Fence(f1.0 + 1);
    assert_eq!(
        rotate(s, &old, &new, Some((&a, wrong))).await,
        RotateReply::Stale,
        "rotate with a wrong fence"
    );
    assert_eq!(
        rotate(s, &old, &new, None).await,
        RotateReply::Stale,
        "rotate of a locked id without holder"
    );
    create(s, &taken, &[("t", "1")]).await;
    assert_eq!(
        rotate(s, &old, &taken, Some((&a, f1))).await,
        RotateReply::Exists,
        "rotate onto a taken id"
    );
    assert!(
        load(s, &new).await.is_none(),
        "a refused rotation created the new id"
    );
    assert_eq!(
        loaded(s, &taken, "taken id").await.version,
        1,
        "a refused rotation changed the taken id"
    );
    let snap = loaded(s, &old, "old id after refused rotations").await;
    assert_eq!(
        (snap.version, value(&snap, "a").as_deref()),
        (2, Some("2")),
        "a refused rotation changed data"
    );
    committed(
        s,
        &old,
        &a,
        f1,
        Delta::default(),
        false,
        "holder after refused rotations",
    )
    .await;

    let f2 = match rotate(s, &old, &new, Some((&a, f1))).await {
        RotateReply::Rotated { fence: Some(f2) } => f2,
        other => {
            panic!("rotate by the holder must answer Rotated {{ fence: Some(_) }}, got {other:?}")
        }
    };
    assert!(
        f2 > f1,
        "I1: rotation must grant a greater fence: {f2} after {f1}"
    );
    assert!(
        load(s, &old).await.is_none(),
        "the old id must be free after rotation"
    );
    assert_eq!(
        acquire(s, &old, &b, LONG).await,
        AcquireReply::NotFound,
        "waiter on the old id"
    );
    let snap = loaded(s, &new, "new id").await;
    assert_eq!(
        (snap.version, value(&snap, "a").as_deref()),
        (2, Some("2")),
        "rotation must keep data and version"
    );
    stale(
        s,
        &new,
        &a,
        f1,
        sets(&[("a", "x")]),
        false,
        "old fence on the new id",
    )
    .await;
    assert_eq!(
        renew1(s, &a, LONG, &new, f2, true).await,
        RenewOutcome::Renewed { recall: false }
    );
    assert_eq!(
        committed(
            s,
            &new,
            &a,
            f2,
            sets(&[("a", "3")]),
            false,
            "commit on the new id"
        )
        .await,
        3
    );
    queued(s, &new, &c, LONG, "the lock must move to the new id").await;

    create(s, &old, &[("z", "1")]).await;
    let f3 = granted(s, &old, &c, LONG, "the old id created anew")
        .await
        .fence;
    assert!(f3 > f2, "I1: fence {f3} on a rotated-away id after {f2}");
    let (free, moved) = (sid(), sid());
    create(s, &free, &[("f", "1")]).await;
    let reply = rotate(s, &free, &moved, None).await;
    assert_eq!(
        reply,
        RotateReply::Rotated { fence: None },
        "rotation of an unlocked id"
    );
    assert_eq!(
        value(&loaded(s, &moved, "moved").await, "f").as_deref(),
        Some("1")
    );
    let (never, other) = (sid(), sid());
    assert_eq!(rotate(s, &never, &other, None).await, RotateReply::NotFound);
}

async fn rotate(
    s: &dyn Store,
    old: &SessionId,
    new: &SessionId,
    holder: Option<(&OwnerId, Fence)>,
) -> RotateReply {
    ok(s.rotate_id(old, new, holder).await, "rotate_id")
}

/// Every call on an id never created treats it as unknown and creates nothing.
pub async fn unknown_session(store: Arc<dyn Store>) {
    let s = &*store;
    let (sid, other) = (sid(), sid());
    let a = owner("a");
    assert_eq!(
        acquire(s, &sid, &a, LONG).await,
        AcquireReply::NotFound,
        "acquire"
    );
    assert!(load(s, &sid).await.is_none(), "load");
    let d = sets(&[("a", "1")]);
    let reply = commit(s, &sid, &a, Fence(1), d.clone(), true).await;
    assert_eq!(reply, CommitReply::Stale { delta: d.clone() }, "commit");
    assert_eq!(
        renew1(s, &a, LONG, &sid, Fence(1), true).await,
        RenewOutcome::Lost,
        "renew"
    );
    assert_eq!(
        optimistic(s, &sid, d).await,
        OptimisticReply::NotFound,
        "commit_optimistic"
    );
    assert!(!ok(s.delete(&sid).await, "delete"), "delete");
    assert_eq!(rotate(s, &sid, &other, None).await, RotateReply::NotFound);
    assert!(
        load(s, &sid).await.is_none(),
        "a call on an unknown id created it"
    );
    assert!(
        load(s, &other).await.is_none(),
        "rotate of an unknown id created the new one"
    );
}
