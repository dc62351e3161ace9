//! The embedded store's principal index (issue 15): principal → its sessions' ids.
//!
//! Kept under the store's one mutex and changed in the same step as the sessions it
//! names: every path that inserts, removes or rewrites a session in
//! [`State`](super::state::State) goes through `State::insert`, `State::remove` or
//! `State::reindex`, so an entry exists exactly while its session is in the map with
//! that principal. An expired session stays in the map (and the index) until it is
//! touched, purged, or met by `sessions_of`, which removes it; so the index never holds
//! more than the map does.

use std::collections::{HashMap, HashSet};

use tenure_core::principal::principal_of;
use tenure_core::{SessionId, Snapshot, PRINCIPAL_ATTR};

/// The principal a snapshot holds, if any.
pub(super) fn principal(snapshot: &Snapshot) -> Option<String> {
    snapshot
        .value(PRINCIPAL_ATTR)
        .and_then(|bytes| principal_of(bytes))
        .map(str::to_string)
}

/// Principal → the ids of the sessions that have it.
#[derive(Debug, Default)]
pub(super) struct PrincipalIndex {
    map: HashMap<String, HashSet<SessionId>>,
}

impl PrincipalIndex {
    pub(super) fn add(&mut self, principal: String, sid: &SessionId) {
        self.map.entry(principal).or_default().insert(sid.clone());
    }

    pub(super) fn remove(&mut self, principal: &str, sid: &SessionId) {
        if let Some(set) = self.map.get_mut(principal) {
            set.remove(sid);
            if set.is_empty() {
                self.map.remove(principal);
            }
        }
    }

    /// Moves `sid` from the principal `old` to `new` (either may be none).
    pub(super) fn change(&mut self, sid: &SessionId, old: Option<String>, new: Option<String>) {
        if old == new {
            return;
        }
        if let Some(old) = old {
            self.remove(&old, sid);
        }
        if let Some(new) = new {
            self.add(new, sid);
        }
    }

    /// The ids indexed under `principal`.
    pub(super) fn ids(&self, principal: &str) -> Vec<SessionId> {
        self.map
            .get(principal)
            .map(|set| set.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// How many entries the index holds, over all principals.
    pub(super) fn len(&self) -> usize {
        self.map.values().map(HashSet::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_follow_changes_and_empty_sets_go() {
        let mut index = PrincipalIndex::default();
        let a = SessionId::generate().unwrap();
        let b = SessionId::generate().unwrap();
        index.add("u".into(), &a);
        index.change(&b, None, Some("u".into()));
        assert_eq!(index.ids("u").len(), 2);
        index.change(&a, Some("u".into()), Some("v".into()));
        assert_eq!(index.ids("u"), vec![b.clone()]);
        assert_eq!(index.ids("v"), vec![a.clone()]);
        index.remove("u", &b);
        index.change(&a, Some("v".into()), None);
        assert_eq!(index.len(), 0);
        assert!(index.map.is_empty());
    }
}
