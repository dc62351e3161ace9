//! A patch: the change inside one attribute, as byte splices on the encoding it was
//! computed against.
//!
//! A patch names the attribute version it applies to (its *base*) and the length of
//! the base's bytes, so a store applies it only to exactly those bytes: a base of
//! another version, or of another length, refuses the patch and nothing is applied.
//! Versions come from one per-session counter and are never reused, so the version
//! alone pins the bytes; the length is a second, cheap check.
//!
//! # Wire format (version 1)
//!
//! Every number is big-endian and unsigned.
//!
//! | bytes | field |
//! |---|---|
//! | 1 | format, `1` |
//! | 8 | base version |
//! | 4 | base length |
//! | 4 | result length |
//! | 4 | splice count |
//! | per splice: 4 + 4 + 4 + n | offset in the base, bytes removed there, `n`, the `n` bytes inserted |
//!
//! Splices are in increasing offset order and do not overlap: each starts at or after
//! the end of the bytes the one before removed. Fixed-width fields cost a few bytes
//! more than variable-length ones and let each store decode a patch in a few lines
//! (Lua's `struct`, PL/pgSQL's `get_byte`, Rust's `from_be_bytes`).
//!
//! ```
//! use tenure_core::patch::{Patch, Splice};
//! let base = b"hello world";
//! let patch = Patch::encode(7, base.len(), 11, &[Splice { offset: 6, removed: 5, inserted: b"there" }]);
//! assert_eq!(patch.apply(7, base).unwrap().as_ref(), b"hello there");
//! assert!(patch.apply(8, base).is_err()); // another base version: refused
//! ```

use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};

/// The format byte of [`Patch`] version 1.
pub const FORMAT: u8 = 1;

/// Bytes of a patch before its first splice.
pub const HEADER_LEN: usize = 1 + 8 + 4 + 4 + 4;

/// Bytes of one splice besides its inserted bytes.
pub const SPLICE_HEADER_LEN: usize = 12;

/// One splice: at `offset` in the base, remove `removed` bytes and insert `inserted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Splice<'a> {
    /// Where in the base.
    pub offset: usize,
    /// How many base bytes it replaces.
    pub removed: usize,
    /// What it puts there.
    pub inserted: &'a [u8],
}

/// Why a patch was not applied. Nothing is applied in every case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatchError {
    /// The patch was computed against another version of the attribute.
    #[error("the patch applies to version {expected}, the attribute is at {found}")]
    BaseVersion {
        /// The version the patch names.
        expected: u64,
        /// The attribute's version.
        found: u64,
    },
    /// The attribute's bytes are not as long as the patch's base.
    #[error("the patch applies to {expected} bytes, the attribute has {found}")]
    BaseLength {
        /// The length the patch names.
        expected: usize,
        /// The attribute's length.
        found: usize,
    },
    /// The bytes are not a patch: truncated, out of order, out of the base's bounds,
    /// trailing bytes, or a result of another length than announced.
    #[error("malformed patch: {0}")]
    Malformed(&'static str),
}

/// An encoded patch (see the [module docs](self) for the format). Any bytes may be
/// wrapped; [`Patch::apply`] checks them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Patch(Bytes);

impl Patch {
    /// Wraps encoded bytes, unchecked.
    pub fn from_bytes(bytes: Bytes) -> Self {
        Self(bytes)
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// Length of the encoding.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for an empty encoding (never a valid patch).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Encodes splices against a base of `base_len` bytes at `base_version` that give
    /// `result_len` bytes. The caller keeps the splices ordered and within the base
    /// (`apply` refuses them otherwise).
    pub fn encode(
        base_version: u64,
        base_len: usize,
        result_len: usize,
        splices: &[Splice<'_>],
    ) -> Self {
        let payload: usize = splices.iter().map(|s| s.inserted.len()).sum();
        let mut out =
            BytesMut::with_capacity(HEADER_LEN + SPLICE_HEADER_LEN * splices.len() + payload);
        out.put_u8(FORMAT);
        out.put_u64(base_version);
        out.put_u32(clamp(base_len));
        out.put_u32(clamp(result_len));
        out.put_u32(clamp(splices.len()));
        for s in splices {
            out.put_u32(clamp(s.offset));
            out.put_u32(clamp(s.removed));
            out.put_u32(clamp(s.inserted.len()));
            out.put_slice(s.inserted);
        }
        Self(out.freeze())
    }

    /// The base version the patch names, if the bytes hold a header.
    pub fn base_version(&self) -> Option<u64> {
        let b = self.0.get(1..9)?;
        (self.0.first() == Some(&FORMAT)).then(|| u64::from_be_bytes(bytes8(b)))
    }

    /// Applies the patch to `base`, the attribute's bytes at `version`. Checks
    /// everything before it builds the result, so an error leaves nothing half done.
    pub fn apply(&self, version: u64, base: &[u8]) -> Result<Bytes, PatchError> {
        let mut r = Reader(&self.0);
        if r.u8()? != FORMAT {
            return Err(PatchError::Malformed("unknown format"));
        }
        let expected = r.u64()?;
        if expected != version {
            return Err(PatchError::BaseVersion {
                expected,
                found: version,
            });
        }
        let base_len = r.u32()?;
        if base_len != base.len() {
            return Err(PatchError::BaseLength {
                expected: base_len,
                found: base.len(),
            });
        }
        let result_len = r.u32()?;
        let count = r.u32()?;
        // Each splice takes at least its header: a count beyond that is malformed
        // before anything is allocated for it.
        if count > r.0.len() / SPLICE_HEADER_LEN {
            return Err(PatchError::Malformed("more splices than bytes"));
        }
        let mut out = Vec::with_capacity(result_len.min(base.len() + r.0.len()));
        let mut cursor = 0usize;
        for _ in 0..count {
            let offset = r.u32()?;
            let removed = r.u32()?;
            let n = r.u32()?;
            let inserted = r.take(n)?;
            let end = offset
                .checked_add(removed)
                .filter(|&end| offset >= cursor && end <= base.len())
                .ok_or(PatchError::Malformed(
                    "splice out of order or out of bounds",
                ))?;
            out.extend_from_slice(&base[cursor..offset]);
            out.extend_from_slice(inserted);
            cursor = end;
            if out.len() > result_len {
                return Err(PatchError::Malformed("result longer than announced"));
            }
        }
        if !r.0.is_empty() {
            return Err(PatchError::Malformed("trailing bytes"));
        }
        out.extend_from_slice(&base[cursor..]);
        if out.len() != result_len {
            return Err(PatchError::Malformed(
                "result length differs from announced",
            ));
        }
        Ok(Bytes::from(out))
    }
}

/// Lengths beyond `u32` cannot be encoded; the attribute size limit keeps values far
/// below. A clamped field makes `apply` refuse the patch rather than misapply it.
fn clamp(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn bytes8(b: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(&b[..8]);
    out
}

/// Reads the fields of a patch, failing on truncation.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PatchError> {
        if self.0.len() < n {
            return Err(PatchError::Malformed("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, PatchError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<usize, PatchError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }

    fn u64(&mut self) -> Result<u64, PatchError> {
        Ok(u64::from_be_bytes(bytes8(self.take(8)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn splice(offset: usize, removed: usize, inserted: &[u8]) -> Splice<'_> {
        Splice {
            offset,
            removed,
            inserted,
        }
    }

    #[test]
    fn splices_apply_in_order() {
        let base = b"0123456789";
        let p = Patch::encode(
            3,
            10,
            10,
            &[
                splice(0, 1, b"ab"),
                splice(1, 0, b"-"),
                splice(5, 5, b"xyz"),
            ],
        );
        assert_eq!(p.apply(3, base).unwrap().as_ref(), b"ab-1234xyz");
        assert_eq!(p.base_version(), Some(3));
    }

    #[test]
    fn wrong_base_is_refused() {
        let p = Patch::encode(3, 4, 4, &[splice(0, 1, b"x")]);
        assert!(matches!(
            p.apply(4, b"abcd"),
            Err(PatchError::BaseVersion { .. })
        ));
        assert!(matches!(
            p.apply(3, b"abc"),
            Err(PatchError::BaseLength { .. })
        ));
    }

    #[test]
    fn overlapping_or_out_of_bounds_splices_are_malformed() {
        let base = b"abcdef";
        for bad in [
            Patch::encode(1, 6, 6, &[splice(2, 2, b"xx"), splice(3, 0, b"")]),
            Patch::encode(1, 6, 6, &[splice(5, 2, b"xx")]),
            Patch::encode(1, 6, 7, &[splice(0, 0, b"x"), splice(0, 0, b"")]).truncated(),
            Patch::encode(1, 6, 9, &[splice(0, 0, b"x")]),
        ] {
            assert!(
                matches!(bad.apply(1, base), Err(PatchError::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    impl Patch {
        fn truncated(&self) -> Self {
            Self(self.0.slice(..self.0.len() - 1))
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..96),
                                       base in proptest::collection::vec(any::<u8>(), 0..32)) {
            let _ = Patch::from_bytes(Bytes::from(bytes)).apply(1, &base);
        }

        #[test]
        fn arbitrary_bytes_with_a_valid_header_never_panic(
            tail in proptest::collection::vec(any::<u8>(), 0..96),
            base in proptest::collection::vec(any::<u8>(), 0..32),
            result in 0usize..64,
        ) {
            let mut bytes = Patch::encode(1, base.len(), result, &[]).0.to_vec();
            bytes.truncate(HEADER_LEN - 4);
            bytes.extend_from_slice(&tail);
            let _ = Patch::from_bytes(Bytes::from(bytes)).apply(1, &base);
        }
    }
}
