//! Reading MessagePack just enough: headers, the end of a value, and the part of a
//! container that differs between the two encodings.

use std::ops::Range;

use rmp::Marker;

use super::Cx;

/// What a MessagePack header announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A scalar with this many bytes after its header.
    Scalar(usize),
    Array(usize),
    Map(usize),
}

/// The header at `pos`: what it announces and where its body starts. `None` past the
/// end or on the reserved marker.
pub(super) fn header(buf: &[u8], pos: usize) -> Option<(Kind, usize)> {
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

/// Bytes compared at once when looking for the first or last difference.
const CHUNK: usize = 64;

/// How many first bytes `a` and `b` share.
pub(super) fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + CHUNK <= n && a[i..i + CHUNK] == b[i..i + CHUNK] {
        i += CHUNK;
    }
    i + a[i..n]
        .iter()
        .zip(&b[i..n])
        .take_while(|(x, y)| x == y)
        .count()
}

/// How many last bytes `a` and `b` share.
pub(super) fn common_suffix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let (ea, eb) = (a.len(), b.len());
    let mut i = 0;
    while i + CHUNK <= n && a[ea - i - CHUNK..ea - i] == b[eb - i - CHUNK..eb - i] {
        i += CHUNK;
    }
    i + a[..ea - i]
        .iter()
        .rev()
        .zip(b[..eb - i].iter().rev())
        .take(n - i)
        .take_while(|(x, y)| x == y)
        .count()
}

/// The entries of two containers that differ: each side's items (an array's
/// elements, or a map's keys and values in turn) between the entries the two have in
/// common at the start and at the end, and where that middle ends on each side.
#[derive(Debug)]
pub(super) struct Middle {
    pub(super) old: Vec<Range<usize>>,
    pub(super) new: Vec<Range<usize>>,
    /// Where the old middle ends: the first common last entry, or the container's end.
    pub(super) old_stop: usize,
    /// The same in the new container.
    pub(super) new_stop: usize,
}

/// One container's body to walk: where its entries start and end, how many there
/// are, and how many items each has (1 for an array, 2 for a map).
#[derive(Debug, Clone)]
pub(super) struct Body {
    pub(super) range: Range<usize>,
    pub(super) entries: usize,
    pub(super) unit: usize,
}

impl Cx<'_> {
    /// Counts `n` items against the budget; `None` once it is spent.
    fn spend(&mut self, n: usize) -> Option<()> {
        self.items = self.items.checked_add(n)?;
        (self.items <= self.budget.max_items).then_some(())
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

    /// Reads entry `index` of `body` from `pos` in `buf`, pushing its items' ranges
    /// to `out`; answers where it ends. The last entry's last item ends where the
    /// body does, so it is not read: a change deep inside it costs no walk here.
    fn entry(
        &mut self,
        buf: &[u8],
        body: &Body,
        index: usize,
        mut pos: usize,
        out: Option<&mut Vec<Range<usize>>>,
    ) -> Option<usize> {
        let mut out = out;
        for item in 0..body.unit {
            let last = index + 1 == body.entries && item + 1 == body.unit;
            let end = if last {
                body.range.end
            } else {
                self.skip(buf, pos)?
            };
            if end > body.range.end {
                return None;
            }
            if let Some(out) = out.as_deref_mut() {
                out.push(pos..end);
            }
            pos = end;
        }
        Some(pos)
    }

    /// The entries of `old` and `new` that differ. Entries before the first
    /// differing byte are the same in both and read only in `old`; entries after the
    /// last differing byte are not read at all once both walks stand at the same
    /// distance from their ends inside the common last bytes. `None`: malformed, or
    /// the budget ran out.
    pub(super) fn middle(&mut self, old: &Body, new: &Body) -> Option<Middle> {
        let (a, b) = (self.old, self.new);
        let (ob, nb) = (&a[old.range.clone()], &b[new.range.clone()]);
        let prefix = common_prefix(ob, nb);
        let suffix = common_suffix(ob, nb).min(ob.len().min(nb.len()) - prefix);
        // Whole entries within the common first bytes.
        let (mut i, mut po) = (0, old.range.start);
        while i < old.entries.min(new.entries) {
            let end = self.entry(a, old, i, po, None)?;
            if end - old.range.start > prefix {
                break;
            }
            (i, po) = (i + 1, end);
        }
        let mut pn = new.range.start + (po - old.range.start);
        let (mut io, mut inn) = (i, i);
        let mut m = Middle {
            old: Vec::new(),
            new: Vec::new(),
            old_stop: po,
            new_stop: pn,
        };
        loop {
            let (left_o, left_n) = (old.range.end - po, new.range.end - pn);
            if left_o == left_n && left_o <= suffix {
                break;
            }
            let step_o = left_o >= left_n && io < old.entries;
            let step_n = left_n >= left_o && inn < new.entries;
            if !step_o && !step_n {
                break;
            }
            if step_o {
                po = self.entry(a, old, io, po, Some(&mut m.old))?;
                io += 1;
            }
            if step_n {
                pn = self.entry(b, new, inn, pn, Some(&mut m.new))?;
                inn += 1;
            }
        }
        // The same entries left on both sides, or the encodings disagree.
        (old.entries - io == new.entries - inn).then_some(())?;
        (m.old_stop, m.new_stop) = (po, pn);
        Some(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_ends() {
        let a: Vec<u8> = (0..200u8).collect();
        let mut b = a.clone();
        b[150] = 0;
        assert_eq!(common_prefix(&a, &b), 150);
        assert_eq!(common_suffix(&a, &b), 49);
        assert_eq!(common_prefix(&a, &a[..10]), 10);
        assert_eq!(common_suffix(&a, &a[190..]), 10);
        assert_eq!(common_suffix(b"", b"x"), 0);
    }
}
