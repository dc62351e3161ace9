//! The move rule: when a session should move to the node that forwards its requests
//! instead of being forwarded to forever.
//!
//! Forwarding costs an HTTP hop per request; moving costs a handoff once (the holder's
//! release commit and the other node's `acquire`). The holder sees which it pays for:
//! per session it keeps the last 16 requests' origins (sent here directly, or
//! forwarded) and the run of forwarded requests in a row from one node.
//!
//! - **A sticky balancer changed its mind**: the session's requests came here
//!   directly (at least 6 of the 8 before the run), and now 2 in a row come forwarded
//!   by the same node. Such a balancer keeps sending the session there: move it.
//! - **A spreading balancer** (round robin, random): few requests came directly;
//!   forwarding costs less than moving back and forth, so the session moves only
//!   after `move_after` (default [`MOVE_AFTER`]) in a row from one node with none
//!   sent here directly. Over 3 nodes that run has a chance of (1/3)^8, about 1 in
//!   6,500, per request.
//!
//! A request forwarded by another node ends the run.

use std::collections::HashMap;
use std::sync::Mutex;

use tenure_core::sync::lock;
use tenure_core::SessionId;

/// Forwarded requests in a row, from one node, after which the holder gives the
/// session to that node whatever came before.
pub const MOVE_AFTER: u32 = 8;

/// The run that moves a session whose requests came here directly before it.
const STICKY_RUN: u32 = 2;
/// Of the 8 requests before the run, how many must have come directly for the
/// balancer to count as sticky.
const STICKY_DIRECT: u32 = 6;

/// One session's recent requests at its holder.
#[derive(Debug, Default)]
struct Recent {
    /// One bit per request, newest lowest: 1 = sent here directly.
    history: u16,
    /// The node whose forwards are counted, and how many in a row.
    origin: String,
    run: u32,
}

/// Per held session, its recent requests.
#[derive(Debug, Default)]
pub(crate) struct Streaks {
    map: Mutex<HashMap<SessionId, Recent>>,
}

impl Streaks {
    /// A request for `sid` came from a client: the balancer sends it here.
    pub(crate) fn direct(&self, sid: &SessionId, bound: usize) {
        let mut map = lock(&self.map);
        let recent = entry(&mut map, sid, bound);
        recent.history = (recent.history << 1) | 1;
        recent.run = 0;
    }

    /// A request for `sid` came forwarded by `origin`. True when the rule says to
    /// move the session there (`after`: the run that moves it whatever came before;
    /// 0: never move). The run then starts again.
    pub(crate) fn forwarded(
        &self,
        sid: &SessionId,
        origin: &str,
        after: u32,
        bound: usize,
    ) -> bool {
        if after == 0 {
            return false;
        }
        let mut map = lock(&self.map);
        let recent = entry(&mut map, sid, bound);
        if recent.origin != origin {
            recent.origin = origin.to_string();
            recent.run = 0;
        }
        recent.run += 1;
        // The 8 requests before this run (the run's earlier ones are its lowest bits).
        let before = (u32::from(recent.history) >> (recent.run - 1).min(16)) & 0xFF;
        recent.history <<= 1;
        let sticky = recent.run >= STICKY_RUN.min(after) && before.count_ones() >= STICKY_DIRECT;
        if sticky || recent.run >= after {
            map.remove(sid);
            return true;
        }
        false
    }
}

fn entry<'a>(
    map: &'a mut HashMap<SessionId, Recent>,
    sid: &SessionId,
    bound: usize,
) -> &'a mut Recent {
    if map.len() >= bound && !map.contains_key(sid) {
        // Only a heuristic's memory: forgetting it costs at most a later move.
        map.clear();
    }
    map.entry(sid.clone()).or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid() -> SessionId {
        SessionId::generate().unwrap()
    }

    #[test]
    fn a_spread_session_moves_after_a_long_run_from_one_node() {
        let (s, id) = (Streaks::default(), sid());
        // Spread: forwarded by x and y in turn, with few direct requests.
        for i in 0..20 {
            let origin = if i % 2 == 0 { "x" } else { "y" };
            assert!(!s.forwarded(&id, origin, MOVE_AFTER, 100), "request {i}");
        }
        for _ in 1..MOVE_AFTER {
            assert!(!s.forwarded(&id, "x", MOVE_AFTER, 100));
        }
        assert!(
            s.forwarded(&id, "x", MOVE_AFTER, 100),
            "the last of the run"
        );
        assert!(
            !s.forwarded(&id, "x", MOVE_AFTER, 100),
            "the count starts again"
        );
    }

    #[test]
    fn a_sticky_session_moves_after_two() {
        let (s, id) = (Streaks::default(), sid());
        for _ in 0..10 {
            s.direct(&id, 100);
        }
        assert!(
            !s.forwarded(&id, "x", MOVE_AFTER, 100),
            "one miss is not a move"
        );
        assert!(
            s.forwarded(&id, "x", MOVE_AFTER, 100),
            "two in a row after direct ones"
        );
    }

    #[test]
    fn a_direct_request_or_another_origin_breaks_the_run() {
        let (s, id) = (Streaks::default(), sid());
        s.forwarded(&id, "x", MOVE_AFTER, 100);
        for _ in 0..3 {
            s.forwarded(&id, "y", MOVE_AFTER, 100);
            s.forwarded(&id, "x", MOVE_AFTER, 100);
        }
        for _ in 2..MOVE_AFTER {
            s.forwarded(&id, "x", MOVE_AFTER, 100);
        }
        s.direct(&id, 100);
        assert!(
            !s.forwarded(&id, "x", MOVE_AFTER, 100),
            "broken by a direct request"
        );
        assert!(
            !s.forwarded(&id, "y", MOVE_AFTER, 100),
            "broken by another origin"
        );
    }

    #[test]
    fn zero_never_moves() {
        let (s, id) = (Streaks::default(), sid());
        for _ in 0..10 {
            s.direct(&id, 100);
        }
        for _ in 0..20 {
            assert!(!s.forwarded(&id, "x", 0, 100));
        }
    }

    #[test]
    fn the_table_stays_within_its_bound() {
        let s = Streaks::default();
        for _ in 0..50 {
            s.direct(&sid(), 10);
        }
        assert!(lock(&s.map).len() <= 10);
    }
}
