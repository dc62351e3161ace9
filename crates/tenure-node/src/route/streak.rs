//! The move rule: when a session should move to the node that forwards its requests
//! instead of being forwarded to forever.
//!
//! Forwarding costs an HTTP hop per request; moving costs a handoff once (the holder's
//! release commit and the other node's `acquire`). The holder sees which it pays for:
//! per session it keeps the last 16 requests' origins (sent here directly, or
//! forwarded) and the run of forwarded requests in a row from one node.
//!
//! The session moves after `move_after` (default [`MOVE_AFTER`](crate::MOVE_AFTER), 32) requests in a
//! row forwarded by one node, with none sent here directly and none forwarded by
//! another node meanwhile: the balancer has evidently settled on that node (it
//! changed its mind, or this node was a failover target). Under a balancer that
//! spreads a session over 3 nodes such a run has a chance of (1/3)^32 per request:
//! never, in practice.
//!
//! Why so long a run: a move is not one handoff but a disturbance. While the session
//! moves, the requests in flight for it on every node find it gone from its holder,
//! and under concurrency (20 requests of one session in flight over 3 processes,
//! `tests/multi_process.rs`) some of them recall it from the node it went to, and so
//! on. Measured there at affinity 0: with a rule that moved after 2 to 8 forwards, a
//! few hundred moves and recalls per 10,000 increments, 3.7 Redis commands per
//! request and 14 s; with no moves, 0.24 commands per request and 4 s. The harness's
//! workloads (a) and (b) ran no faster with shorter runs than with none (within the
//! noise of quick runs), and (b) slower.

use std::collections::HashMap;
use std::sync::Mutex;

use tenure_core::sync::lock;
use tenure_core::SessionId;

/// One session's run of forwarded requests at its holder.
#[derive(Debug, Default)]
struct Recent {
    /// The node whose forwards are counted, and how many in a row.
    origin: String,
    run: u32,
}

/// Per held session, its current run.
#[derive(Debug, Default)]
pub(crate) struct Streaks {
    map: Mutex<HashMap<SessionId, Recent>>,
}

impl Streaks {
    /// A request for `sid` came from a client: the balancer sends it here.
    pub(crate) fn direct(&self, sid: &SessionId) {
        let mut map = lock(&self.map);
        if !map.is_empty() {
            map.remove(sid);
        }
    }

    /// A request for `sid` came forwarded by `origin`. True when it completes a run
    /// of `after` (0: never move); the count then starts again.
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
        if recent.run >= after {
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
    use tenure_core::sync::lock;
    use tenure_core::SessionId;

    // By full path: the structure check reads `super::` as the parent module.
    use crate::route::streak::Streaks;
    use crate::MOVE_AFTER;

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
        s.direct(&id);
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
        for _ in 0..100 {
            assert!(!s.forwarded(&id, "x", 0, 100));
        }
    }

    #[test]
    fn the_table_stays_within_its_bound() {
        let s = Streaks::default();
        for _ in 0..50 {
            s.forwarded(&sid(), "x", MOVE_AFTER, 10);
        }
        assert!(lock(&s.map).len() <= 10);
    }
}
