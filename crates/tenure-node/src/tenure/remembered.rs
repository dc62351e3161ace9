//! Copies of sessions this node gave back, kept so that taking one back costs only
//! what changed since (conditional takeover, `Store::acquire_since`).
//!
//! Each copy is the session exactly as the store had it after this node's release
//! commit, with every attribute's version. Any such copy is safe to name later, however
//! much happened since: the store leaves out only attributes the copy holds at their
//! current version, and a version names one value of one session (one counter, never
//! reused). So correctness never rests on this memory; a copy that is missing, or
//! older than it could be, only costs the bytes the store then sends. A copy is dropped
//! when its id stops naming that session (deleted, expired, rotated away) and when the
//! node takes the session again (the next release leaves a newer one); all of them when
//! the store is found to have lost data (I17), since a store that lost commits may
//! give their versions to other values.
//!
//! Bounded by count and by bytes (names and values), least recently used first out.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use tenure_core::sync::lock;
use tenure_core::{SessionId, Snapshot};

/// The copies, least recently used first out.
#[derive(Debug)]
pub(crate) struct Remembered {
    max_copies: usize,
    max_bytes: usize,
    lru: Mutex<Lru>,
}

#[derive(Debug, Default)]
struct Lru {
    /// Each copy with its use stamp and size.
    copies: HashMap<SessionId, (u64, usize, Snapshot)>,
    /// Use stamps, oldest first.
    order: BTreeMap<u64, SessionId>,
    next_stamp: u64,
    bytes: usize,
}

impl Lru {
    fn remove(&mut self, sid: &SessionId) -> Option<Snapshot> {
        let (stamp, size, copy) = self.copies.remove(sid)?;
        self.order.remove(&stamp);
        self.bytes -= size;
        Some(copy)
    }

    fn stamp(&mut self) -> u64 {
        self.next_stamp += 1;
        self.next_stamp
    }
}

impl Remembered {
    /// At most `max_copies` copies of at most `max_bytes` in all; 0 of either keeps
    /// none.
    pub(crate) fn new(max_copies: usize, max_bytes: usize) -> Self {
        Self {
            max_copies,
            max_bytes,
            lru: Mutex::default(),
        }
    }

    /// Keeps `copy` as the copy of `sid`, replacing any older one, and forgets the
    /// least recently used copies beyond the bounds. A copy larger than the byte
    /// bound is not kept (nor is the older one).
    pub(crate) fn put(&self, sid: SessionId, copy: Snapshot) {
        let size = copy.size_bytes();
        let mut lru = lock(&self.lru);
        lru.remove(&sid);
        if self.max_copies == 0 || size > self.max_bytes {
            return;
        }
        let stamp = lru.stamp();
        lru.order.insert(stamp, sid.clone());
        lru.copies.insert(sid, (stamp, size, copy));
        lru.bytes += size;
        while lru.copies.len() > self.max_copies || lru.bytes > self.max_bytes {
            let Some((_, oldest)) = lru.order.pop_first() else {
                break;
            };
            if let Some((_, size, _)) = lru.copies.remove(&oldest) {
                lru.bytes -= size;
            }
        }
    }

    /// The copy of `sid`, if one is kept (a clone: values are shared, not copied).
    pub(crate) fn get(&self, sid: &SessionId) -> Option<Snapshot> {
        let mut lru = lock(&self.lru);
        let stamp = lru.stamp();
        let Lru { copies, order, .. } = &mut *lru;
        let (old, _, copy) = copies.get_mut(sid)?;
        order.remove(old);
        order.insert(stamp, sid.clone());
        *old = stamp;
        Some(copy.clone())
    }

    /// Drops the copy of `sid`, if any.
    pub(crate) fn forget(&self, sid: &SessionId) {
        lock(&self.lru).remove(sid);
    }

    /// Drops every copy.
    pub(crate) fn clear(&self) {
        *lock(&self.lru) = Lru::default();
    }

    /// How many copies are kept, and their bytes.
    #[cfg(test)]
    fn usage(&self) -> (usize, usize) {
        let lru = lock(&self.lru);
        (lru.copies.len(), lru.bytes)
    }
}

#[cfg(test)]
mod tests {
    // By its full path, not `super`: the layout check reads `super::` as this file's
    // parent module (tenure/mod.rs), which would close an import cycle.
    use crate::tenure::remembered::*;
    use tenure_core::Bytes;

    fn copy(bytes: usize) -> Snapshot {
        Snapshot::new(1, [("v".to_string(), Bytes::from(vec![0u8; bytes - 1]))])
    }

    fn sid() -> SessionId {
        SessionId::generate().unwrap()
    }

    #[test]
    fn bounded_by_count_least_recent_first() {
        let r = Remembered::new(2, 1 << 20);
        let (a, b, c) = (sid(), sid(), sid());
        r.put(a.clone(), copy(10));
        r.put(b.clone(), copy(10));
        assert!(r.get(&a).is_some(), "a is now the most recent");
        r.put(c.clone(), copy(10));
        assert!(r.get(&b).is_none(), "b was the least recently used");
        assert!(r.get(&a).is_some() && r.get(&c).is_some());
        assert_eq!(r.usage(), (2, 20));
    }

    #[test]
    fn bounded_by_bytes() {
        let r = Remembered::new(10, 100);
        let (a, b) = (sid(), sid());
        r.put(a.clone(), copy(60));
        r.put(b.clone(), copy(60));
        assert!(r.get(&a).is_none());
        assert_eq!(r.usage(), (1, 60));
        r.put(b.clone(), copy(101));
        assert!(
            r.get(&b).is_none(),
            "too large to keep, and the older copy is gone"
        );
        assert_eq!(r.usage(), (0, 0));
    }

    #[test]
    fn replaced_and_forgotten() {
        let r = Remembered::new(10, 1000);
        let a = sid();
        r.put(a.clone(), copy(10));
        r.put(a.clone(), copy(20));
        assert_eq!(r.usage(), (1, 20));
        r.forget(&a);
        assert_eq!(r.usage(), (0, 0));
        r.put(a.clone(), copy(10));
        r.clear();
        assert!(r.get(&a).is_none());
        let none = Remembered::new(0, 1000);
        none.put(a.clone(), copy(10));
        assert!(none.get(&a).is_none());
    }
}
