//! `acquire` and `acquire_since` on the embedded store: one body, so the two cannot
//! differ in anything but the grant's data.

use std::time::Duration;

use tenure_core::{OwnerId, SessionId};
use tokio::time::Instant;

use super::state::{deadline, Entry, Lock};
use super::MemoryStore;
use crate::known::{Known, PartialGrant};
use crate::protocol::*;
use crate::StoreError;

/// The answer for a grant of `fence` on `entry`: whole, or with `known`, only what
/// the caller's copy lacks (the contract of `Store::acquire_since`).
fn grant_reply(
    entry: &Entry,
    fence: Fence,
    lease: Duration,
    now: Instant,
    known: Option<&Known>,
) -> AcquireReply {
    let grant = |snapshot| Grant {
        fence,
        lease,
        snapshot,
        expiry: entry.expiry(),
        age: entry.age(now),
    };
    match known.and_then(|k| k.changes(&entry.snapshot)) {
        Some((sent, removed)) => AcquireReply::Partial(PartialGrant {
            grant: grant(sent),
            removed,
            patched: Vec::new(),
        }),
        None => AcquireReply::Granted(grant(entry.snapshot.clone())),
    }
}

impl MemoryStore {
    /// `acquire`, and with `known` `acquire_since`: one body, so the two cannot
    /// differ in anything but the grant's data.
    pub(super) fn acquire_with(
        &self,
        sid: &SessionId,
        owner: &OwnerId,
        lease: Duration,
        wait: Duration,
        known: Option<&Known>,
    ) -> Result<AcquireReply, StoreError> {
        let now = Instant::now();
        let mut guard = self.lock();
        let holder_dead = guard.holder_dead(sid, owner, now);
        let (entry, next_fence, hints) = guard.live(sid, now);
        let Some(entry) = entry else {
            return Ok(AcquireReply::NotFound);
        };
        entry.last_access = now;
        entry.tidy(now);
        if holder_dead {
            // I15: a dead owner's lock is void for everyone else.
            entry.lock = None;
        }
        if let Some(lock) = entry.lock.as_mut().filter(|l| &l.owner == owner) {
            lock.deadline = deadline(now, lease);
            let fence = lock.fence;
            return Ok(grant_reply(entry, fence, lease, now, known));
        }
        let at_head = entry.queue.front().is_none_or(|w| &w.owner == owner);
        if entry.lock.is_none() && at_head {
            if !entry.queue.is_empty() {
                entry.queue.pop_front();
            }
            *next_fence += 1;
            let fence = Fence(*next_fence);
            entry.lock = Some(Lock {
                owner: owner.clone(),
                fence,
                deadline: deadline(now, lease),
            });
            if !entry.queue.is_empty() {
                hints.send(owner, Hint::Recall(sid.clone()));
            }
            return Ok(grant_reply(entry, fence, lease, now, known));
        }
        let position = entry.enqueue(owner, deadline(now, wait));
        let (to, hint, until) = match &entry.lock {
            Some(lock) => (lock.owner.clone(), Hint::Recall(sid.clone()), lock.deadline),
            // Free but reserved for the head waiter: nudge it again, the first hint may be lost.
            None => {
                let head = &entry.queue[0];
                (head.owner.clone(), Hint::Grant(sid.clone()), head.deadline)
            }
        };
        hints.send(&to, hint);
        Ok(AcquireReply::Queued {
            position,
            retry_after: until.saturating_duration_since(now),
        })
    }
}
