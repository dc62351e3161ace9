//! The comparison itself: a value against a value, a sequence by index, a map by
//! key, each recording the edits that turn the old bytes into the new.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use super::walk::{header, Body, Kind, Middle};
use super::{Cx, Edit, LOOKAHEAD, SPLICE_HEADER_LEN};

impl Cx<'_> {
    fn replace(&mut self, old: Range<usize>, new: Range<usize>) {
        self.splices.push(Edit { old, new });
    }

    fn same(&self, o: &Range<usize>, n: &Range<usize>) -> bool {
        self.old[o.clone()] == self.new[n.clone()]
    }

    /// Compares the value at `old` with the one at `new`; `None` if the budget ran
    /// out or an encoding is malformed.
    pub(super) fn value(
        &mut self,
        old: Range<usize>,
        new: Range<usize>,
        depth: usize,
    ) -> Option<()> {
        if self.same(&old, &new) {
            return Some(());
        }
        if depth >= self.budget.max_depth.min(super::MAX_DEPTH) {
            self.replace(old, new);
            return Some(());
        }
        let (ok, ob) = header(self.old, old.start)?;
        let (nk, nb) = header(self.new, new.start)?;
        let (unit, a, b) = match (ok, nk) {
            (Kind::Array(a), Kind::Array(b)) => (1, a, b),
            (Kind::Map(a), Kind::Map(b)) => (2, a, b),
            _ => {
                self.replace(old, new);
                return Some(());
            }
        };
        let start = self.splices.len();
        // A header that changed (a new length) is one splice of its own.
        if self.old[old.start..ob] != self.new[new.start..nb] {
            self.replace(old.start..ob, new.start..nb);
        }
        let body = |range: Range<usize>, entries| Body {
            range,
            entries,
            unit,
        };
        let middle = self.middle(&body(ob..old.end, a), &body(nb..new.end, b))?;
        let kept = if unit == 1 {
            self.sequence(&middle, depth)?;
            true
        } else {
            self.map(&middle, depth)?
        };
        // Changes that cost more than the container itself: replace it instead.
        let cost: usize = self.splices[start..].iter().map(Edit::cost).sum();
        if !kept || cost >= SPLICE_HEADER_LEN + new.len() {
            self.splices.truncate(start);
            self.replace(old, new);
        }
        Some(())
    }

    /// A sequence's differing middle, walked in step: where two elements differ, a
    /// run of up to [`LOOKAHEAD`] elements inserted or removed is recognised by the
    /// next element matching, and otherwise the two are compared in turn.
    fn sequence(&mut self, m: &Middle, depth: usize) -> Option<()> {
        let (om, nm) = (&m.old, &m.new);
        let (mut i, mut j) = (0, 0);
        while i < om.len() && j < nm.len() {
            if self.same(&om[i], &nm[j]) {
                (i, j) = (i + 1, j + 1);
                continue;
            }
            let max = LOOKAHEAD.min(nm.len() - j - 1);
            if let Some(k) = (1..=max).find(|&k| self.same(&om[i], &nm[j + k])) {
                // New elements before this one.
                let here = om[i].start;
                self.replace(here..here, nm[j].start..nm[j + k].start);
                j += k;
                continue;
            }
            let max = LOOKAHEAD.min(om.len() - i - 1);
            if let Some(k) = (1..=max).find(|&k| self.same(&om[i + k], &nm[j])) {
                let here = nm[j].start;
                self.replace(om[i].start..om[i + k].start, here..here);
                i += k;
                continue;
            }
            self.value(om[i].clone(), nm[j].clone(), depth + 1)?;
            (i, j) = (i + 1, j + 1);
        }
        if i < om.len() {
            self.replace(om[i].start..m.old_stop, m.new_stop..m.new_stop);
        } else if j < nm.len() {
            self.replace(m.old_stop..m.old_stop, nm[j].start..m.new_stop);
        }
        Some(())
    }

    /// A map's differing middle, by key (its items alternate key and value ranges).
    /// False if the keys the two share are not in the same order (or a key repeats):
    /// the caller replaces the map.
    fn map(&mut self, m: &Middle, depth: usize) -> Option<bool> {
        let (olds, news) = (&m.old, &m.new);
        let mut index: HashMap<&[u8], usize> = HashMap::with_capacity(olds.len() / 2);
        for (i, pair) in olds.chunks_exact(2).enumerate() {
            if index.insert(&self.old[pair[0].clone()], i).is_some() {
                return Some(false);
            }
        }
        let pairs = olds.len() / 2;
        let pair_start = |i: usize| {
            if i < pairs {
                olds[2 * i].start
            } else {
                m.old_stop
            }
        };
        // The first old pair not yet kept or cut out.
        let mut next = 0usize;
        let mut seen = HashSet::with_capacity(news.len() / 2);
        for pair in news.chunks_exact(2) {
            let key = &self.new[pair[0].clone()];
            if !seen.insert(key) {
                return Some(false);
            }
            match index.get(key).copied() {
                Some(k) if k < next => return Some(false),
                Some(k) => {
                    if k > next {
                        // The old pairs between the last kept one and this one are gone.
                        let here = pair[0].start;
                        self.replace(pair_start(next)..pair_start(k), here..here);
                    }
                    self.value(olds[2 * k + 1].clone(), pair[1].clone(), depth + 1)?;
                    next = k + 1;
                }
                None => {
                    let at = pair_start(next);
                    self.replace(at..at, pair[0].start..pair[1].end);
                }
            }
        }
        if next < pairs {
            self.replace(pair_start(next)..m.old_stop, m.new_stop..m.new_stop);
        }
        Some(true)
    }
}
