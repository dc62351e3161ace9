//! The primary copy's data model, as a store returns it.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// One attribute at the store: its encoded value and the session version that last
/// wrote it. Versions come from one per-session counter, so a removed and re-added
/// attribute never reuses a version (no ABA for optimistic commits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttrEntry {
    /// Encoded value.
    pub value: Bytes,
    /// Session version of the commit that wrote it.
    pub version: u64,
}

/// A session's attributes at one version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Session version: how many commits changed the session. Starts at 1 on create.
    pub version: u64,
    /// Attributes by name.
    pub attrs: BTreeMap<String, AttrEntry>,
}

impl Snapshot {
    /// A snapshot at `version` holding `attrs`, each at that version.
    pub fn new(version: u64, attrs: impl IntoIterator<Item = (String, Bytes)>) -> Self {
        let attrs = attrs
            .into_iter()
            .map(|(k, value)| (k, AttrEntry { value, version }))
            .collect();
        Self { version, attrs }
    }

    /// Sum of names and values in bytes.
    pub fn size_bytes(&self) -> usize {
        self.attrs
            .iter()
            .map(|(k, v)| k.len() + v.value.len())
            .sum()
    }

    /// The value of one attribute.
    pub fn value(&self, name: &str) -> Option<&Bytes> {
        self.attrs.get(name).map(|e| &e.value)
    }
}
