//! Cases about finding a session's holder (`locate`) and how to reach it
//! (`advertise`): the read that forwarding is built on. It must tell the truth about
//! the lock, and never move the session (no queueing, no recall).

use std::sync::Arc;
use std::time::Duration;

use tenure_store::{Liveness, Location, RenewOutcome, Renewal, Store, MAX_ADDRESS};
use tokio::time::Instant;

use super::util::*;
use crate::Poll;

/// A liveness TTL short enough to run out within a case.
const TTL: Duration = Duration::from_millis(300);

async fn locate(store: &dyn Store, sid: &tenure_core::SessionId) -> Location {
    ok(store.locate(sid).await, "locate")
}

/// `locate` follows the lock: `NotFound` for no session, `Free` before a grant and
/// after a release, `Held` with the holder and the address it advertised while it
/// holds it (none if it advertised nothing); a later `advertise` replaces the address.
/// Locating many times neither queues anyone nor sets `recall`.
pub async fn locate_follows_the_lock(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    assert_eq!(locate(s, &sid).await, Location::NotFound, "no such session");
    create(s, &sid, &[("n", "1")]).await;
    assert_eq!(
        locate(s, &sid).await,
        Location::Free,
        "created without tenure"
    );
    let (a, b) = (owner("a"), owner("b"));
    ok(s.keep_alive(&a, LONG, true).await, "keep_alive");
    let fa = granted(s, &sid, &a, LONG, "a acquires").await.fence;
    assert_eq!(
        locate(s, &sid).await,
        Location::Held {
            holder: a.clone(),
            address: None
        },
        "held, nothing advertised"
    );
    assert_eq!(
        ok(s.advertise(&a, "10.0.0.1:4001").await, "advertise"),
        Liveness::Alive
    );
    assert_eq!(
        ok(s.advertise(&a, "10.0.0.1:4002").await, "advertise"),
        Liveness::Alive
    );
    for _ in 0..3 {
        assert_eq!(
            locate(s, &sid).await,
            Location::Held {
                holder: a.clone(),
                address: Some("10.0.0.1:4002".into())
            },
            "held, with the last address advertised"
        );
    }
    let renewed = ok(
        s.renew(
            &a,
            LONG,
            &[Renewal {
                sid: sid.clone(),
                fence: fa,
                touch: false,
            }],
        )
        .await,
        "renew",
    );
    assert_eq!(
        renewed,
        vec![RenewOutcome::Renewed { recall: false }],
        "locate must not queue the caller or set recall"
    );
    release(s, &sid, &a, fa).await;
    assert_eq!(locate(s, &sid).await, Location::Free, "released");
    // Nobody queued behind the locates: b is granted at once.
    granted(s, &sid, &b, LONG, "b acquires after a released").await;
    assert!(
        matches!(locate(s, &sid).await, Location::Held { holder, .. } if holder == b),
        "held by b now"
    );
    let too_long = "x".repeat(MAX_ADDRESS + 1);
    assert!(
        s.advertise(&a, &too_long).await.is_err(),
        "an address over MAX_ADDRESS is refused"
    );
}

/// A lock whose lease ran out is `Free`; so is one whose registered holder is dead
/// (I15), long before its lease would run out. A dead owner cannot advertise.
pub async fn locate_skips_dead_and_expired_holders(store: Arc<dyn Store>) {
    let s = &*store;
    let (expiring, dead) = (sid(), sid());
    create(s, &expiring, &[("n", "1")]).await;
    create(s, &dead, &[("n", "1")]).await;
    let (a, b) = (owner("a"), owner("b"));
    let short = Duration::from_millis(300);
    let sent = Instant::now();
    granted(s, &expiring, &a, short, "a acquires with a short lease").await;
    ok(s.keep_alive(&b, TTL, true).await, "keep_alive");
    ok(s.advertise(&b, "b:1").await, "advertise");
    granted(s, &dead, &b, LONG, "b acquires with a long lease").await;
    let last_keep_alive = Instant::now();
    let poll = Poll::new(short.max(TTL) + SLACK, "locate answers Free");
    loop {
        let (e, d) = (locate(s, &expiring).await, locate(s, &dead).await);
        if e == Location::Free && d == Location::Free {
            break;
        }
        if e == Location::Free {
            assert!(
                sent.elapsed() >= short - TOL,
                "Free after {:?}, before the lease of {short:?} ran out",
                sent.elapsed()
            );
        }
        if d == Location::Free {
            assert!(
                last_keep_alive.elapsed() >= TTL - TOL,
                "I15: Free before the holder's TTL ran out"
            );
        }
        poll.tick().await;
    }
    assert_eq!(
        ok(s.advertise(&b, "b:2").await, "advertise"),
        Liveness::Lapsed,
        "a dead owner cannot advertise"
    );
}
