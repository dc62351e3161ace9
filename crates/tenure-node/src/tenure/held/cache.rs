//! The near cache's write path: a request's changes going into a held copy, and a
//! flush taking them out.
//!
//! The cache changes only at the end of a request, under the request's attribute
//! locks, so a flush always sees whole requests (I10). Each attribute carries a write
//! sequence number: a flush marks an attribute clean only if no request changed it
//! while the commit was in flight (I10). The same numbers say how far the store has
//! the cache's changes (I18): a flush collects everything dirty and the next sequence
//! number in one critical section, so its commit stores every change below that mark.

use std::collections::BTreeSet;

use tenure_core::structural::{self, Budget};
use tenure_core::sync::lock;
use tenure_core::{
    AttrEntry, Bytes, Change, Delta, Expiry, LimitError, Limits, SessionId, Snapshot,
};
use tenure_store::Fence;
use tokio::time::Instant;

use super::{CachedAttr, Held, HeldState};

/// Attributes a request writes back unchanged, per its write scope.
#[derive(Debug)]
pub(crate) enum Rewrite {
    /// Only what changed (`WriteScope::Modified`).
    Nothing,
    /// These attributes, read but not changed (`WriteScope::Accessed`).
    These(Vec<String>),
    /// Every attribute (`WriteScope::Whole`).
    All,
}

/// What a flush collected: each dirty attribute with its write sequence number and
/// the value the commit stores (`None`: removed), and the sequence number of
/// unwritten new timeouts.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    attrs: Vec<(String, u64, Option<Bytes>)>,
    expiry: Option<u64>,
}

/// Everything a commit is built from, taken in one critical section.
#[derive(Debug)]
pub(crate) struct Collection {
    pub(crate) sid: SessionId,
    pub(crate) fence: Fence,
    pub(crate) delta: Delta,
    pub(crate) collected: Collected,
    /// The write policy's counters the collection reset.
    pub(crate) counts: (u32, u32),
    /// The next write sequence number: the commit carries every change below it.
    pub(crate) mark: u64,
    /// Ops of `delta` that may go as patches, with the stored attribute each would
    /// patch (taken by [`Held::collect`]).
    patchable: Vec<(usize, AttrEntry)>,
}

impl Held {
    /// Applies a request's write set to the cache and counts the request, if the
    /// session stays within `limits` (checked and applied in one critical section, so
    /// concurrent requests cannot jointly overshoot). `rewrite` marks attributes for
    /// writing with their current values (the accessed and whole write scopes): the
    /// value a concurrent request wrote is kept, never the one this request read.
    ///
    /// Answers the write sequence number of the request's last change (`None` if it
    /// changed nothing): once the store has it, it has all of the request's changes.
    pub(crate) fn apply_checked(
        &self,
        changes: Vec<(String, Option<Bytes>)>,
        limits: &Limits,
        rewrite: &Rewrite,
        timeouts: Option<Expiry>,
        structural: &BTreeSet<String>,
    ) -> Result<Option<u64>, LimitError> {
        let mut st = lock(&self.state);
        fits(&st, &changes, limits)?;
        st.requests = st.requests.saturating_add(1);
        st.updates = st.updates.saturating_add(changes.len() as u32);
        let first = st.next_seq;
        put(&mut st, changes, structural);
        if let Some(expiry) = timeouts {
            // The node tells expiry on its own while it holds the session: from now
            // on by the new timeouts, which the next flush writes.
            let seq = st.next_seq;
            st.next_seq += 1;
            st.expiry = expiry;
            st.pending_expiry = Some((expiry, seq));
        }
        // A rewrite is a write of the current value: it takes a new sequence number,
        // so the request waits for it like for its other changes (I18), and a commit
        // in flight that carried the old one leaves it dirty (I10).
        let HeldState {
            attrs, next_seq, ..
        } = &mut *st;
        let mut rewritten = |a: &mut CachedAttr| {
            a.dirty = true;
            a.seq = *next_seq;
            *next_seq += 1;
        };
        match rewrite {
            Rewrite::Nothing => {}
            Rewrite::These(names) => {
                for name in names {
                    if let Some(a) = attrs.get_mut(name) {
                        rewritten(a);
                    }
                }
            }
            Rewrite::All => attrs.values_mut().for_each(rewritten),
        }
        Ok((st.next_seq > first).then(|| st.next_seq - 1))
    }

    /// Whether a write is due under `policy` at `now` once a request with `pending`
    /// changes is counted.
    pub(crate) fn due_with(
        &self,
        policy: &tenure_core::WritePolicy,
        pending: usize,
        now: Instant,
    ) -> bool {
        let st = lock(&self.state);
        (pending > 0 || st.attrs.values().any(|a| a.dirty))
            && policy.due(
                st.updates.saturating_add(pending as u32),
                st.requests.saturating_add(1),
                now - st.last_write,
            )
    }

    pub(crate) fn is_dirty(&self) -> bool {
        lock(&self.state).attrs.values().any(|a| a.dirty)
    }

    /// Whether the session is due for a write under `policy` at `now`.
    pub(crate) fn due(&self, policy: &tenure_core::WritePolicy, now: Instant) -> bool {
        let st = lock(&self.state);
        st.attrs.values().any(|a| a.dirty)
            && policy.due(st.updates, st.requests, now - st.last_write)
    }

    /// Takes every dirty attribute into a delta, for a flush, with the mark: the next
    /// write sequence number, read in the same critical section, so that the commit
    /// carries every change below it (I18). Resets the policy counters;
    /// [`Held::restore_counts`] gives them back if the commit fails. Attributes
    /// compared structurally go as patches against the store's bytes where smaller,
    /// worked out after the critical section (a large value takes a while).
    pub(crate) fn collect(&self) -> Collection {
        let mut collection = self.collect_whole();
        for (at, base) in std::mem::take(&mut collection.patchable) {
            let op = &mut collection.delta.ops[at];
            if let Change::Set(value) = &op.change {
                op.change = structural::change(Some(&base), value.clone(), &Budget::default());
            }
        }
        collection
    }

    fn collect_whole(&self) -> Collection {
        let mut st = lock(&self.state);
        let counts = (
            std::mem::take(&mut st.updates),
            std::mem::take(&mut st.requests),
        );
        let mut delta = Delta::default();
        let mut collected = Collected::default();
        if let Some((expiry, seq)) = st.pending_expiry {
            delta.expiry = Some(expiry);
            collected.expiry = Some(seq);
        }
        let mut dirty: Vec<(&String, &CachedAttr)> =
            st.attrs.iter().filter(|(_, a)| a.dirty).collect();
        dirty.sort_by_key(|(_, a)| a.seq);
        let mut patchable = Vec::new();
        for (name, attr) in dirty {
            match &attr.value {
                Some(v) => {
                    // A stored version of 0 is none: the patch could not name its base.
                    let base = attr.stored.as_ref().filter(|e| e.version != 0);
                    if let Some(base) = base.filter(|_| attr.structural) {
                        patchable.push((delta.ops.len(), base.clone()));
                    }
                    delta.set(name.clone(), v.clone());
                }
                None => delta.remove(name.clone()),
            }
            collected
                .attrs
                .push((name.clone(), attr.seq, attr.value.clone()));
        }
        Collection {
            sid: st.sid.clone(),
            fence: st.fence,
            delta,
            collected,
            counts,
            mark: st.next_seq,
            patchable,
        }
    }

    /// After a failed commit: the unwritten updates and requests still count.
    pub(crate) fn restore_counts(&self, (updates, requests): (u32, u32)) {
        let mut st = lock(&self.state);
        st.updates = st.updates.saturating_add(updates);
        st.requests = st.requests.saturating_add(requests);
    }

    /// After a successful commit that made session version `version`: attributes
    /// unchanged since `collect` are clean, and every attribute it carried has that
    /// version at the store now (one changed again meanwhile stays dirty, and its
    /// next commit gives it a newer one).
    pub(crate) fn mark_clean(&self, collected: &Collected, now: Instant, version: u64) {
        let mut st = lock(&self.state);
        if collected.expiry.is_some() && st.pending_expiry.map(|(_, s)| s) == collected.expiry {
            st.pending_expiry = None;
        }
        for (name, seq, value) in &collected.attrs {
            let clean = st.attrs.get(name).is_some_and(|a| a.seq == *seq);
            if clean && st.attrs.get(name).is_some_and(|a| a.value.is_none()) {
                st.attrs.remove(name);
            } else if let Some(a) = st.attrs.get_mut(name) {
                a.version = version;
                a.dirty &= !clean;
                // What the store has now, also if the attribute changed again since.
                a.stored = value.clone().map(|value| AttrEntry { value, version });
            }
        }
        st.last_write = now;
    }

    /// The copy as the store has it after this copy's release commit, which made
    /// session version `version`: every attribute with its store version, for a
    /// later takeover to name ([`tenure_store::Known`]). `None` if anything is
    /// unwritten or of unknown version: a remembered copy must be exactly the store's.
    pub(crate) fn released_copy(&self, version: u64) -> Option<Snapshot> {
        let st = lock(&self.state);
        let mut copy = Snapshot {
            version,
            ..Snapshot::default()
        };
        for (name, a) in &st.attrs {
            let value = a.value.as_ref().filter(|_| !a.dirty && a.version != 0)?;
            let entry = AttrEntry {
                value: value.clone(),
                version: a.version,
            };
            copy.attrs.insert(name.clone(), entry);
        }
        Some(copy)
    }
}

/// Whether `changes` keep the session in `st` within `limits`.
fn fits(
    st: &HeldState,
    changes: &[(String, Option<Bytes>)],
    limits: &Limits,
) -> Result<(), LimitError> {
    let (mut count, mut size) = (
        st.attrs.values().filter(|a| a.value.is_some()).count(),
        st.size_bytes,
    );
    for (name, value) in changes {
        if let Some(old) = st.attrs.get(name).and_then(|a| a.value.as_ref()) {
            count -= 1;
            size -= name.len() + old.len();
        }
        if let Some(v) = value {
            count += 1;
            size += name.len() + v.len();
        }
    }
    limits.check_session(count, size)
}

/// Puts `changes` in the cache, dirty, each with a new write sequence number (a
/// removal keeps its entry until it is stored: it is what tells a later reader that
/// the absence is not stored yet, I18).
fn put(st: &mut HeldState, changes: Vec<(String, Option<Bytes>)>, structural: &BTreeSet<String>) {
    for (name, value) in changes {
        let seq = st.next_seq;
        st.next_seq += 1;
        let added = value.as_ref().map_or(0, |v| name.len() + v.len());
        let removed = st
            .attrs
            .get(&name)
            .and_then(|a| a.value.as_ref())
            .map_or(0, |v| name.len() + v.len());
        st.size_bytes = st.size_bytes + added - removed;
        let dirty = true;
        // Its store version is learned when a commit carrying it is stored.
        let version = 0;
        let stored = st.attrs.remove(&name).and_then(|a| a.stored);
        // The request that changed it last chose how it is written.
        let structural = structural.contains(&name);
        st.attrs.insert(
            name,
            CachedAttr {
                value,
                seq,
                dirty,
                version,
                stored,
                structural,
            },
        );
    }
}
