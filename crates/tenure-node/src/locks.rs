//! Per-attribute locks for the concurrent local requests of one held session.
//!
//! Readers share, writers exclude, on one attribute only; a request keeps its locks
//! until it ends (two-phase locking), so concurrent requests on one node are
//! serializable. Grants are FIFO per attribute, except that a request upgrading its
//! own shared lock goes first. Before a request waits, the table looks for a cycle in
//! the wait-for graph; a request that would close one is refused with `Deadlock`
//! instead of hanging (the classic case: two requests `get` an attribute, then both
//! `get_mut` it).
//!
//! The table is synchronous and small; the async waiting wraps it (a oneshot per
//! waiter), so it can be tested without a runtime.

use std::collections::{HashMap, VecDeque};

use tokio::sync::oneshot;

/// Identifies one request within a node.
pub(crate) type ReqId = u64;

/// Shared (read) or exclusive (write).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Mode {
    Shared,
    Exclusive,
}

/// The outcome of asking for a lock.
#[derive(Debug)]
pub(crate) enum LockStep {
    /// The request holds the lock now.
    Granted,
    /// The request is queued; the receiver fires when it holds the lock.
    Wait(oneshot::Receiver<()>),
    /// Waiting would close a cycle of waiting requests.
    Deadlock,
}

#[derive(Debug)]
struct Waiter {
    req: ReqId,
    mode: Mode,
    tx: oneshot::Sender<()>,
}

#[derive(Debug, Default)]
struct AttrLock {
    holders: Vec<(ReqId, Mode)>,
    queue: VecDeque<Waiter>,
}

impl AttrLock {
    fn mode_of(&self, req: ReqId) -> Option<Mode> {
        self.holders
            .iter()
            .find(|(r, _)| *r == req)
            .map(|(_, m)| *m)
    }

    /// Whether `req` could hold the lock in `mode` now, ignoring the queue.
    fn compatible(&self, req: ReqId, mode: Mode) -> bool {
        let others = self.holders.iter().filter(|(r, _)| *r != req);
        match mode {
            Mode::Exclusive => others.count() == 0,
            Mode::Shared => others.clone().all(|(_, m)| *m == Mode::Shared),
        }
    }

    fn hold(&mut self, req: ReqId, mode: Mode) {
        match self.holders.iter_mut().find(|(r, _)| *r == req) {
            Some(h) => h.1 = h.1.max(mode),
            None => self.holders.push((req, mode)),
        }
    }

    /// The requests `req` waits for while queued here: the other holders and the
    /// waiters ahead of it.
    fn blockers(&self, req: ReqId) -> impl Iterator<Item = ReqId> + '_ {
        let ahead = self
            .queue
            .iter()
            .take_while(move |w| w.req != req)
            .map(|w| w.req);
        self.holders
            .iter()
            .map(|(r, _)| *r)
            .filter(move |r| *r != req)
            .chain(ahead)
    }
}

/// The lock table of one held session.
#[derive(Debug, Default)]
pub(crate) struct LockTable {
    attrs: HashMap<String, AttrLock>,
    /// The attribute each queued request waits for (a request waits for one at a time).
    waiting: HashMap<ReqId, String>,
}

impl LockTable {
    /// Asks for `name` in `mode` on behalf of `req`.
    pub(crate) fn lock(&mut self, req: ReqId, name: &str, mode: Mode) -> LockStep {
        let attr = self.attrs.entry(name.to_string()).or_default();
        let held = attr.mode_of(req);
        if held.is_some_and(|m| m >= mode) {
            return LockStep::Granted;
        }
        let upgrade = held.is_some();
        // An upgrade may pass the queue: the queued requests wait for this one anyway.
        if attr.compatible(req, mode) && (upgrade || attr.queue.is_empty()) {
            attr.hold(req, mode);
            return LockStep::Granted;
        }
        let (tx, rx) = oneshot::channel();
        let waiter = Waiter { req, mode, tx };
        if upgrade {
            attr.queue.push_front(waiter);
        } else {
            attr.queue.push_back(waiter);
        }
        if self.closes_cycle(req, name) {
            if let Some(attr) = self.attrs.get_mut(name) {
                attr.queue.retain(|w| w.req != req);
            }
            return LockStep::Deadlock;
        }
        self.waiting.insert(req, name.to_string());
        LockStep::Wait(rx)
    }

    /// True if `req`, queued on `name`, transitively waits for itself.
    fn closes_cycle(&self, req: ReqId, name: &str) -> bool {
        let mut stack: Vec<ReqId> = self
            .attrs
            .get(name)
            .map(|a| a.blockers(req).collect())
            .unwrap_or_default();
        let mut seen = Vec::new();
        while let Some(r) = stack.pop() {
            if r == req {
                return true;
            }
            if seen.contains(&r) {
                continue;
            }
            seen.push(r);
            if let Some(attr) = self.waiting.get(&r).and_then(|n| self.attrs.get(n)) {
                stack.extend(attr.blockers(r));
            }
        }
        false
    }

    /// Releases everything `req` holds or waits for among `names`, and grants what
    /// can be granted next.
    pub(crate) fn release_all<'a>(&mut self, req: ReqId, names: impl IntoIterator<Item = &'a str>) {
        self.waiting.remove(&req);
        for name in names {
            if let Some(attr) = self.attrs.get_mut(name) {
                attr.holders.retain(|(r, _)| *r != req);
                attr.queue.retain(|w| w.req != req);
            }
            self.grant(name);
        }
    }

    /// Grants queued requests on `name` in FIFO order while they are compatible.
    fn grant(&mut self, name: &str) {
        let Some(attr) = self.attrs.get_mut(name) else {
            return;
        };
        while let Some(w) = attr.queue.front() {
            if !attr.compatible(w.req, w.mode) {
                break;
            }
            let Some(w) = attr.queue.pop_front() else {
                break;
            };
            attr.hold(w.req, w.mode);
            self.waiting.remove(&w.req);
            // A dropped receiver means the waiting future was cancelled; its request
            // still owns the grant and releases it when it ends or is dropped.
            let _ = w.tx.send(());
        }
        if attr.holders.is_empty() && attr.queue.is_empty() {
            self.attrs.remove(name);
        }
    }

    /// True if no request holds or waits for any attribute.
    #[cfg(test)]
    pub(crate) fn is_idle(&self) -> bool {
        self.attrs.is_empty() && self.waiting.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn granted(s: &LockStep) -> bool {
        matches!(*s, LockStep::Granted)
    }

    #[test]
    fn readers_share_writers_exclude_per_attribute() {
        let mut t = LockTable::default();
        assert!(granted(&t.lock(1, "a", Mode::Shared)));
        assert!(granted(&t.lock(2, "a", Mode::Shared)));
        assert!(granted(&t.lock(3, "b", Mode::Exclusive)));
        let LockStep::Wait(mut rx) = t.lock(4, "a", Mode::Exclusive) else {
            panic!("writer must wait")
        };
        // FIFO: a reader behind a queued writer waits too.
        assert!(matches!(t.lock(5, "a", Mode::Shared), LockStep::Wait(_)));
        t.release_all(1, ["a"]);
        assert!(rx.try_recv().is_err());
        t.release_all(2, ["a"]);
        assert!(rx.try_recv().is_ok());
        t.release_all(4, ["a"]);
        t.release_all(5, ["a"]);
        t.release_all(3, ["b"]);
        assert!(t.is_idle());
    }

    #[test]
    fn double_upgrade_is_a_deadlock_for_the_second() {
        let mut t = LockTable::default();
        assert!(granted(&t.lock(1, "a", Mode::Shared)));
        assert!(granted(&t.lock(2, "a", Mode::Shared)));
        let LockStep::Wait(mut rx) = t.lock(1, "a", Mode::Exclusive) else {
            panic!("upgrade must wait")
        };
        assert!(matches!(
            t.lock(2, "a", Mode::Exclusive),
            LockStep::Deadlock
        ));
        t.release_all(2, ["a"]);
        assert!(rx.try_recv().is_ok());
        t.release_all(1, ["a"]);
        assert!(t.is_idle());
    }

    #[test]
    fn crossing_order_is_a_deadlock() {
        let mut t = LockTable::default();
        assert!(granted(&t.lock(1, "x", Mode::Exclusive)));
        assert!(granted(&t.lock(2, "y", Mode::Exclusive)));
        assert!(matches!(t.lock(1, "y", Mode::Exclusive), LockStep::Wait(_)));
        assert!(matches!(
            t.lock(2, "x", Mode::Exclusive),
            LockStep::Deadlock
        ));
    }

    #[test]
    fn sole_reader_upgrades_at_once_and_relock_is_free() {
        let mut t = LockTable::default();
        assert!(granted(&t.lock(1, "a", Mode::Shared)));
        assert!(granted(&t.lock(1, "a", Mode::Exclusive)));
        assert!(granted(&t.lock(1, "a", Mode::Shared)));
        assert!(matches!(t.lock(2, "a", Mode::Shared), LockStep::Wait(_)));
    }

    #[test]
    fn cancelled_waiter_is_released_by_its_request() {
        let mut t = LockTable::default();
        assert!(granted(&t.lock(1, "a", Mode::Exclusive)));
        let rx = t.lock(2, "a", Mode::Exclusive);
        drop(rx);
        t.release_all(1, ["a"]);
        t.release_all(2, ["a"]);
        assert!(t.is_idle());
    }
}
