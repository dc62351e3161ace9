//! What a store answers about the sessions of one principal (issue 15): the index
//! each backend keeps from a principal to its sessions, read by
//! [`Store::sessions_of`](crate::Store::sessions_of).

use std::time::Duration;

use tenure_core::{Bytes, SessionId};

/// One live session of a principal, as [`Store::sessions_of`](crate::Store::sessions_of)
/// lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalSession {
    /// The session.
    pub id: SessionId,
    /// How long ago it was created, by the store's clock.
    pub age: Duration,
    /// How long since its last access, by the store's clock.
    pub idle_for: Duration,
    /// The stored bytes of the label attribute the caller named (the application's
    /// codec encoded them), if the session has it.
    pub label: Option<Bytes>,
}

/// How many index entries of sessions known to be gone one
/// [`Store::sessions_of`](crate::Store::sessions_of) call removes at most, beyond
/// those it lists: the bound on the pruning work a call does. Entries past it stay for
/// the next call (they are never listed as live).
pub const PRUNE_PER_CALL: usize = 1000;
