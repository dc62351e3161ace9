//! The store protocol of Tenure and its embedded, in-process implementation.
//!
//! A [`Store`] holds the primary copy of every session and arbitrates which node may
//! write it. Every method is atomic at the store for one session id. The contract each
//! method must keep is written on the method; `tenure-test` checks any implementation
//! against it with one call (`tenure_test::store_conformance!`).
//!
//! | item | what it is |
//! |---|---|
//! | [`Store`] | the protocol: `acquire` (and `acquire_since`, for a caller that still has a copy), `renew`, `commit`, `load`, `commit_optimistic`, `create`, `delete`, `rotate_id`, `hints`, `keep_alive`, `locate`, `advertise`, `sessions_of` |
//! | [`MemoryStore`] | the embedded store: the default for one machine, tests and the demo |
//! | [`Fence`] | the token that orders tenures of one session |
//! | [`Hint`] | a pushed notice (recall, grant) that may be lost |
//! | [`Known`], [`PartialGrant`] | conditional takeover: what a caller still has, and a grant of only the rest |
//! | [`SessionEvent`], [`EventId`], [`EventBatch`] | session events from a store's log (`Store::events`) |
//! | [`PrincipalSession`] | one live session of a principal, as `Store::sessions_of` lists it |
//! | [`Inspect`] | what operators see of a store (`tenure inspect`): [`SessionInfo`], [`LockInfo`], [`AttrInfo`] |
#![doc(test(attr(deny(warnings))))]

mod error;
pub mod events;
mod inspect;
mod known;
mod memory;
mod principals;
mod protocol;
mod replies;
mod shared;

pub use error::StoreError;
pub use events::{EventBatch, EventId, EventKind, SessionEvent};
pub use inspect::{AttrInfo, Inspect, LockInfo, SessionInfo};
pub use known::{Known, MergeError, PartialGrant, PatchedAttr};
pub use memory::MemoryStore;
pub use principals::{PrincipalSession, PRUNE_PER_CALL};
pub use protocol::*;
pub use tenure_core;
