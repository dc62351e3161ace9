//! Cases about conditional takeover (`acquire_since`): a grant that carries only
//! what the caller's copy lacks must lock exactly as `acquire` does, carry exactly
//! what changed, and, merged with the copy, be the whole session. A copy that names
//! wrong versions or names the session never had must never make the store leave out
//! something the caller lacks: the safe answer is to send it.
//!
//! A store may always answer in full (`Granted`); then the snapshot must be whole.

use std::collections::BTreeSet;
use std::sync::Arc;

use tenure_core::{AttrEntry, Bytes, Delta, OwnerId, SessionId, Snapshot};
use tenure_store::{AcquireReply, Fence, Grant, Known, Store};

use super::util::*;

/// A value larger than the rest and not text, as the filler of a real session is.
fn filler() -> Bytes {
    (0..20_000u32).map(|i| (i % 251) as u8).collect()
}

async fn acquire_since(
    store: &dyn Store,
    sid: &SessionId,
    owner: &OwnerId,
    known: &Known,
) -> AcquireReply {
    ok(
        store.acquire_since(sid, owner, LONG, LONG, known).await,
        "acquire_since",
    )
}

/// Takes the session with `copy` named and checks the grant against the contract:
/// a partial one carries exactly the attributes the copy lacks at their current
/// version and exactly the names the session no longer has; merged with the copy
/// (or, if full, as it is) it equals what a full grant to the holder carries now.
/// Answers the fence and the whole snapshot.
async fn take_with(
    store: &dyn Store,
    sid: &SessionId,
    owner: &OwnerId,
    copy: &Snapshot,
    ctx: &str,
) -> (Fence, Snapshot) {
    let known = Known::of(copy);
    let (fence, merged, partial) = match acquire_since(store, sid, owner, &known).await {
        AcquireReply::Granted(grant) => (grant.fence, grant.snapshot, None),
        AcquireReply::Partial(partial) => {
            let sent = partial.grant.snapshot.clone();
            let removed = partial.removed.clone();
            let grant = partial.merge(copy.clone()).unwrap_or_else(|e| {
                panic!("{ctx}: the partial grant must merge with the copy: {e}")
            });
            (grant.fence, grant.snapshot, Some((sent, removed)))
        }
        other => panic!("{ctx}: acquire_since of a free session must grant it, got {other:?}"),
    };
    // The holder asking again with `acquire` gets the whole session, same fence.
    let full = granted(store, sid, owner, LONG, ctx).await;
    assert_eq!(
        full.fence, fence,
        "{ctx}: the holder's acquire must keep the fence acquire_since granted"
    );
    assert_eq!(
        merged, full.snapshot,
        "{ctx}: the grant (merged with the copy it named) must be the whole session"
    );
    if let Some((sent, removed)) = partial {
        assert_eq!(
            sent.version, full.snapshot.version,
            "{ctx}: a partial grant carries the session's version"
        );
        // A copy claiming a version above the session's is sent everything.
        let from_elsewhere = known.version > full.snapshot.version;
        let want: BTreeSet<&String> = full
            .snapshot
            .attrs
            .iter()
            .filter(|(name, e)| from_elsewhere || !known.has(name, e.version))
            .map(|(name, _)| name)
            .collect();
        let got: BTreeSet<&String> = sent.attrs.keys().collect();
        assert_eq!(
            got, want,
            "{ctx}: a partial grant carries exactly the attributes the copy lacks at their current version"
        );
        for (name, e) in &sent.attrs {
            assert_eq!(
                Some(e),
                full.snapshot.attrs.get(name),
                "{ctx}: attribute {name:?} must be sent with its current value and version"
            );
        }
        let want: BTreeSet<&String> = known
            .attrs
            .keys()
            .filter(|name| !full.snapshot.attrs.contains_key(*name))
            .collect();
        let got: BTreeSet<&String> = removed.iter().collect();
        assert_eq!(
            got, want,
            "{ctx}: a partial grant names exactly the copy's attributes the session no longer has"
        );
        assert_eq!(removed.len(), got.len(), "{ctx}: removed names repeat");
    }
    (fence, merged)
}

fn entry(value: &str, version: u64) -> AttrEntry {
    AttrEntry {
        value: Bytes::from(value.to_string()),
        version,
    }
}

/// A conditional acquire carries exactly the attributes changed since the copy it
/// names (changed, added) and the names removed since; merged with the copy it is
/// the whole session. With nothing changed it carries nothing, and a later change
/// by another owner is carried in turn.
pub async fn acquire_since_sends_only_changes(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    let (a, b) = (owner("a"), owner("b"));
    let created = ok(
        s.create(
            &sid,
            vec![
                ("big".into(), filler()),
                ("note".into(), Bytes::from_static(b"1")),
                ("old".into(), Bytes::from_static(b"x")),
            ],
            EXPIRY,
            None,
        )
        .await,
        "create",
    );
    assert!(
        matches!(created, tenure_store::CreateReply::Created { .. }),
        "create: {created:?}"
    );
    let Grant {
        fence: fa,
        snapshot: copy_a,
        ..
    } = granted(s, &sid, &a, LONG, "a takes the new session").await;
    let mut delta = sets(&[("note", "2"), ("new", "n")]);
    delta.remove("old");
    committed(s, &sid, &a, fa, delta, true, "a changes and releases").await;

    let (fb, copy_b) = take_with(s, &sid, &b, &copy_a, "b names a's first copy").await;
    assert!(fb > fa, "I1: acquire_since takes a new fence");
    assert_eq!(value(&copy_b, "note").as_deref(), Some("2"));
    assert_eq!(value(&copy_b, "old"), None);
    assert_eq!(copy_b.value("big"), Some(&filler()));
    release(s, &sid, &b, fb).await;

    // Nothing changed since b's copy: a grant to b carries nothing.
    let (fb2, same) = take_with(s, &sid, &b, &copy_b, "b names a current copy").await;
    assert_eq!(same, copy_b);
    committed(
        s,
        &sid,
        &b,
        fb2,
        sets(&[("note", "3")]),
        true,
        "b changes the note",
    )
    .await;
    // a's copy is two commits old now: still only the changes since it.
    let (_, latest) = take_with(s, &sid, &a, &copy_a, "a names its first copy again").await;
    assert_eq!(value(&latest, "note").as_deref(), Some("3"));
}

/// Copies that are wrong must never make the store leave something out: an
/// attribute named at a higher or lower version than its own, or at version 0, is
/// sent; names the session never had are named removed; a copy claiming a session
/// version above the store's gets every attribute; an empty copy gets everything. In
/// each case the copy holds garbage where it is wrong, so an omission shows in the
/// merged result.
pub async fn acquire_since_never_omits_what_the_caller_lacks(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    let h = owner("h");
    create(s, &sid, &[("k", "v1"), ("m", "m1")]).await;
    let f = granted(s, &sid, &h, LONG, "h takes it").await.fence;
    committed(s, &sid, &h, f, sets(&[("k", "v2")]), true, "h writes k").await;
    let now = loaded(s, &sid, "after the write").await;
    let (kv, mv) = (now.attrs["k"].version, now.attrs["m"].version);
    let version = now.version;
    let t = owner("t");
    let copies: Vec<(&str, Snapshot)> = vec![
        (
            "k named at a higher version",
            Snapshot {
                version,
                attrs: [
                    ("k".into(), entry("bogus", kv + 7)),
                    ("m".into(), entry("m1", mv)),
                ]
                .into(),
            },
        ),
        (
            "k named at an older version",
            Snapshot {
                version,
                attrs: [
                    ("k".into(), entry("v1", kv - 1)),
                    ("m".into(), entry("m1", mv)),
                ]
                .into(),
            },
        ),
        (
            "k named at version 0",
            Snapshot {
                version,
                attrs: [
                    ("k".into(), entry("bogus", 0)),
                    ("m".into(), entry("m1", mv)),
                ]
                .into(),
            },
        ),
        (
            "names the session never had",
            Snapshot {
                version,
                attrs: [
                    ("k".into(), entry("v2", kv)),
                    ("ghost".into(), entry("boo", kv)),
                    ("m".into(), entry("m1", mv)),
                ]
                .into(),
            },
        ),
        (
            "a copy from a version the session never reached",
            Snapshot {
                version: version + 100,
                attrs: [
                    ("k".into(), entry("bogus", kv)),
                    ("m".into(), entry("bogus", mv)),
                ]
                .into(),
            },
        ),
        ("an empty copy", Snapshot::default()),
    ];
    for (ctx, copy) in copies {
        let (f, merged) = take_with(s, &sid, &t, &copy, ctx).await;
        assert_eq!(merged, now, "{ctx}: the merged grant must be the session");
        release(s, &sid, &t, f).await;
    }
}

/// `acquire_since` locks, queues and fences exactly as `acquire` does: `NotFound`
/// for no session, `Queued` behind a holder (and a recall), the holder's own call
/// keeps its fence, and the head waiter gets the lock once it is released.
pub async fn acquire_since_locks_like_acquire(store: Arc<dyn Store>) {
    let s = &*store;
    let (a, b) = (owner("a"), owner("b"));
    let missing = sid();
    let nothing = Known::default();
    assert_eq!(
        acquire_since(s, &missing, &a, &nothing).await,
        AcquireReply::NotFound,
        "acquire_since of no session"
    );
    let sid = sid();
    create(s, &sid, &[("n", "1")]).await;
    let Grant {
        fence: fa,
        snapshot: copy,
        ..
    } = granted(s, &sid, &a, LONG, "a takes it").await;
    let known = Known::of(&copy);
    match acquire_since(s, &sid, &b, &known).await {
        AcquireReply::Queued { position: 1, .. } => {}
        other => panic!("I3: acquire_since behind a holder must queue, got {other:?}"),
    }
    let again = match acquire_since(s, &sid, &a, &known).await {
        AcquireReply::Granted(g) => g.fence,
        AcquireReply::Partial(p) => p.grant.fence,
        other => panic!("the holder's acquire_since must grant, got {other:?}"),
    };
    assert_eq!(again, fa, "the holder's acquire_since keeps its fence");
    assert_eq!(
        renew1(s, &a, LONG, &sid, fa, false).await,
        tenure_store::RenewOutcome::Renewed { recall: true },
        "I4: a waiter queued by acquire_since must be recalled for"
    );
    let mut delta = Delta::default();
    delta.set("n", Bytes::from_static(b"2"));
    committed(s, &sid, &a, fa, delta, true, "a releases").await;
    let (fb, snap) = take_with(s, &sid, &b, &copy, "b, the head waiter").await;
    assert!(fb > fa, "I1: the next grant takes a greater fence");
    assert_eq!(value(&snap, "n").as_deref(), Some("2"));
}
