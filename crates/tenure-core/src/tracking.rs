//! Access tracking and change detection for one request.
//!
//! A [`Tracker`] records, per attribute, the strongest access a request made and the
//! bytes the attribute had when the request first touched it (the *benchmark*). At the
//! end of the request, [`Tracker::changes`] decides what to write:
//!
//! - written and removed attributes always count;
//! - attributes taken mutably count only if their re-encoded bytes differ from the
//!   benchmark (binary comparison);
//! - attributes only read never count, unless the scope asks for them.

use std::collections::BTreeMap;

use bytes::Bytes;

/// The strongest access a request made to one attribute. Later accesses only raise it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    /// Read with `get`.
    Read,
    /// Taken with `get_mut`: re-encoded and compared at the end.
    Mut,
    /// Set with `insert` or `remove`.
    Write,
}

/// Which attributes a request writes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteScope {
    /// Only attributes that really changed (default).
    #[default]
    Modified,
    /// Every attribute the request touched, changed or not.
    Accessed,
    /// The whole session, as session libraries without tracking do. For comparison.
    Whole,
}

#[derive(Debug, Clone)]
struct Tracked {
    access: Access,
    benchmark: Option<Bytes>,
    written: Option<Option<Bytes>>,
}

/// Per-request access log.
///
/// ```
/// use tenure_core::{Bytes, Tracker, WriteScope};
/// let one = Bytes::from_static(b"\x01");
/// let mut t = Tracker::default();
/// t.read("a", Some(&one));
/// t.take_mut("b", Some(&one));
/// t.write("c", Some(one.clone()));
/// // "b" was taken mutably but re-encodes to the same bytes: only "c" is written.
/// let changes = t.changes(WriteScope::Modified, |_| Some(Some(one.clone())));
/// assert_eq!(changes, vec![("c".to_string(), Some(one))]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Tracker {
    attrs: BTreeMap<String, Tracked>,
}

impl Tracker {
    fn touch(&mut self, name: &str, access: Access, benchmark: Option<&Bytes>) -> &mut Tracked {
        let entry = self
            .attrs
            .entry(name.to_string())
            .or_insert_with(|| Tracked {
                access,
                benchmark: benchmark.cloned(),
                written: None,
            });
        entry.access = entry.access.max(access);
        entry
    }

    /// Records a `get` of `name`, whose bytes are `benchmark`.
    pub fn read(&mut self, name: &str, benchmark: Option<&Bytes>) {
        self.touch(name, Access::Read, benchmark);
    }

    /// Records a `get_mut` of `name`, whose bytes are `benchmark`. If the request
    /// only read `name` so far, `benchmark` replaces the bytes it read: a read may
    /// have seen an older value than the one the request now takes to change (reads
    /// take no lock), and the change must be judged against what it changes.
    pub fn take_mut(&mut self, name: &str, benchmark: Option<&Bytes>) {
        let entry = self.touch(name, Access::Mut, benchmark);
        if entry.written.is_none() && entry.access == Access::Mut {
            entry.benchmark = benchmark.cloned();
        }
    }

    /// Records an `insert` (`Some`) or `remove` (`None`).
    pub fn write(&mut self, name: &str, value: Option<Bytes>) {
        // The benchmark of an attribute first touched by a write is unknown and unneeded:
        // writes always count.
        self.touch(name, Access::Write, None).written = Some(value);
    }

    /// The strongest access so far to `name`.
    pub fn access(&self, name: &str) -> Option<Access> {
        self.attrs.get(name).map(|t| t.access)
    }

    /// The value a write set for `name` in this request, if any (`Some(None)`: removed).
    pub fn written(&self, name: &str) -> Option<&Option<Bytes>> {
        self.attrs.get(name).and_then(|t| t.written.as_ref())
    }

    /// Every attribute touched, with its access.
    pub fn accessed(&self) -> impl Iterator<Item = (&str, Access)> {
        self.attrs.iter().map(|(k, t)| (k.as_str(), t.access))
    }

    /// True if nothing was touched.
    pub fn is_empty(&self) -> bool {
        self.attrs.is_empty()
    }

    /// The write set: `(name, Some(bytes))` to set, `(name, None)` to remove.
    ///
    /// `reencoded(name)` returns the current bytes of an attribute the request still
    /// holds mutably (`Some(None)` if it holds it as absent), or `None` if it holds no
    /// mutable value for it. A held mutable value wins over an earlier write.
    /// [`WriteScope::Whole`] is the caller's to complete with untouched attributes.
    pub fn changes(
        &self,
        scope: WriteScope,
        mut reencoded: impl FnMut(&str) -> Option<Option<Bytes>>,
    ) -> Vec<(String, Option<Bytes>)> {
        let mut out = Vec::new();
        for (name, t) in &self.attrs {
            let held = if t.access >= Access::Mut {
                reencoded(name)
            } else {
                None
            };
            let current = match (&held, &t.written) {
                (Some(v), _) => v.clone(),
                (None, Some(w)) => w.clone(),
                (None, None) => t.benchmark.clone(),
            };
            let changed = match t.access {
                Access::Write => true,
                Access::Mut => current != t.benchmark,
                Access::Read => false,
            };
            let include = changed || (scope != WriteScope::Modified && current.is_some());
            if include {
                out.push((name.clone(), current));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &'static str) -> Bytes {
        Bytes::from_static(s.as_bytes())
    }

    #[test]
    fn read_only_writes_nothing() {
        let mut t = Tracker::default();
        t.read("a", Some(&b("1")));
        assert!(t.changes(WriteScope::Modified, |_| None).is_empty());
        assert_eq!(
            t.changes(WriteScope::Accessed, |_| None),
            vec![("a".into(), Some(b("1")))]
        );
    }

    #[test]
    fn mut_without_change_writes_nothing_and_with_change_writes() {
        let mut t = Tracker::default();
        t.take_mut("a", Some(&b("1")));
        assert!(t
            .changes(WriteScope::Modified, |_| Some(Some(b("1"))))
            .is_empty());
        assert_eq!(
            t.changes(WriteScope::Modified, |_| Some(Some(b("2")))),
            vec![("a".into(), Some(b("2")))]
        );
    }

    #[test]
    fn writes_always_count_even_when_equal() {
        let mut t = Tracker::default();
        t.read("a", Some(&b("1")));
        t.write("a", Some(b("1")));
        t.write("gone", None);
        assert_eq!(
            t.changes(WriteScope::Modified, |_| None),
            vec![("a".into(), Some(b("1"))), ("gone".into(), None)]
        );
        assert_eq!(t.access("a"), Some(Access::Write));
    }

    #[test]
    fn held_mutable_value_wins_over_earlier_write() {
        let mut t = Tracker::default();
        t.write("a", Some(b("1")));
        t.take_mut("a", Some(&b("1")));
        assert_eq!(
            t.changes(WriteScope::Modified, |_| Some(Some(b("3")))),
            vec![("a".into(), Some(b("3")))]
        );
    }

    #[test]
    fn mut_of_absent_attribute_that_stays_absent_writes_nothing() {
        let mut t = Tracker::default();
        t.take_mut("a", None);
        assert!(t.changes(WriteScope::Modified, |_| Some(None)).is_empty());
    }
}
