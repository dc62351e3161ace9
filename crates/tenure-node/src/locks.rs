//! Per-attribute locks for the concurrent local requests of one held session.
//!
//! Only writers lock: `get_mut`, `insert` and `remove` take the attribute exclusively
//! until the request ends (I11), so a value a request changes cannot change under it
//! and concurrent increments on one node never lose one. "Ends" means its changes are
//! in the near cache, not yet in the store: the response waits for the store instead
//! (I18), so the next writer of a hot attribute does not wait for a commit. Reads take no lock: a `get`
//! sees the value as of the last request that ended (read committed), so reading
//! never waits and a read followed by a write of the same attribute cannot deadlock
//! (with shared read locks, two requests that read and then both upgrade wait for
//! each other forever; that was the commonest handler pattern).
//!
//! Grants are FIFO per attribute. Before a request waits, the table looks for a cycle
//! in the wait-for graph; a request that would close one (two attributes taken in
//! opposite orders) is refused with `Deadlock` instead of hanging.
//!
//! The table is synchronous and small; the async waiting wraps it (a oneshot per
//! waiter), so it can be tested without a runtime. [`AttrLocks`] is a request's set of
//! locks in one table: it releases them when dropped, so a request that fails or is
//! cancelled anywhere never keeps an attribute locked.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tenure_core::sync::lock;
use tokio::sync::oneshot;

/// Identifies one request within a node.
pub(crate) type ReqId = u64;

/// The outcome of asking for a lock.
#[derive(Debug)]
pub(crate) enum LockStep {
    /// The request holds the lock now.
    Granted,
    /// The request is queued; the receiver fires when it holds the lock.
    Wait(oneshot::Receiver<()>),
    /// Waiting would close a cycle of waiting requests: these are the attributes on
    /// the cycle, the asked-for one first.
    Deadlock(Vec<String>),
}

#[derive(Debug)]
struct Waiter {
    req: ReqId,
    tx: oneshot::Sender<()>,
}

#[derive(Debug, Default)]
struct AttrLock {
    holder: Option<ReqId>,
    queue: VecDeque<Waiter>,
}

impl AttrLock {
    /// The requests `req` waits for while queued here: the holder and the waiters
    /// ahead of it.
    fn blockers(&self, req: ReqId) -> impl Iterator<Item = ReqId> + '_ {
        let ahead = self
            .queue
            .iter()
            .take_while(move |w| w.req != req)
            .map(|w| w.req);
        self.holder
            .into_iter()
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
    /// Asks for `name` on behalf of `req`.
    pub(crate) fn lock(&mut self, req: ReqId, name: &str) -> LockStep {
        let attr = self.attrs.entry(name.to_string()).or_default();
        if attr.holder == Some(req) {
            return LockStep::Granted;
        }
        if attr.holder.is_none() && attr.queue.is_empty() {
            attr.holder = Some(req);
            return LockStep::Granted;
        }
        let (tx, rx) = oneshot::channel();
        if let Some(w) = attr.queue.iter_mut().find(|w| w.req == req) {
            // Asked again after a wait that was given up: keep its place in line,
            // answer through the new receiver (the old one is gone).
            w.tx = tx;
            self.waiting.insert(req, name.to_string());
            return LockStep::Wait(rx);
        }
        attr.queue.push_back(Waiter { req, tx });
        if let Some(cycle) = self.cycle(req, name) {
            if let Some(attr) = self.attrs.get_mut(name) {
                attr.queue.retain(|w| w.req != req);
            }
            return LockStep::Deadlock(cycle);
        }
        self.waiting.insert(req, name.to_string());
        LockStep::Wait(rx)
    }

    /// The attributes on a cycle through `req`, queued on `name`, if there is one.
    fn cycle(&self, req: ReqId, name: &str) -> Option<Vec<String>> {
        // Depth-first over (request, attribute it waits on, path of attributes).
        let mut stack: Vec<(ReqId, Vec<String>)> = self
            .attrs
            .get(name)
            .map(|a| {
                a.blockers(req)
                    .map(|r| (r, vec![name.to_string()]))
                    .collect()
            })
            .unwrap_or_default();
        let mut seen = Vec::new();
        while let Some((r, path)) = stack.pop() {
            if r == req {
                return Some(path);
            }
            if seen.contains(&r) {
                continue;
            }
            seen.push(r);
            if let Some((next, attr)) = self
                .waiting
                .get(&r)
                .and_then(|n| self.attrs.get(n).map(|a| (n, a)))
            {
                for b in attr.blockers(r) {
                    let mut path = path.clone();
                    path.push(next.clone());
                    stack.push((b, path));
                }
            }
        }
        None
    }

    /// `req` stopped waiting for `name` (its wait was cancelled): it leaves the queue
    /// and the wait-for graph, so it neither blocks others nor closes false cycles. A
    /// lock granted meanwhile stays its own until it ends.
    fn cancel(&mut self, req: ReqId, name: &str) {
        if self.waiting.get(&req).is_some_and(|n| n == name) {
            self.waiting.remove(&req);
        }
        if let Some(attr) = self.attrs.get_mut(name) {
            attr.queue.retain(|w| w.req != req);
            if attr.holder.is_none() && attr.queue.is_empty() {
                self.attrs.remove(name);
            }
        }
    }

    /// Releases everything `req` holds or waits for among `names`, and grants what
    /// can be granted next.
    fn release_all<'a>(&mut self, req: ReqId, names: impl IntoIterator<Item = &'a str>) {
        self.waiting.remove(&req);
        for name in names {
            let Some(attr) = self.attrs.get_mut(name) else {
                continue;
            };
            if attr.holder == Some(req) {
                attr.holder = None;
            }
            attr.queue.retain(|w| w.req != req);
            // FIFO: the next waiter whose request still waits gets it.
            while attr.holder.is_none() {
                let Some(w) = attr.queue.pop_front() else {
                    break;
                };
                self.waiting.remove(&w.req);
                attr.holder = Some(w.req);
                // A dropped receiver means the waiting future was cancelled; its
                // request still owns the grant and releases it when it ends or drops.
                let _ = w.tx.send(());
            }
            if attr.holder.is_none() && attr.queue.is_empty() {
                self.attrs.remove(name);
            }
        }
    }

    /// True if no request holds or waits for any attribute.
    #[cfg(test)]
    pub(crate) fn is_idle(&self) -> bool {
        self.attrs.is_empty() && self.waiting.is_empty()
    }
}

/// One request's locks in one held session's table, released when dropped.
#[derive(Debug)]
pub(crate) struct AttrLocks {
    table: Arc<Mutex<LockTable>>,
    req: ReqId,
    /// Attributes locked or queued for (recorded before waiting, so a cancelled wait
    /// is released too).
    names: Vec<String>,
}

impl AttrLocks {
    pub(crate) fn new(table: Arc<Mutex<LockTable>>, req: ReqId) -> Self {
        Self {
            table,
            req,
            names: Vec::new(),
        }
    }

    /// Takes `name`, waiting for it if another request holds it. If the wait is
    /// cancelled, the request leaves the queue (it still owns a grant that came first).
    pub(crate) async fn lock(&mut self, name: &str) -> Result<(), LockError> {
        let step = lock(&self.table).lock(self.req, name);
        if !matches!(step, LockStep::Deadlock(_)) && !self.names.iter().any(|n| n == name) {
            self.names.push(name.to_string());
        }
        match step {
            LockStep::Granted => Ok(()),
            LockStep::Deadlock(cycle) => Err(LockError::Deadlock(cycle)),
            LockStep::Wait(granted) => {
                let mut waiting = Waiting {
                    table: &self.table,
                    req: self.req,
                    name,
                    done: false,
                };
                let result = granted.await.map_err(|_| LockError::Closed);
                waiting.done = true;
                result
            }
        }
    }
}

/// Why a lock was not taken.
#[derive(Debug)]
pub(crate) enum LockError {
    /// Waiting would close a cycle: the attributes on it, the asked-for one first.
    Deadlock(Vec<String>),
    /// The table went away (the held copy was dropped).
    Closed,
}

/// A wait in progress; if dropped before it finished, the wait is cancelled.
struct Waiting<'a> {
    table: &'a Mutex<LockTable>,
    req: ReqId,
    name: &'a str,
    done: bool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if !self.done {
            lock(self.table).cancel(self.req, self.name);
        }
    }
}

impl Drop for AttrLocks {
    fn drop(&mut self) {
        lock(&self.table).release_all(self.req, self.names.iter().map(String::as_str));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn granted(s: &LockStep) -> bool {
        matches!(*s, LockStep::Granted)
    }

    #[test]
    fn writers_exclude_per_attribute_in_fifo_order() {
        let mut t = LockTable::default();
        assert!(granted(&t.lock(1, "a")));
        assert!(granted(&t.lock(2, "b")));
        let LockStep::Wait(mut rx3) = t.lock(3, "a") else {
            panic!("second writer must wait")
        };
        let LockStep::Wait(mut rx4) = t.lock(4, "a") else {
            panic!("third writer must wait")
        };
        t.release_all(1, ["a"]);
        assert!(rx3.try_recv().is_ok(), "first in line goes first");
        assert!(rx4.try_recv().is_err());
        t.release_all(3, ["a"]);
        assert!(rx4.try_recv().is_ok());
        t.release_all(4, ["a"]);
        t.release_all(2, ["b"]);
        assert!(t.is_idle());
    }

    #[test]
    fn crossing_order_is_a_deadlock_naming_both_attributes() {
        let mut t = LockTable::default();
        assert!(granted(&t.lock(1, "x")));
        assert!(granted(&t.lock(2, "y")));
        assert!(matches!(t.lock(1, "y"), LockStep::Wait(_)));
        let LockStep::Deadlock(cycle) = t.lock(2, "x") else {
            panic!("the second crossing request closes a cycle")
        };
        assert_eq!(cycle, ["x", "y"]);
    }

    #[test]
    fn relock_is_free() {
        let mut t = LockTable::default();
        assert!(granted(&t.lock(1, "a")));
        assert!(granted(&t.lock(1, "a")));
        assert!(matches!(t.lock(2, "a"), LockStep::Wait(_)));
    }

    #[test]
    fn cancelled_waiter_is_released_by_its_request() {
        let mut t = LockTable::default();
        assert!(granted(&t.lock(1, "a")));
        let rx = t.lock(2, "a");
        drop(rx);
        t.release_all(1, ["a"]);
        t.release_all(2, ["a"]);
        assert!(t.is_idle());
    }

    #[test]
    fn asking_again_after_a_cancelled_wait_keeps_the_place_and_is_granted() {
        let mut t = LockTable::default();
        assert!(granted(&t.lock(1, "a")));
        drop(t.lock(2, "a")); // the first wait is given up without cancel
        let LockStep::Wait(mut rx) = t.lock(2, "a") else {
            panic!("still waits")
        };
        t.release_all(1, ["a"]);
        assert!(rx.try_recv().is_ok(), "the second ask is the one answered");
        t.release_all(2, ["a"]);
        assert!(t.is_idle());
    }

    #[test]
    fn a_cancelled_wait_closes_no_false_cycle() {
        let mut t = LockTable::default();
        assert!(granted(&t.lock(1, "x")));
        assert!(matches!(t.lock(2, "x"), LockStep::Wait(_)));
        t.cancel(2, "x"); // request 2 gave up on x
        assert!(granted(&t.lock(2, "y")));
        assert!(
            matches!(t.lock(1, "y"), LockStep::Wait(_)),
            "request 2 waits for nothing: no cycle"
        );
    }

    #[tokio::test]
    async fn a_dropped_lock_set_releases_and_a_cancelled_wait_leaves_the_queue() {
        let table = Arc::new(Mutex::new(LockTable::default()));
        let mut one = AttrLocks::new(table.clone(), 1);
        one.lock("a").await.unwrap();
        let mut two = AttrLocks::new(table.clone(), 2);
        let gave_up =
            tokio::time::timeout(std::time::Duration::from_millis(10), two.lock("a")).await;
        assert!(gave_up.is_err(), "request 2 waits, then gives up");
        assert!(
            lock(&table).waiting.is_empty(),
            "and leaves the wait-for graph"
        );
        let mut three = AttrLocks::new(table.clone(), 3);
        let waiter = tokio::spawn(async move { three.lock("a").await.map(|()| three) });
        tokio::task::yield_now().await;
        drop(one);
        let three = waiter.await.unwrap().unwrap();
        drop((two, three));
        assert!(lock(&table).is_idle());
    }
}
