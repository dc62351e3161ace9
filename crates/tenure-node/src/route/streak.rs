//! The move rule: when a session should move to the node that forwards its requests
//! instead of being forwarded to forever.
//!
//! Forwarding costs an HTTP hop per request; moving costs a handoff once. The holder
//! sees which it pays for: it counts, per session, the forwarded requests in a row
//! from the same node. A request sent to it directly, or forwarded by another node,
//! starts the count again. At [`MOVE_AFTER`] in a row the balancer evidently sends
//! the session to that node (it changed its mind, or the holder was a failover
//! target), and the holder gives the session up and tells that node to take it. Under
//! a balancer that spreads one session evenly over 3 nodes, a run of 8 from one
//! other node has a chance of (1/3)^8, about 1 in 6,500, per request: moves stay rare
//! where forwarding wins. Under a balancer that sticks to the node it sent the last
//! request to, a session whose requests start going elsewhere is forwarded 8 times
//! and then moves: 8 hops cost about what one handoff (4–6 store calls and a wait)
//! costs.

use std::collections::HashMap;
use std::sync::Mutex;

use tenure_core::sync::lock;
use tenure_core::SessionId;

/// Forwarded requests in a row, from one node, after which the holder gives the
/// session to that node.
pub const MOVE_AFTER: u32 = 8;

/// Per held session: the node whose forwards are counted, and how many in a row.
#[derive(Debug, Default)]
pub(crate) struct Streaks {
    map: Mutex<HashMap<SessionId, (String, u32)>>,
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
    /// of `after` (0: never); the count then starts again.
    pub(crate) fn forwarded(&self, sid: &SessionId, origin: &str, after: u32, bound: usize) -> bool {
        if after == 0 {
            return false;
        }
        let mut map = lock(&self.map);
        if map.len() >= bound && !map.contains_key(sid) {
            map.clear();
        }
        let entry = map
            .entry(sid.clone())
            .or_insert_with(|| (origin.to_string(), 0));
        if entry.0 != origin {
            *entry = (origin.to_string(), 0);
        }
        entry.1 += 1;
        if entry.1 >= after {
            map.remove(sid);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid() -> SessionId {
        SessionId::generate().unwrap()
    }

    #[test]
    fn a_run_from_one_node_completes_after_move_after() {
        let (s, id) = (Streaks::default(), sid());
        for _ in 1..MOVE_AFTER {
            assert!(!s.forwarded(&id, "x", MOVE_AFTER, 100));
        }
        assert!(s.forwarded(&id, "x", MOVE_AFTER, 100), "the last of the run");
        assert!(!s.forwarded(&id, "x", MOVE_AFTER, 100), "the count starts again");
    }

    #[test]
    fn a_direct_request_or_another_origin_breaks_the_run() {
        let (s, id) = (Streaks::default(), sid());
        for _ in 1..MOVE_AFTER {
            s.forwarded(&id, "x", MOVE_AFTER, 100);
        }
        s.direct(&id);
        assert!(!s.forwarded(&id, "x", MOVE_AFTER, 100), "broken by a direct request");
        for _ in 2..MOVE_AFTER {
            s.forwarded(&id, "x", MOVE_AFTER, 100);
        }
        assert!(!s.forwarded(&id, "y", MOVE_AFTER, 100), "broken by another origin");
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
