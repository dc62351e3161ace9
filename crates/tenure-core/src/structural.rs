//! Structural comparison: the patch that turns one MessagePack value into another,
//! found by comparing the two values' structure rather than only their bytes.
//!
//! The comparison walks both encodings at once, top down:
//!
//! - byte-equal sub-values are unchanged, and cost nothing more;
//! - maps are compared by key (the key's encoded bytes): a removed pair is cut out, an
//!   added pair is put where the new value has it, a changed value is compared in turn;
//! - sequences are compared by index, after their common first and last elements are
//!   set aside, so an append, a truncation, or a run of elements inserted or removed
//!   anywhere is one splice; in between, two elements that differ are compared in
//!   turn, unless a few elements further on one of them matches (elements inserted
//!   or removed there);
//! - anything else that differs (a scalar, a change of type) is replaced whole.
//!
//! A container whose changes would take more patch bytes than the container itself is
//! replaced whole. The result is a [`Patch`] of byte splices on the old encoding.
//!
//! The work is bounded by a [`Budget`]: past its depth a sub-value is replaced whole,
//! past its item count the comparison gives up. [`diff`] answers `None` (write the
//! whole value) whenever the patch would not be smaller than the value, either side is
//! not exactly one MessagePack value (another codec), or the budget ran out; and it
//! applies the patch it found to the old bytes and answers `None` unless that gives
//! exactly the new bytes, so a patch it hands out is always right.
//!
//! ```
//! use std::collections::BTreeMap;
//! use tenure_core::{structural, Codec, MessagePack};
//! let mut cart: BTreeMap<String, u32> = (0..100).map(|i| (format!("item-{i}"), 1)).collect();
//! let old = MessagePack.encode(&cart).unwrap();
//! cart.insert("item-42".into(), 3);
//! let new = MessagePack.encode(&cart).unwrap();
//! let patch = structural::diff(5, &old, &new, &structural::Budget::default()).unwrap();
//! assert!(patch.len() < 50, "{} bytes for a {}-byte value", patch.len(), new.len());
//! assert_eq!(patch.apply(5, &old).unwrap().as_ref(), &new[..]);
//! ```

use std::collections::HashMap;
use std::ops::Range;

use bytes::Bytes;
use rmp::Marker;

use crate::delta::Change;
use crate::patch::{Patch, Splice, HEADER_LEN, SPLICE_HEADER_LEN};
use crate::snapshot::AttrEntry;

/// Elements a sequence comparison looks ahead for a run inserted or removed.
const LOOKAHEAD: usize = 4;

/// How much work one comparison may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Nesting depth compared structurally; a deeper sub-value that differs is
    /// replaced whole. Default 32.
    pub max_depth: usize,
    /// MessagePack items (scalars, containers, map keys) read over both values; past
    /// it the comparison gives up and the whole value is written. Default 200,000.
    pub max_items: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            max_depth: 32,
            max_items: 200_000,
        }
    }
}

/// The patch that turns `old` (the attribute's bytes at `base_version`) into `new`,
/// if one smaller than `new` exists within `budget`; `None`: write `new` whole.
pub fn diff(base_version: u64, old: &[u8], new: &[u8], budget: &Budget) -> Option<Patch> {
    if old == new {
        return None;
    }
    let mut cx = Cx {
        old,
        new,
        items: 0,
        budget,
        splices: Vec::new(),
    };
    let old_end = cx.skip_old(0)?;
    let new_end = cx.skip_new(0)?;
    if old_end != old.len() || new_end != new.len() {
        return None;
    }
    cx.value(0..old.len(), 0..new.len(), 0)?;
    let splices = merged(&cx.splices, new);
    let size = HEADER_LEN
        + splices
            .iter()
            .map(|s| SPLICE_HEADER_LEN + s.inserted.len())
            .sum::<usize>();
    if size >= new.len() {
        return None;
    }
    let patch = Patch::encode(base_version, old.len(), new.len(), &splices);
    // The walk builds the new bytes from the old ones by construction; checking it
    // costs one copy and makes a wrong patch impossible to hand out.
    let applied = patch.apply(base_version, old).ok()?;
    (applied.as_ref() == new).then_some(patch)
}

/// The change that stores `new` for an attribute stored as `base`: a
/// [`Change::Patch`] if [`diff`] finds one, else [`Change::Set`].
pub fn change(base: Option<&AttrEntry>, new: Bytes, budget: &Budget) -> Change {
    let patch = base.and_then(|b| diff(b.version, &b.value, &new, budget));
    match patch {
        Some(patch) => Change::Patch { patch, value: new },
        None => Change::Set(new),
    }
}

/// One splice while comparing: old range replaced by a new range.
#[derive(Debug, Clone)]
struct Edit {
    old: Range<usize>,
    new: Range<usize>,
}

impl Edit {
    fn cost(&self) -> usize {
        SPLICE_HEADER_LEN + self.new.len()
    }
}

/// Joins edits that touch (one ends where the next starts, in both encodings).
fn merged<'a>(edits: &[Edit], new: &'a [u8]) -> Vec<Splice<'a>> {
    let mut out: Vec<Edit> = Vec::with_capacity(edits.len());
    for e in edits {
        match out.last_mut() {
            Some(last) if last.old.end == e.old.start && last.new.end == e.new.start => {
                last.old.end = e.old.end;
                last.new.end = e.new.end;
            }
            _ => out.push(e.clone()),
        }
    }
    out.into_iter()
        .map(|e| Splice {
            offset: e.old.start,
            removed: e.old.len(),
            inserted: &new[e.new],
        })
        .collect()
}

/// What a MessagePack header announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A scalar with this many bytes after its header.
    Scalar(usize),
    Array(usize),
    Map(usize),
}

/// The header at `pos`: what it announces and where its body starts. `None` past the
/// end or on the reserved marker.
fn header(buf: &[u8], pos: usize) -> Option<(Kind, usize)> {
    let marker = Marker::from_u8(*buf.get(pos)?);
    let at = pos + 1;
    let len = |n: usize| -> Option<usize> {
        let b = buf.get(at..at + n)?;
        Some(b.iter().fold(0usize, |acc, &x| (acc << 8) | x as usize))
    };
    let (kind, extra) = match marker {
        Marker::FixPos(_) | Marker::FixNeg(_) | Marker::Null | Marker::True | Marker::False => {
            (Kind::Scalar(0), 0)
        }
        Marker::U8 | Marker::I8 => (Kind::Scalar(1), 0),
        Marker::U16 | Marker::I16 => (Kind::Scalar(2), 0),
        Marker::U32 | Marker::I32 | Marker::F32 => (Kind::Scalar(4), 0),
        Marker::U64 | Marker::I64 | Marker::F64 => (Kind::Scalar(8), 0),
        Marker::FixStr(n) => (Kind::Scalar(n as usize), 0),
        Marker::Str8 | Marker::Bin8 => (Kind::Scalar(len(1)?), 1),
        Marker::Str16 | Marker::Bin16 => (Kind::Scalar(len(2)?), 2),
        Marker::Str32 | Marker::Bin32 => (Kind::Scalar(len(4)?), 4),
        Marker::FixExt1 => (Kind::Scalar(2), 0),
        Marker::FixExt2 => (Kind::Scalar(3), 0),
        Marker::FixExt4 => (Kind::Scalar(5), 0),
        Marker::FixExt8 => (Kind::Scalar(9), 0),
        Marker::FixExt16 => (Kind::Scalar(17), 0),
        // The type byte follows the length.
        Marker::Ext8 => (Kind::Scalar(len(1)? + 1), 1),
        Marker::Ext16 => (Kind::Scalar(len(2)? + 1), 2),
        Marker::Ext32 => (Kind::Scalar(len(4)? + 1), 4),
        Marker::FixArray(n) => (Kind::Array(n as usize), 0),
        Marker::Array16 => (Kind::Array(len(2)?), 2),
        Marker::Array32 => (Kind::Array(len(4)?), 4),
        Marker::FixMap(n) => (Kind::Map(n as usize), 0),
        Marker::Map16 => (Kind::Map(len(2)?), 2),
        Marker::Map32 => (Kind::Map(len(4)?), 4),
        Marker::Reserved => return None,
    };
    Some((kind, at + extra))
}

/// The comparison's state: both encodings, the budget spent, the edits so far.
struct Cx<'a> {
    old: &'a [u8],
    new: &'a [u8],
    items: usize,
    budget: &'a Budget,
    splices: Vec<Edit>,
}

impl Cx<'_> {
    /// Counts `n` items against the budget; `None` once it is spent.
    fn spend(&mut self, n: usize) -> Option<()> {
        self.items = self.items.checked_add(n)?;
        (self.items <= self.budget.max_items).then_some(())
    }

    fn skip_old(&mut self, pos: usize) -> Option<usize> {
        let buf = self.old;
        self.skip(buf, pos)
    }

    fn skip_new(&mut self, pos: usize) -> Option<usize> {
        let buf = self.new;
        self.skip(buf, pos)
    }

    /// The end of the value at `pos`, without recursion (a deep value cannot
    /// overflow the stack): it counts the items still to read.
    fn skip(&mut self, buf: &[u8], mut pos: usize) -> Option<usize> {
        let mut pending: usize = 1;
        while pending > 0 {
            pending -= 1;
            self.spend(1)?;
            let (kind, body) = header(buf, pos)?;
            pos = match kind {
                Kind::Scalar(n) => body.checked_add(n)?,
                Kind::Array(n) => {
                    pending = pending.checked_add(n)?;
                    body
                }
                Kind::Map(n) => {
                    pending = pending.checked_add(n.checked_mul(2)?)?;
                    body
                }
            };
            if pos > buf.len() {
                return None;
            }
        }
        Some(pos)
    }

    /// The ranges of `count` consecutive values from `pos` in `buf`.
    fn items(&mut self, buf: &[u8], mut pos: usize, count: usize) -> Option<Vec<Range<usize>>> {
        // A count beyond the bytes left is malformed, before anything is allocated.
        if count > buf.len().saturating_sub(pos) {
            return None;
        }
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            let end = self.skip(buf, pos)?;
            out.push(pos..end);
            pos = end;
        }
        Some(out)
    }

    fn replace(&mut self, old: Range<usize>, new: Range<usize>) {
        self.splices.push(Edit { old, new });
    }

    /// Compares the value at `old` with the one at `new`; `None` if the budget ran
    /// out or an encoding is malformed.
    fn value(&mut self, old: Range<usize>, new: Range<usize>, depth: usize) -> Option<()> {
        if self.old[old.clone()] == self.new[new.clone()] {
            return Some(());
        }
        if depth >= self.budget.max_depth {
            self.replace(old, new);
            return Some(());
        }
        let (ok, ob) = header(self.old, old.start)?;
        let (nk, nb) = header(self.new, new.start)?;
        let start = self.splices.len();
        // A header that changed (a new length) is one splice of its own.
        let head = |cx: &mut Self| {
            if cx.old[old.start..ob] != cx.new[new.start..nb] {
                cx.replace(old.start..ob, new.start..nb);
            }
        };
        match (ok, nk) {
            (Kind::Array(a), Kind::Array(b)) => {
                head(self);
                let olds = self.items(self.old, ob, a)?;
                let news = self.items(self.new, nb, b)?;
                self.sequence(&olds, &news, old.end, new.end, depth)?;
            }
            (Kind::Map(a), Kind::Map(b)) => {
                head(self);
                let olds = self.items(self.old, ob, a.checked_mul(2)?)?;
                let news = self.items(self.new, nb, b.checked_mul(2)?)?;
                if !self.map(&olds, &news, old.end, new.end, depth)? {
                    self.splices.truncate(start);
                    self.replace(old, new);
                    return Some(());
                }
            }
            _ => {
                self.replace(old, new);
                return Some(());
            }
        }
        // Changes that cost more than the container itself: replace it instead.
        let cost: usize = self.splices[start..].iter().map(Edit::cost).sum();
        if cost >= SPLICE_HEADER_LEN + new.len() {
            self.splices.truncate(start);
            self.replace(old, new);
        }
        Some(())
    }

    /// Sequences: their common first and last elements set aside, the rest is
    /// walked in step; where two elements differ, a run of up to [`LOOKAHEAD`]
    /// elements inserted or removed is recognised by the next element matching, and
    /// otherwise the two are compared in turn.
    fn sequence(
        &mut self,
        olds: &[Range<usize>],
        news: &[Range<usize>],
        old_end: usize,
        new_end: usize,
        depth: usize,
    ) -> Option<()> {
        let shorter = olds.len().min(news.len());
        let prefix = (0..shorter)
            .take_while(|&i| self.same(&olds[i], &news[i]))
            .count();
        let suffix = (0..shorter - prefix)
            .take_while(|&i| self.same(&olds[olds.len() - 1 - i], &news[news.len() - 1 - i]))
            .count();
        let at = |r: &[Range<usize>], i: usize, end: usize| r.get(i).map_or(end, |x| x.start);
        // Where the middles end: the first common last element, or the sequence's end.
        let o_stop = at(olds, olds.len() - suffix, old_end);
        let n_stop = at(news, news.len() - suffix, new_end);
        let om = &olds[prefix..olds.len() - suffix];
        let nm = &news[prefix..news.len() - suffix];
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
            self.replace(om[i].start..o_stop, n_stop..n_stop);
        } else if j < nm.len() {
            self.replace(o_stop..o_stop, nm[j].start..n_stop);
        }
        Some(())
    }

    fn same(&self, o: &Range<usize>, n: &Range<usize>) -> bool {
        self.old[o.clone()] == self.new[n.clone()]
    }

    /// Maps by key. `olds` and `news` alternate key and value ranges. False if the
    /// keys the two share are not in the same order (or a key repeats): the caller
    /// replaces the map.
    fn map(
        &mut self,
        olds: &[Range<usize>],
        news: &[Range<usize>],
        old_end: usize,
        new_end: usize,
        depth: usize,
    ) -> Option<bool> {
        let mut index: HashMap<&[u8], usize> = HashMap::with_capacity(olds.len() / 2);
        for (i, pair) in olds.chunks_exact(2).enumerate() {
            if index.insert(&self.old[pair[0].clone()], i).is_some() {
                return Some(false);
            }
        }
        let pairs = olds.len() / 2;
        let pair_start = |i: usize| if i < pairs { olds[2 * i].start } else { old_end };
        // The first old pair not yet kept or cut out.
        let mut next = 0usize;
        let mut seen = std::collections::HashSet::with_capacity(news.len() / 2);
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
            self.replace(pair_start(next)..old_end, new_end..new_end);
        }
        Some(true)
    }
}

#[cfg(test)]
mod tests;
