//! What a commit carries: the attributes to set or remove, each with an optional
//! expectation for optimistic commits.
//!
//! The wire form ([`Delta::encode`]) is MessagePack. [`Delta::decode`] returns an error,
//! never panics, on any input.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::patch::Patch;
use crate::snapshot::{AttrEntry, Snapshot};

/// What a commit does to one attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    /// Store these encoded bytes.
    Set(Bytes),
    /// Remove the attribute.
    Remove,
    /// Apply `patch` to the attribute's bytes as stored before this commit (the patch
    /// names their version and length; see [`crate::patch`]). A store refuses the
    /// whole commit if the patch does not apply, and applies nothing.
    Patch {
        /// What is sent.
        patch: Patch,
        /// The whole new value: kept by the sender, for sending again as a
        /// [`Change::Set`] to a store that refused the patch or cannot apply patches
        /// ([`Delta::without_patches`]). Never sent, and empty in a decoded delta.
        #[serde(skip)]
        value: Bytes,
    },
}

/// What an optimistic commit expects to find before it applies an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Expect {
    /// No check (fenced commits: the tenure already excludes other writers).
    #[default]
    Any,
    /// The attribute must not exist.
    Absent,
    /// The attribute must exist at exactly this version.
    Version(u64),
}

/// One operation of a delta.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttrOp {
    /// Attribute name.
    pub name: String,
    /// The change.
    pub change: Change,
    /// The expectation checked by optimistic commits.
    pub expect: Expect,
}

/// Attributes whose expectations failed: the optimistic commit applied nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default, thiserror::Error)]
#[error("attributes changed since they were loaded: {}", attrs.join(", "))]
pub struct Conflict {
    /// Names of the attributes that changed.
    pub attrs: Vec<String>,
}

/// Patches that do not apply to the session as stored: the commit applied nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default, thiserror::Error)]
#[error("patches do not apply to the stored attributes: {}", attrs.join(", "))]
pub struct PatchRefused {
    /// Names of the attributes whose patch was refused.
    pub attrs: Vec<String>,
}

/// Bytes that are not a delta.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed delta: {message}")]
pub struct DeltaDecodeError {
    /// What the decoder said.
    pub message: String,
}

/// The changes one commit applies to a session.
///
/// ```
/// use tenure_core::{Bytes, Delta, Snapshot};
/// let mut snap = Snapshot::new(1, [("a".to_string(), Bytes::from_static(b"1"))]);
/// let mut delta = Delta::default();
/// delta.set("b", Bytes::from_static(b"2"));
/// delta.remove("a");
/// delta.apply_to(&mut snap);
/// assert_eq!(snap.version, 2);
/// assert_eq!(snap.value("b").unwrap().as_ref(), b"2");
/// assert!(snap.value("a").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Delta {
    /// Operations in order; a later operation on the same name wins.
    pub ops: Vec<AttrOp>,
    /// Remove every attribute the operations do not set (whole-session writes, as the
    /// last-writer-wins mode does).
    pub replace_all: bool,
    /// New timeouts for the session, applied with the operations (per-session expiry,
    /// e.g. "remember me"): the idle timeout runs from this commit, the absolute one
    /// from the session's creation. `None` keeps the timeouts it has.
    #[serde(default)]
    pub expiry: Option<crate::Expiry>,
}

impl Delta {
    /// Adds an unconditional set.
    pub fn set(&mut self, name: impl Into<String>, value: Bytes) {
        self.push(name, Change::Set(value), Expect::Any);
    }

    /// Adds an unconditional remove.
    pub fn remove(&mut self, name: impl Into<String>) {
        self.push(name, Change::Remove, Expect::Any);
    }

    /// Adds an operation with an expectation.
    pub fn push(&mut self, name: impl Into<String>, change: Change, expect: Expect) {
        self.ops.push(AttrOp {
            name: name.into(),
            change,
            expect,
        });
    }

    /// True if applying the delta changes nothing.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty() && !self.replace_all && self.expiry.is_none()
    }

    /// The attributes whose expectation `snap` does not meet. Empty means the delta may
    /// be applied.
    pub fn conflicts(&self, snap: &Snapshot) -> Conflict {
        let mut attrs: Vec<String> = self
            .ops
            .iter()
            .filter(|op| {
                let current = snap.attrs.get(&op.name).map(|e| e.version);
                match op.expect {
                    Expect::Any => false,
                    Expect::Absent => current.is_some(),
                    Expect::Version(v) => current != Some(v),
                }
            })
            .map(|op| op.name.clone())
            .collect();
        attrs.dedup();
        Conflict { attrs }
    }

    /// Whether the delta carries a patch.
    pub fn has_patches(&self) -> bool {
        self.patch_count() > 0
    }

    /// How many of the operations are patches.
    pub fn patch_count(&self) -> usize {
        self.ops
            .iter()
            .filter(|op| matches!(op.change, Change::Patch { .. }))
            .count()
    }

    /// The delta with each patch replaced by the whole value it makes (what a store
    /// is sent after it refused a patch, or one that cannot apply patches).
    pub fn without_patches(mut self) -> Delta {
        for op in &mut self.ops {
            if let Change::Patch { value, .. } = &mut op.change {
                op.change = Change::Set(std::mem::take(value));
            }
        }
        self
    }

    /// The delta with every patch applied to `snap` (the session as stored before
    /// the commit), as the values they make; or the names of the attributes whose
    /// patch does not apply (another version or length, or malformed). Every patch is
    /// checked before anything is answered, so a refusal names all of them.
    pub fn resolve_patches(&self, snap: &Snapshot) -> Result<Delta, PatchRefused> {
        let mut resolved = self.clone();
        if !self.has_patches() {
            return Ok(resolved);
        }
        let mut refused = Vec::new();
        for op in &mut resolved.ops {
            if let Change::Patch { patch, .. } = &op.change {
                let applied = snap
                    .attrs
                    .get(&op.name)
                    .and_then(|e| patch.apply(e.version, &e.value).ok());
                match applied {
                    Some(value) => op.change = Change::Set(value),
                    None => refused.push(op.name.clone()),
                }
            }
        }
        if refused.is_empty() {
            Ok(resolved)
        } else {
            let mut seen = std::collections::BTreeSet::new();
            refused.retain(|name| seen.insert(name.clone()));
            Err(PatchRefused { attrs: refused })
        }
    }

    /// Applies the delta (without checking expectations) as one new session version,
    /// and returns that version. A delta without operations (empty, or carrying only new
    /// timeouts) changes no attribute and keeps the version. Patches are applied to the
    /// attributes as they were before the delta; if any does not apply, the delta
    /// changes nothing at all and the version stays ([`Delta::resolve_patches`] says
    /// which, as a store answers `PatchRefused`).
    pub fn apply_to(&self, snap: &mut Snapshot) -> u64 {
        let resolved;
        let this = if self.has_patches() {
            match self.resolve_patches(snap) {
                Ok(r) => {
                    resolved = r;
                    &resolved
                }
                Err(_) => return snap.version,
            }
        } else {
            self
        };
        // New timeouts alone change no attribute, so no version.
        if self.ops.is_empty() && !self.replace_all {
            return snap.version;
        }
        let version = snap.version + 1;
        if this.replace_all {
            snap.attrs.clear();
        }
        for op in &this.ops {
            match &op.change {
                Change::Set(value) => {
                    snap.attrs.insert(
                        op.name.clone(),
                        AttrEntry {
                            value: value.clone(),
                            version,
                        },
                    );
                }
                Change::Remove => {
                    snap.attrs.remove(&op.name);
                }
                Change::Patch { .. } => {}
            }
        }
        snap.version = version;
        version
    }

    /// The smallest delta that turns `from` into `to` (binary comparison per attribute).
    pub fn diff<'a>(
        from: &Snapshot,
        to: impl IntoIterator<Item = (&'a String, &'a Bytes)> + Clone,
    ) -> Delta {
        let mut delta = Delta::default();
        for (name, value) in to.clone() {
            if from.value(name) != Some(value) {
                delta.set(name.clone(), value.clone());
            }
        }
        let kept: std::collections::BTreeSet<&String> = to.into_iter().map(|(k, _)| k).collect();
        for name in from.attrs.keys() {
            if !kept.contains(name) {
                delta.remove(name.clone());
            }
        }
        delta
    }

    /// Sum of the names and values (or patches) the delta carries, in bytes.
    pub fn payload_bytes(&self) -> usize {
        self.ops
            .iter()
            .map(|op| {
                op.name.len()
                    + match &op.change {
                        Change::Set(v) => v.len(),
                        Change::Remove => 0,
                        Change::Patch { patch, .. } => patch.len(),
                    }
            })
            .sum()
    }

    /// The wire form (MessagePack).
    pub fn encode(&self) -> Vec<u8> {
        // A Delta holds only strings, bytes, integers and enums: encoding cannot fail.
        rmp_serde::to_vec(self).unwrap_or_default()
    }

    /// Reads the wire form back.
    pub fn decode(bytes: &[u8]) -> Result<Self, DeltaDecodeError> {
        rmp_serde::from_slice(bytes).map_err(|e| DeltaDecodeError {
            message: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn attrs() -> impl Strategy<Value = BTreeMap<String, Vec<u8>>> {
        proptest::collection::btree_map(
            "[a-e]{1,2}",
            proptest::collection::vec(any::<u8>(), 0..16),
            0..8,
        )
    }

    fn snap(m: &BTreeMap<String, Vec<u8>>) -> Snapshot {
        Snapshot::new(
            3,
            m.iter().map(|(k, v)| (k.clone(), Bytes::from(v.clone()))),
        )
    }

    proptest! {
        #[test]
        fn applying_the_diff_of_a_to_b_on_a_gives_b(a in attrs(), b in attrs()) {
            let mut s = snap(&a);
            let target: BTreeMap<String, Bytes> = b.iter().map(|(k, v)| (k.clone(), Bytes::from(v.clone()))).collect();
            let delta = Delta::diff(&s, &target);
            delta.apply_to(&mut s);
            let got: BTreeMap<String, Bytes> = s.attrs.into_iter().map(|(k, e)| (k, e.value)).collect();
            prop_assert_eq!(got, target);
        }

        #[test]
        fn diff_touches_only_changed_attributes(a in attrs()) {
            let s = snap(&a);
            let same: BTreeMap<String, Bytes> = a.iter().map(|(k, v)| (k.clone(), Bytes::from(v.clone()))).collect();
            prop_assert!(Delta::diff(&s, &same).is_empty());
        }

        #[test]
        fn wire_roundtrip(a in attrs(), removes in proptest::collection::vec("[a-z]{1,3}", 0..4), v in any::<u64>()) {
            let mut d = Delta::default();
            for (k, val) in &a { d.push(k.clone(), Change::Set(Bytes::from(val.clone())), Expect::Version(v)); }
            for r in removes { d.push(r, Change::Remove, Expect::Absent); }
            prop_assert_eq!(Delta::decode(&d.encode()).unwrap(), d);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = Delta::decode(&bytes);
        }
    }

    #[test]
    fn conflicts_name_only_the_changed_attributes() {
        let s = Snapshot::new(
            5,
            [
                ("a".into(), Bytes::from_static(b"x")),
                ("b".into(), Bytes::from_static(b"y")),
            ],
        );
        let mut d = Delta::default();
        d.push("a", Change::Set(Bytes::new()), Expect::Version(5));
        d.push("b", Change::Set(Bytes::new()), Expect::Version(4));
        d.push("c", Change::Set(Bytes::new()), Expect::Absent);
        d.push("a", Change::Remove, Expect::Absent);
        assert_eq!(
            d.conflicts(&s).attrs,
            vec!["b".to_string(), "a".to_string()]
        );
    }
}
