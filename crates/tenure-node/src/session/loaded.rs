//! The optimistic and last-writer-wins modes' side of a request: the session is
//! loaded for this request only, and written back with one lock-free commit.

use std::collections::{BTreeMap, BTreeSet};

use tenure_core::structural::{self, Budget};
use tenure_core::{Bytes, Change, Codec, Consistency, Delta, Expect, Expiry, SessionId, Snapshot};
use tenure_store::{OptimisticReply, RotateReply, StoreError};

use crate::inner::NodeInner;
use crate::stats::count;
use crate::tenure::request::{new_id, ID_ATTEMPTS};
use crate::SessionError;

/// A session loaded for one request.
#[derive(Debug)]
pub(crate) struct LoadedBacking {
    snapshot: Snapshot,
}

impl LoadedBacking {
    pub(crate) fn new(snapshot: Snapshot) -> Self {
        Self { snapshot }
    }

    pub(crate) fn value(&self, name: &str) -> Option<Bytes> {
        self.snapshot.value(name).cloned()
    }

    pub(crate) fn names(&self) -> Vec<String> {
        self.snapshot.attrs.keys().cloned().collect()
    }

    /// Every attribute as loaded (the whole-session write scope).
    pub(crate) fn whole(&self) -> Vec<(String, Bytes)> {
        self.snapshot
            .attrs
            .iter()
            .map(|(k, e)| (k.clone(), e.value.clone()))
            .collect()
    }

    pub(crate) async fn delete<C: Codec>(
        self,
        node: &NodeInner<C>,
        id: &SessionId,
    ) -> Result<(), SessionError> {
        // Sent and not answered: it may be deleted.
        node.store
            .delete(id)
            .await
            .map_err(|_| SessionError::OutcomeUnknown)?;
        Ok(())
    }

    pub(crate) async fn rotate<C: Codec>(
        &mut self,
        node: &NodeInner<C>,
        old: &SessionId,
    ) -> Result<SessionId, SessionError> {
        for _ in 0..ID_ATTEMPTS {
            let new = new_id()?;
            // Sent and not answered: the session may live under `new` now.
            let reply = node
                .store
                .rotate_id(old, &new, None)
                .await
                .map_err(|_| SessionError::OutcomeUnknown)?;
            match reply {
                RotateReply::Rotated { .. } => return Ok(new),
                RotateReply::Exists => continue,
                RotateReply::NotFound => return Err(SessionError::Gone),
                _ => return Err(SessionError::Locked),
            }
        }
        Err(SessionError::NoFreeId)
    }

    /// One lock-free commit of the request's changes: each expects the version it
    /// loaded (optimistic; those named in `structural` go as patches against it where
    /// smaller), or the whole record is written back (last writer wins).
    pub(crate) async fn commit<C: Codec>(
        self,
        node: &NodeInner<C>,
        sid: &SessionId,
        changes: Vec<(String, Option<Bytes>)>,
        timeouts: Option<Expiry>,
        structural: &BTreeSet<String>,
    ) -> Result<(), SessionError> {
        let snapshot = self.snapshot;
        let (mut count, mut size) = (snapshot.attrs.len(), snapshot.size_bytes());
        for (name, value) in &changes {
            if let Some(old) = snapshot.value(name) {
                count -= 1;
                size -= name.len() + old.len();
            }
            if let Some(v) = value {
                count += 1;
                size += name.len() + v.len();
            }
        }
        node.config.limits.check_session(count, size)?;
        let mut delta = Delta::default();
        if node.config.consistency == Consistency::LastWriterWins {
            // What session libraries without tracking do: write the whole record back.
            let mut whole: BTreeMap<String, Bytes> = snapshot
                .attrs
                .into_iter()
                .map(|(k, e)| (k, e.value))
                .collect();
            for (name, value) in changes {
                match value {
                    Some(v) => whole.insert(name, v),
                    None => whole.remove(&name),
                };
            }
            for (name, value) in whole {
                delta.set(name, value);
            }
            delta.replace_all = true;
        } else {
            for (name, value) in changes {
                let base = snapshot.attrs.get(&name);
                let expect = base.map_or(Expect::Absent, |e| Expect::Version(e.version));
                let change = match value {
                    None => Change::Remove,
                    Some(v) if structural.contains(&name) => {
                        structural::change(base, v, &Budget::default())
                    }
                    Some(v) => Change::Set(v),
                };
                delta.push(name, change, expect);
            }
        }
        delta.expiry = timeouts;
        let mut reply = send(node, sid, delta.clone()).await?;
        if let OptimisticReply::PatchRefused(_) = reply {
            // Nothing was applied: the same commit with whole values.
            count!(node.stats, patches_refused);
            delta = delta.without_patches();
            reply = send(node, sid, delta.clone()).await?;
        }
        match reply {
            OptimisticReply::Committed { .. } => {
                count!(node.stats, commits);
                count!(node.stats, commit_bytes, delta.payload_bytes() as u64);
                count!(node.stats, patches, delta.patch_count() as u64);
                Ok(())
            }
            OptimisticReply::Conflict(conflict) => {
                count!(node.stats, conflicts);
                Err(SessionError::Conflict {
                    attrs: conflict.attrs,
                })
            }
            OptimisticReply::Locked => Err(SessionError::Locked),
            OptimisticReply::NotFound => Err(SessionError::Gone),
            _ => Err(StoreError::Protocol("unknown optimistic commit reply".into()).into()),
        }
    }
}

/// Sends one optimistic commit.
async fn send<C: Codec>(
    node: &NodeInner<C>,
    sid: &SessionId,
    delta: Delta,
) -> Result<OptimisticReply, SessionError> {
    match node.store.commit_optimistic(sid, delta).await {
        Ok(reply) => Ok(reply),
        // Sent, but not confirmed: it may have applied. A retry would meet its own
        // write as a conflict, so the answer is that the outcome is unknown.
        Err(e) => {
            count!(node.stats, outcomes_unknown);
            tracing::warn!(session = sid.prefix(), error = %e, "optimistic commit unconfirmed; outcome unknown");
            Err(SessionError::OutcomeUnknown)
        }
    }
}
