//! The answers to the calls that write: [`Store::commit`](crate::Store::commit),
//! [`Store::commit_optimistic`](crate::Store::commit_optimistic),
//! [`Store::create`](crate::Store::create) and
//! [`Store::rotate_id`](crate::Store::rotate_id).

use tenure_core::{Conflict, Delta, PatchRefused};

use crate::Fence;

/// The answer to [`Store::commit`](crate::Store::commit).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommitReply {
    /// The delta was applied (possibly empty) and, if asked, the lock released.
    Committed {
        /// The session version after the commit.
        version: u64,
    },
    /// This commit (the same fence and [`CommitId`](crate::CommitId)) was applied before, by an earlier
    /// sending of it: nothing was applied again. `version` is the session version that
    /// commit made.
    AlreadyApplied {
        /// The session version after the earlier application.
        version: u64,
    },
    /// The caller does not hold an unexpired lock with that fence, or a later commit of
    /// the same tenure was applied already: nothing was applied. The unapplied delta is
    /// handed back.
    Stale {
        /// The delta that was not applied.
        delta: Delta,
    },
    /// The caller holds the lock, but a patch in the delta does not apply to the
    /// attribute as stored (another base version or length, or malformed): nothing
    /// was applied, and the commit id is not used up. Send the commit again with the
    /// whole values ([`Delta::without_patches`]).
    PatchRefused(PatchRefused),
}

/// The answer to [`Store::commit_optimistic`](crate::Store::commit_optimistic).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OptimisticReply {
    /// Every expectation held; the delta was applied.
    Committed {
        /// The session version after the commit.
        version: u64,
    },
    /// Some attributes changed since they were loaded; nothing was applied.
    Conflict(Conflict),
    /// A node holds the session's tenure (modes are being mixed); nothing was applied.
    Locked,
    /// No such session.
    NotFound,
    /// Every expectation held, but a patch does not apply to the attribute as stored
    /// (malformed, or of another base than its expectation): nothing was applied.
    PatchRefused(PatchRefused),
}

/// The answer to [`Store::create`](crate::Store::create).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CreateReply {
    /// The session exists now, at version 1.
    Created {
        /// The fence of the creator's tenure, if it asked for one.
        fence: Option<Fence>,
    },
    /// A session with that id exists; nothing was changed.
    Exists,
}

/// The answer to [`Store::rotate_id`](crate::Store::rotate_id).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RotateReply {
    /// The data lives under the new id; the old id is free (unknown to the store).
    Rotated {
        /// The fence of the caller's tenure on the new id, if it held the old one.
        fence: Option<Fence>,
    },
    /// The old id does not exist.
    NotFound,
    /// The new id is taken; nothing was changed.
    Exists,
    /// The old id is locked by someone else, or the caller's fence is stale.
    Stale,
}
