//! Cases about session events (issue 15): a store that keeps a log reports created,
//! principal set and cleared, rotated, deleted and expired (also for a session no call
//! touched after its last write), once each and in order per session; a consumer that
//! reads part, stops, and resumes from its last id gets the rest without a gap or a
//! repeat.
//!
//! A store without a log answers [`StoreError::Unsupported`]; the case then says so
//! and passes.

use std::sync::Arc;
use std::time::Duration;

use tenure_core::{Bytes, Change, Delta, Expect, SessionId, PRINCIPAL_ATTR};
use tenure_store::{EventId, EventKind, Expiry, SessionEvent, Store, StoreError};

use super::util::*;
use crate::Poll;

/// Every event of the log after `after` that names one of `ids` (also as a rotation's
/// new id), read in batches of `batch`; and the position reached.
async fn read_after(
    store: &dyn Store,
    after: Option<EventId>,
    batch: usize,
    ids: &[&SessionId],
) -> Option<(Vec<SessionEvent>, Option<EventId>)> {
    let mut position = after;
    let mut out = Vec::new();
    loop {
        let read = match store.events(position, batch).await {
            Err(StoreError::Unsupported(what)) => {
                eprintln!("skipped: the store does not support {what}");
                return None;
            }
            other => ok(other, "events"),
        };
        assert!(
            !read.missed,
            "a consumer keeping up was told it missed events"
        );
        let Some(last) = read.events.last() else {
            return Some((out, position));
        };
        let last = last.id;
        if let Some(p) = position {
            assert!(
                read.events.iter().all(|e| e.id > p),
                "an event at or before the position"
            );
        }
        assert!(
            read.events.windows(2).all(|w| w[0].id < w[1].id),
            "events out of order"
        );
        position = Some(last);
        out.extend(
            read.events
                .into_iter()
                .filter(|e| ids.contains(&&e.session)),
        );
    }
}

fn kinds(events: &[SessionEvent], sid: &SessionId) -> Vec<EventKind> {
    events
        .iter()
        .filter(|e| &e.session == sid)
        .map(|e| e.kind.clone())
        .collect()
}

/// The lifecycle's events arrive once each, in order per session, and a consumer
/// resumed from its position misses none.
pub async fn events_follow_the_lifecycle(store: Arc<dyn Store>) {
    let s = &*store;
    // Where the log ends now: the case reads only what it causes.
    let Some((_, start)) = read_after(s, None, 10_000, &[]).await else {
        return;
    };
    let p = format!("user-{}", sid().as_str());
    let a = owner("a");
    let (s1, s2, s3) = (sid(), sid(), sid());

    // s1: created with the principal, rotated to s2, cleared, set again, deleted.
    let first = vec![(PRINCIPAL_ATTR.to_string(), Bytes::from(p.clone()))];
    ok(s.create(&s1, first, EXPIRY, None).await, "create");
    ok(s.rotate_id(&s1, &s2, None).await, "rotate_id");
    let f = granted(s, &s2, &a, LONG, "acquire").await.fence;
    let mut clear = Delta::default();
    clear.push(PRINCIPAL_ATTR, Change::Remove, Expect::Any);
    committed(s, &s2, &a, f, clear, false, "clear").await;
    let mut set = Delta::default();
    set.set(PRINCIPAL_ATTR, Bytes::from(p.clone()));
    set.set("x", Bytes::from_static(b"1"));
    committed(s, &s2, &a, f, set, true, "set").await;
    // A commit that leaves the principal alone reports nothing.
    let f = granted(s, &s2, &a, LONG, "acquire").await.fence;
    committed(s, &s2, &a, f, sets(&[("y", "2")]), true, "plain").await;

    // The consumer stops here, and resumes later from its position.
    let (head, position) = read_after(s, start, 2, &[&s1, &s2, &s3])
        .await
        .unwrap_or_default();

    assert!(ok(s.delete(&s2).await, "delete"));
    // s3: created without a principal, then left alone until it expires.
    let idle = Duration::from_millis(400);
    create_with(s, &s3, &[("z", "1")], Expiry::idle(idle)).await;

    let poll = Poll::new(idle + SLACK * 4, "the untouched session's expiry event");
    let tail = loop {
        let (tail, _) = read_after(s, position, 3, &[&s1, &s2, &s3])
            .await
            .unwrap_or_default();
        if tail
            .iter()
            .any(|e| e.session == s3 && e.kind == EventKind::Expired)
        {
            break tail;
        }
        poll.tick().await;
    };
    let mut all = head.clone();
    all.extend(tail);
    let ids: Vec<EventId> = all.iter().map(|e| e.id).collect();
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(ids, unique, "the resumed consumer got an event twice");

    let principal = EventKind::PrincipalSet {
        principal: p.clone(),
    };
    assert_eq!(
        kinds(&all, &s1),
        vec![
            EventKind::Created,
            principal.clone(),
            EventKind::Rotated { to: s2.clone() }
        ],
        "events of the session before its rotation"
    );
    assert_eq!(
        kinds(&all, &s2),
        vec![EventKind::PrincipalCleared, principal, EventKind::Deleted],
        "events of the session after its rotation"
    );
    assert_eq!(
        kinds(&all, &s3),
        vec![EventKind::Created, EventKind::Expired],
        "a session that expired untouched"
    );
    assert!(
        head.len() >= 5,
        "the first consumer read the events before it stopped: {head:?}"
    );
}
