//! Structural comparison: the patch that turns one MessagePack value into another,
//! found by comparing the two values' structure rather than only their bytes.
//!
//! First it compares the bytes from both ends: a change in one place whose new bytes
//! are at most [`ONE_SPLICE_MAX`] long (a scalar changed, an item replaced) is that one
//! splice, whatever the codec. Otherwise the comparison walks both encodings at once,
//! top down:
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
//! whole value) whenever the patch would not be smaller than the value (beyond one
//! small splice, a value of another codec does not parse as MessagePack containers,
//! so it is replaced whole, and that is never smaller), would have more than [`MAX_SPLICES`] splices, or the
//! budget ran out. Of the old encoding only what comes before the last difference is
//! read, of the new one only what lies between the first and the last, and neither is
//! checked to be well formed: instead, `diff` applies the patch it found to the old
//! bytes and answers `None` unless that gives exactly the new bytes, so a patch it
//! hands out is always right.
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

use std::ops::Range;

use bytes::Bytes;

mod compare;
mod walk;

use crate::delta::Change;
pub(super) use crate::patch::SPLICE_HEADER_LEN;
use crate::patch::{Patch, Splice, HEADER_LEN};
use crate::snapshot::AttrEntry;

/// Most splices a patch may have; more and the whole value is written. Every store
/// applies a patch in one pass, but a patch of thousands of scattered changes saves
/// little and costs the store's interpreter the most.
pub const MAX_SPLICES: usize = 128;

/// Deepest [`Budget::max_depth`] honoured: the comparison recurses per level.
pub const MAX_DEPTH: usize = 64;

/// Elements a sequence comparison looks ahead for a run inserted or removed.
pub(super) const LOOKAHEAD: usize = 4;

/// How much work one comparison may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Nesting depth compared structurally; a deeper sub-value that differs is
    /// replaced whole. Default 32; at most [`MAX_DEPTH`].
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

/// A change in one place whose new bytes are at most this long is sent as the one
/// splice around it, found by comparing the bytes from both ends, without walking
/// the structure: for a scalar changed or an item replaced inside a large value the
/// walk finds no smaller patch (it can for changes a few bytes apart, which this
/// sends as one splice), and it reads the value's structure up to the change (about
/// 27 µs for workload (f)'s 50 KB cart, against about 2 µs for the two byte
/// comparisons).
pub const ONE_SPLICE_MAX: usize = 128;

/// The patch that turns `old` (the attribute's bytes at `base_version`) into `new`,
/// if one smaller than `new` exists within `budget`; `None`: write `new` whole.
pub fn diff(base_version: u64, old: &[u8], new: &[u8], budget: &Budget) -> Option<Patch> {
    let prefix = walk::common_prefix(old, new);
    if prefix == old.len() && prefix == new.len() {
        return None;
    }
    let suffix = walk::common_suffix(&old[prefix..], &new[prefix..]);
    let inserted = &new[prefix..new.len() - suffix];
    if inserted.len() <= ONE_SPLICE_MAX {
        // Right by construction: the bytes before and after are the same in both.
        let one = Splice {
            offset: prefix,
            removed: old.len() - prefix - suffix,
            inserted,
        };
        let size = HEADER_LEN + SPLICE_HEADER_LEN + inserted.len();
        if size < new.len() {
            return Some(Patch::encode(base_version, old.len(), new.len(), &[one]));
        }
        // Not smaller than a small value: the walk may still find a smaller patch.
    }
    let mut cx = Cx {
        old,
        new,
        items: 0,
        budget,
        splices: Vec::new(),
    };
    // Neither side is checked to be well formed beforehand, and the check below
    // makes any patch right.
    cx.value(0..old.len(), 0..new.len(), 0)?;
    let splices = merged(&cx.splices, new);
    if splices.len() > MAX_SPLICES {
        return None;
    }
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
pub(super) struct Edit {
    old: Range<usize>,
    new: Range<usize>,
}

impl Edit {
    pub(super) fn cost(&self) -> usize {
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

/// The comparison's state: both encodings, the budget spent, the edits so far.
struct Cx<'a> {
    old: &'a [u8],
    new: &'a [u8],
    items: usize,
    budget: &'a Budget,
    splices: Vec<Edit>,
}

#[cfg(test)]
mod tests;
