//! Conditional takeover: what a caller of [`Store::acquire_since`] still has of a
//! session ([`Known`]), and the grant that carries only the rest ([`PartialGrant`]).
//!
//! A node that gave a session back and takes it again later usually still has the
//! copy it released; most of it is unchanged. Naming what it has lets the store send
//! only what changed, so a 100 KB session whose 10-byte note changed costs the note.

use std::collections::BTreeMap;

use tenure_core::patch::{Patch, PatchError};
use tenure_core::{AttrEntry, Snapshot};

use crate::protocol::Grant;
#[cfg(doc)]
use crate::protocol::{AcquireReply, Store};

/// What a caller already has of a session: the session version its copy is as of,
/// and the version of each attribute the copy holds (not the values, which the store
/// does not need to decide what to send).
///
/// ```
/// use tenure_core::Bytes;
/// use tenure_core::Snapshot;
/// use tenure_store::Known;
/// let copy = Snapshot::new(3, [("cart".to_string(), Bytes::from_static(b"[]"))]);
/// let known = Known::of(&copy);
/// assert_eq!(known.version, 3);
/// assert!(known.has("cart", 3));
/// assert!(!known.has("cart", 4));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Known {
    /// The session version the copy is as of.
    pub version: u64,
    /// Each attribute of the copy, with the version it has there.
    pub attrs: BTreeMap<String, u64>,
}

impl Known {
    /// What `copy` holds: its version and each attribute's version.
    pub fn of(copy: &Snapshot) -> Self {
        Self {
            version: copy.version,
            attrs: copy
                .attrs
                .iter()
                .map(|(name, entry)| (name.clone(), entry.version))
                .collect(),
        }
    }

    /// Whether the caller has attribute `name` at `version`, so a store may leave it
    /// out. Version 0 never matches: stored versions start at 1, so a 0 is a version
    /// the store does not know, and its value may be anything.
    pub fn has(&self, name: &str, version: u64) -> bool {
        version != 0 && self.attrs.get(name) == Some(&version)
    }

    /// The partial answer to this caller for a session whose data is `current`: the
    /// attributes it lacks at their current version (new ones, changed ones, and any
    /// it names at another version, also a higher one), and the names it holds that
    /// the session no longer has. `None` when the caller must get everything: its copy
    /// claims a version above the session's, so it is not a copy of this session's
    /// past. For backends that hold the whole snapshot in hand (the embedded store).
    pub fn changes(&self, current: &Snapshot) -> Option<(Snapshot, Vec<String>)> {
        if self.version > current.version {
            return None;
        }
        let attrs: BTreeMap<String, AttrEntry> = current
            .attrs
            .iter()
            .filter(|(name, entry)| !self.has(name, entry.version))
            .map(|(name, entry)| (name.clone(), entry.clone()))
            .collect();
        let removed = self
            .attrs
            .keys()
            .filter(|name| !current.attrs.contains_key(*name))
            .cloned()
            .collect();
        let sent = Snapshot {
            version: current.version,
            attrs,
        };
        Some((sent, removed))
    }
}

/// An attribute a partial grant carries as the patches that turn the copy's value
/// into the current one, rather than whole: a store that keeps a large value's recent
/// patches sends those when they are fewer bytes than the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchedAttr {
    /// The attribute.
    pub name: String,
    /// The patches, oldest first: the first against the copy's value at the version
    /// the copy has, each later one against the value the one before it makes.
    pub patches: Vec<Patch>,
    /// The attribute's version once they are applied: its current version.
    pub version: u64,
}

/// Why a partial grant could not be merged with the copy it named: the copy lacks
/// an attribute the grant patches, or a patch does not apply to it. The caller then
/// asks for the whole session (it holds the lock already).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// The grant patches an attribute the copy does not have.
    #[error("the grant patches an attribute the copy does not have")]
    Missing,
    /// The grant's patches of one attribute do not go up in version, each against a
    /// version above the one before and below the attribute's current one.
    #[error("the grant's patches do not link up")]
    Chain,
    /// A patch does not apply to the copy's value.
    #[error("a patch of the grant does not apply to the copy: {0}")]
    Patch(#[from] PatchError),
}

/// A grant that carries only what changed since the caller's [`Known`] copy: the
/// answer [`Store::acquire_since`] gives as [`AcquireReply::Partial`]. Everything but
/// the snapshot (fence, lease, expiry, age) is as in a full grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialGrant {
    /// The grant. Its snapshot's `version` is the session's; its `attrs` hold only
    /// the attributes the caller's copy lacks at their current version. Every other
    /// attribute of the session is in the copy at its current version.
    pub grant: Grant,
    /// Attributes of the caller's copy that the session no longer has, in no
    /// particular order.
    pub removed: Vec<String>,
    /// Attributes sent as patches to the copy's value (none of them is in the
    /// grant's `attrs`).
    pub patched: Vec<PatchedAttr>,
}

impl PartialGrant {
    /// The full grant: `copy` (the snapshot the [`Known`] was made of, with
    /// [`Known::of`]) without the removed attributes, with the patched ones patched
    /// and the sent ones put in. Its snapshot is the one a full grant would have
    /// carried.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tenure_core::Bytes;
    /// use tenure_core::{AttrEntry, Snapshot};
    /// use tenure_store::{Expiry, Fence, Grant, PartialGrant};
    /// let b = |s: &'static str| Bytes::from_static(s.as_bytes());
    /// let copy = Snapshot::new(2, [("big".to_string(), b("....")), ("old".to_string(), b("x"))]);
    /// let mut sent = Snapshot { version: 5, ..Snapshot::default() };
    /// sent.attrs.insert("note".into(), AttrEntry { value: b("hi"), version: 5 });
    /// let grant = Grant {
    ///     fence: Fence(9),
    ///     lease: Duration::from_secs(30),
    ///     snapshot: sent,
    ///     expiry: Expiry::default(),
    ///     age: Duration::ZERO,
    /// };
    /// let partial = PartialGrant { grant, removed: vec!["old".into()], patched: vec![] };
    /// let full = partial.merge(copy).unwrap();
    /// assert_eq!(full.snapshot.version, 5);
    /// assert_eq!(full.snapshot.value("big"), Some(&b("....")));
    /// assert_eq!(full.snapshot.value("note"), Some(&b("hi")));
    /// assert_eq!(full.snapshot.value("old"), None);
    /// ```
    pub fn merge(self, copy: Snapshot) -> Result<Grant, MergeError> {
        let PartialGrant {
            mut grant,
            removed,
            patched,
        } = self;
        let mut attrs = copy.attrs;
        for name in &removed {
            attrs.remove(name);
        }
        for p in patched {
            let entry = attrs.get_mut(&p.name).ok_or(MergeError::Missing)?;
            let mut value = entry.value.clone();
            let mut version = entry.version;
            for (i, patch) in p.patches.iter().enumerate() {
                value = patch.apply(version, &value)?;
                // The next patch names the version this one made (the store links
                // them); the last one made the current version.
                let next = match p.patches.get(i + 1) {
                    Some(next) => next.base_version().ok_or(MergeError::Chain)?,
                    None => p.version,
                };
                if next <= version {
                    return Err(MergeError::Chain);
                }
                version = next;
            }
            *entry = AttrEntry {
                value,
                version: p.version,
            };
        }
        attrs.append(&mut grant.snapshot.attrs);
        grant.snapshot.attrs = attrs;
        Ok(grant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tenure_core::Bytes;

    fn entry(value: &'static str, version: u64) -> AttrEntry {
        AttrEntry {
            value: Bytes::from_static(value.as_bytes()),
            version,
        }
    }

    fn snapshot(version: u64, attrs: &[(&str, &'static str, u64)]) -> Snapshot {
        Snapshot {
            version,
            attrs: attrs
                .iter()
                .map(|(n, v, ver)| (n.to_string(), entry(v, *ver)))
                .collect(),
        }
    }

    #[test]
    fn changes_send_what_differs_and_name_what_is_gone() {
        let copy = snapshot(4, &[("big", "B", 1), ("note", "a", 4), ("gone", "g", 2)]);
        let now = snapshot(7, &[("big", "B", 1), ("note", "b", 7), ("new", "n", 6)]);
        let (sent, removed) = Known::of(&copy).changes(&now).unwrap();
        assert_eq!(sent, snapshot(7, &[("note", "b", 7), ("new", "n", 6)]));
        assert_eq!(removed, vec!["gone".to_string()]);
        let grant = Grant {
            fence: crate::Fence(1),
            lease: std::time::Duration::ZERO,
            snapshot: sent,
            expiry: crate::Expiry::default(),
            age: std::time::Duration::ZERO,
        };
        let merged = PartialGrant {
            grant,
            removed,
            patched: Vec::new(),
        }
        .merge(copy)
        .unwrap();
        assert_eq!(merged.snapshot, now);
    }

    #[test]
    fn bogus_versions_are_sent() {
        let now = snapshot(7, &[("a", "x", 3), ("z", "y", 0)]);
        let mut known = Known::of(&now);
        known.attrs.insert("a".into(), 9);
        let (sent, removed) = known.changes(&now).unwrap();
        // `a` at another version, `z` at the unknown version 0: both sent.
        assert_eq!(sent, now);
        assert!(removed.is_empty());
        known.version = 8;
        assert_eq!(known.changes(&now), None, "a copy from the future");
    }
}
