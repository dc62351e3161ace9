//! Cases about expiry (I5): idle (sliding) and absolute.
//!
//! Every call that may count as an access would keep an idle session alive, so idle
//! expiry without a lock is checked by sleeping past the deadline and then calling:
//! the one place the suite sleeps for an assertion. Everything else polls, and a
//! wrong answer is judged against the times the calls were sent and answered.

use std::sync::Arc;
use std::time::Duration;

use tenure_store::{AcquireReply, Expiry, RenewOutcome, RotateReply, Store};
use tokio::time::Instant;

use super::util::*;
use crate::Poll;

const IDLE: Duration = Duration::from_millis(500);
const ABSOLUTE: Duration = Duration::from_millis(900);

/// Asserts the session is gone to every kind of call, and that its id is free.
pub(super) async fn assert_gone(s: &dyn Store, sid: &tenure_core::SessionId, ctx: &str) {
    let a = owner("late");
    assert!(
        load(s, sid).await.is_none(),
        "I5: {ctx}: load must find nothing"
    );
    assert_eq!(
        acquire(s, sid, &a, LONG).await,
        AcquireReply::NotFound,
        "I5: {ctx}: acquire"
    );
    create(s, sid, &[("new", "1")]).await;
    let snap = loaded(s, sid, "re-created after expiry").await;
    assert_eq!(
        snap.version, 1,
        "I5: {ctx}: a re-created session must start afresh"
    );
    assert_eq!(
        snap.attrs.len(),
        1,
        "I5: {ctx}: a re-created session kept expired data"
    );
}

/// I5, idle: accesses (`load`, `acquire`, `commit`, `renew` with `touch`) keep a
/// session alive for three idle timeouts; left alone, it is gone once the idle
/// timeout passed after the last access.
pub async fn idle_expiry_slides_with_access(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    let a = owner("a");
    let expiry = Expiry {
        idle: Some(IDLE),
        absolute: None,
    };
    let mut last_sent = Instant::now();
    let f = create_held(s, &sid, &[("a", "0")], expiry, &a, LONG).await;
    let mut last_access = Instant::now();
    let start = Instant::now();
    let mut round = 0u32;
    while start.elapsed() < IDLE * 3 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let ctx = format!("I5: access kind {} kept the session alive", round % 4);
        in_time(last_sent, IDLE, &ctx);
        last_sent = Instant::now();
        match round % 4 {
            0 => {
                loaded(s, &sid, &ctx).await;
            }
            1 => assert_eq!(granted(s, &sid, &a, LONG, &ctx).await.fence, f),
            2 => {
                let delta = sets(&[("a", &round.to_string())]);
                committed(s, &sid, &a, f, delta, false, &ctx).await;
            }
            _ => {
                let got = renew1(s, &a, LONG, &sid, f, true).await;
                assert_eq!(got, RenewOutcome::Renewed { recall: false }, "{ctx}");
            }
        }
        last_access = Instant::now();
        round += 1;
    }
    // Nothing may touch it now: sleep past the idle deadline, then look once.
    tokio::time::sleep_until(last_access + IDLE + TOL * 2).await;
    assert_eq!(
        renew1(s, &a, LONG, &sid, f, false).await,
        RenewOutcome::Lost,
        "I5: renew after idle expiry"
    );
    assert_gone(s, &sid, "idle timeout passed without access").await;
}

/// I5, idle: `renew` without `touch` extends the lease but not the session's life,
/// so a held but unused session expires; the `renew` calls themselves are the probe.
pub async fn idle_expiry_ignores_untouched_renew(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    let a = owner("a");
    let expiry = Expiry {
        idle: Some(IDLE),
        absolute: None,
    };
    let sent = Instant::now();
    let f = create_held(s, &sid, &[], expiry, &a, LONG).await;
    let created = Instant::now();
    let poll = Poll::new(
        IDLE + SLACK,
        "a held session renewed without touch to expire",
    );
    loop {
        let asked = Instant::now();
        match renew1(s, &a, LONG, &sid, f, false).await {
            RenewOutcome::Renewed { .. } => assert!(
                asked < created + IDLE + TOL,
                "I5: renew without touch kept the session alive past its idle timeout"
            ),
            RenewOutcome::Lost => {
                not_before(sent, Instant::now(), IDLE, "I5: idle expiry");
                break;
            }
            other => panic!("renew: unexpected {other:?}"),
        }
        poll.tick().await;
    }
    assert_gone(s, &sid, "held session renewed without touch").await;
}

/// I5, absolute: a session expires at its absolute timeout although it is held and
/// accessed all along, and not before.
pub async fn absolute_expiry_while_active(store: Arc<dyn Store>) {
    let s = &*store;
    let sid = sid();
    let a = owner("a");
    let expiry = Expiry {
        idle: Some(LONG),
        absolute: Some(ABSOLUTE),
    };
    let sent = Instant::now();
    let f = create_held(s, &sid, &[], expiry, &a, LONG).await;
    let created = Instant::now();
    let poll = Poll::new(
        ABSOLUTE + SLACK,
        "an active session to reach its absolute timeout",
    );
    let mut round = 0u32;
    loop {
        let asked = Instant::now();
        let alive = if round % 2 == 0 {
            load(s, &sid).await.is_some()
        } else {
            renew1(s, &a, LONG, &sid, f, true).await != RenewOutcome::Lost
        };
        if !alive {
            not_before(sent, Instant::now(), ABSOLUTE, "I5: absolute expiry");
            break;
        }
        assert!(
            asked < created + ABSOLUTE + TOL,
            "I5: the session outlived its absolute timeout because it was active"
        );
        round += 1;
        poll.tick().await;
    }
    assert_gone(s, &sid, "absolute timeout passed").await;
}

/// `rotate_id` carries the expiry over: a session rotated halfway through its
/// absolute timeout expires at the original deadline, not one counted from rotation.
pub async fn rotate_id_keeps_expiry(store: Arc<dyn Store>) {
    let s = &*store;
    let (old, new) = (sid(), sid());
    let expiry = Expiry {
        idle: None,
        absolute: Some(ABSOLUTE),
    };
    create_with(s, &old, &[("a", "1")], expiry).await;
    let created = Instant::now();
    tokio::time::sleep(ABSOLUTE / 2).await;
    let reply = ok(s.rotate_id(&old, &new, None).await, "rotate_id");
    assert_eq!(
        reply,
        RotateReply::Rotated { fence: None },
        "rotation of an unlocked id"
    );
    let poll = Poll::new(ABSOLUTE + SLACK, "the rotated session to expire");
    loop {
        let asked = Instant::now();
        if load(s, &new).await.is_none() {
            break;
        }
        assert!(
            asked < created + ABSOLUTE + TOL,
            "rotate_id must keep the absolute deadline; the session outlived it"
        );
        poll.tick().await;
    }
    assert!(load(s, &old).await.is_none(), "the old id came back");
}
