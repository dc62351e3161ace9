//! Read-only views of a store for operators, and deletion: what `tenure inspect`
//! shows, for every backend that can be inspected from outside its process.
//! Inspection never counts as an access, so it does not keep sessions alive.

use std::time::Duration;

use async_trait::async_trait;
use tenure_core::{Bytes, OwnerId, SessionId};

use crate::{Fence, StoreError};

/// One session as an operator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The session.
    pub id: SessionId,
    /// Its version (one per applied commit).
    pub version: u64,
    /// How long ago it was created.
    pub age: Duration,
    /// How long since its last access.
    pub idle_for: Duration,
    /// Idle timeout, if any.
    pub idle_timeout: Option<Duration>,
    /// Absolute timeout, if any.
    pub absolute_timeout: Option<Duration>,
    /// The last fence the store granted for it, as far as it keeps one per session
    /// (a backend with one counter for all sessions reports the lock's fence, or the
    /// last committing tenure's; 0 if neither).
    pub last_fence: Fence,
    /// Its lock, if held and unexpired.
    pub lock: Option<LockInfo>,
    /// Owners waiting for the lock, head first, with the time each has left to ask
    /// again before it counts as dead (dead ones are not listed).
    pub queue: Vec<(OwnerId, Duration)>,
    /// Its attributes, by name.
    pub attrs: Vec<AttrInfo>,
}

/// A held lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockInfo {
    /// The node holding it.
    pub holder: OwnerId,
    /// The fence of this tenure.
    pub fence: Fence,
    /// Lease left.
    pub lease_left: Duration,
}

/// One attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrInfo {
    /// Its name.
    pub name: String,
    /// The session version that last set it.
    pub version: u64,
    /// Its encoded value (decode it with the application's codec).
    pub value: Bytes,
}

/// Lists, shows and deletes the sessions of a store, for operators.
#[async_trait]
pub trait Inspect: Send + Sync {
    /// Up to `limit` session ids, in no particular order.
    async fn list(&self, limit: usize) -> Result<Vec<SessionId>, StoreError>;

    /// One session, or `None` if it does not exist (or has expired).
    async fn show(&self, sid: &SessionId) -> Result<Option<SessionInfo>, StoreError>;

    /// Deletes a session (its waiters are told); answers whether it existed.
    async fn delete(&self, sid: &SessionId) -> Result<bool, StoreError>;
}
