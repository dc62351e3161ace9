//! Cases about the principal index (issue 15): `sessions_of` lists exactly the live
//! sessions of a principal, whatever happened to them: created with it, given it by
//! a fenced or an optimistic commit, rotated, given another principal or none,
//! deleted, expired, written whole without it, and their ids used again.
//!
//! A store without an index answers [`StoreError::Unsupported`]; the cases then say so
//! and pass, as there is nothing to check.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tenure_core::{Bytes, Change, Delta, Expect, SessionId, PRINCIPAL_ATTR};
use tenure_store::{
    CommitReply, Expiry, OptimisticReply, PrincipalSession, RotateReply, Store, StoreError,
};
use tokio::time::Instant;

use super::util::*;
use crate::Poll;

/// The label attribute the cases name.
const LABEL: &str = "device";

/// A principal no other case uses, with the characters a key layout could trip on.
fn principal(tag: &str) -> String {
    format!("user {{{tag}}}: ünï/*?[]\\ {}", sid().as_str())
}

fn with_principal(p: &str) -> Delta {
    let mut delta = Delta::default();
    delta.set(PRINCIPAL_ATTR, Bytes::from(p.to_string()));
    delta
}

/// The sessions listed for `p`, by id, or `None` if the store has no index.
async fn listed(store: &dyn Store, p: &str) -> Option<BTreeMap<SessionId, PrincipalSession>> {
    match store.sessions_of(p, Some(LABEL)).await {
        Err(StoreError::Unsupported(what)) => {
            eprintln!("skipped: the store does not support {what}");
            None
        }
        other => Some(
            ok(other, "sessions_of")
                .into_iter()
                .map(|s| (s.id.clone(), s))
                .collect(),
        ),
    }
}

async fn assert_listed(store: &dyn Store, p: &str, want: &[&SessionId], ctx: &str) {
    let got = listed(store, p).await.unwrap_or_default();
    let mut want: Vec<&SessionId> = want.to_vec();
    want.sort();
    let got_ids: Vec<&SessionId> = got.keys().collect();
    assert_eq!(
        got_ids, want,
        "sessions_of after {ctx}: must list exactly the live sessions of the principal"
    );
}

/// The index follows every step of a session's life under one principal.
pub async fn principal_index_follows_lifecycle(store: Arc<dyn Store>) {
    let s = &*store;
    let p = principal("a");
    let q = principal("b");
    if listed(s, &p).await.is_none() {
        return;
    }
    assert_listed(s, &p, &[], "nothing was created").await;
    let a = owner("a");

    // Created with the principal.
    let started = Instant::now();
    let s1 = sid();
    let first = vec![(PRINCIPAL_ATTR.to_string(), Bytes::from(p.clone()))];
    ok(s.create(&s1, first, EXPIRY, None).await, "create");
    assert_listed(s, &p, &[&s1], "create with the principal").await;

    // Given it by a fenced commit, with a label.
    let s2 = sid();
    let f2 = create_held(s, &s2, &[("x", "1")], EXPIRY, &a, LONG).await;
    assert_listed(s, &p, &[&s1], "create without a principal").await;
    let mut delta = with_principal(&p);
    delta.set(LABEL, Bytes::from_static(b"phone"));
    committed(s, &s2, &a, f2, delta, false, "set principal").await;
    let got = listed(s, &p).await.unwrap_or_default();
    assert_eq!(
        got.len(),
        2,
        "a fenced commit that sets the principal indexes it"
    );
    let entry = &got[&s2];
    assert_eq!(
        entry.label.as_deref(),
        Some(&b"phone"[..]),
        "the label attribute's bytes"
    );
    assert_eq!(got[&s1].label, None, "no label where the session has none");
    let bound = started.elapsed() + TOL;
    assert!(
        entry.age <= bound && entry.idle_for <= bound,
        "age and idle time by the store's clock: {entry:?}"
    );

    // Given it by an optimistic commit.
    let s3 = sid();
    create(s, &s3, &[]).await;
    match optimistic(s, &s3, with_principal(&p)).await {
        OptimisticReply::Committed { .. } => {}
        other => panic!("optimistic commit of the principal: {other:?}"),
    }
    assert_listed(s, &p, &[&s1, &s2, &s3], "an optimistic commit sets it").await;

    // Rotated, unlocked and held: the new ids are listed, the old ones not.
    let s1b = sid();
    assert!(matches!(
        ok(s.rotate_id(&s1, &s1b, None).await, "rotate_id"),
        RotateReply::Rotated { .. }
    ));
    let s2b = sid();
    let f2b = match ok(s.rotate_id(&s2, &s2b, Some((&a, f2))).await, "rotate_id") {
        RotateReply::Rotated { fence: Some(f) } => f,
        other => panic!("held rotation: {other:?}"),
    };
    assert_listed(s, &p, &[&s1b, &s2b, &s3], "rotate_id").await;

    // Another principal, then none.
    optimistic(s, &s3, with_principal(&q)).await;
    assert_listed(s, &p, &[&s1b, &s2b], "the principal changed").await;
    assert_listed(s, &q, &[&s3], "the principal changed (new one)").await;
    let mut clear = Delta::default();
    clear.push(PRINCIPAL_ATTR, Change::Remove, Expect::Any);
    optimistic(s, &s3, clear).await;
    assert_listed(s, &q, &[], "the principal removed").await;

    // Deleted.
    assert!(ok(s.delete(&s1b).await, "delete"));
    assert_listed(s, &p, &[&s2b], "delete").await;

    // Written whole without it.
    let mut whole = sets(&[("y", "2")]);
    whole.replace_all = true;
    committed(s, &s2b, &a, f2b, whole, false, "replace_all").await;
    assert_listed(s, &p, &[], "a replace_all commit without the principal").await;

    // Re-created under the principal, on an id that had it.
    let first = vec![(PRINCIPAL_ATTR.to_string(), Bytes::from(p.clone()))];
    ok(s.create(&s1b, first, EXPIRY, None).await, "create");
    assert_listed(s, &p, &[&s1b], "re-create on a deleted id").await;

    // Ended by a commit that shortens its absolute timeout below its age.
    let s5 = sid();
    let f5 = create_held(s, &s5, &[], EXPIRY, &a, LONG).await;
    committed(s, &s5, &a, f5, with_principal(&p), false, "set principal").await;
    assert_listed(s, &p, &[&s1b, &s5], "another session").await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let end = Delta {
        expiry: Some(Expiry {
            idle: None,
            absolute: Some(Duration::from_millis(1)),
        }),
        ..Delta::default()
    };
    match commit(s, &s5, &a, f5, end, false).await {
        CommitReply::Committed { .. } => {}
        other => panic!("a commit ending the session answers Committed: {other:?}"),
    }
    assert_listed(s, &p, &[&s1b], "a commit that ended the session").await;
}

/// An expired session is never listed, listing does not keep it alive, and its id
/// used again without the principal is not listed either.
pub async fn principal_index_skips_expired(store: Arc<dyn Store>) {
    let s = &*store;
    let p = principal("e");
    if listed(s, &p).await.is_none() {
        return;
    }
    let idle = Duration::from_millis(500);
    let short = Expiry {
        idle: Some(idle),
        absolute: None,
    };
    let keep = sid();
    let first = vec![(PRINCIPAL_ATTR.to_string(), Bytes::from(p.clone()))];
    ok(s.create(&keep, first.clone(), EXPIRY, None).await, "create");
    let gone = sid();
    let sent = Instant::now();
    ok(s.create(&gone, first, short, None).await, "create");
    let poll = Poll::new(
        idle + SLACK,
        "a session listed under its principal to expire",
    );
    loop {
        let asked = Instant::now();
        let got = listed(s, &p).await.unwrap_or_default();
        assert!(
            got.contains_key(&keep),
            "a live session left out of the list"
        );
        if !got.contains_key(&gone) {
            not_before(sent, Instant::now(), idle, "sessions_of: expiry");
            break;
        }
        assert!(
            asked < sent + idle + idle / 2 + TOL,
            "an expired session was listed (or listing kept it alive)"
        );
        poll.tick().await;
    }
    create(s, &gone, &[("fresh", "1")]).await;
    assert_listed(s, &p, &[&keep], "the expired id created again without it").await;
}
