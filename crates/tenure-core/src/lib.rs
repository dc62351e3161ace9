//! The session model of Tenure, with no I/O and no async runtime.
//!
//! This crate holds what every other Tenure crate agrees on:
//!
//! | module | what it is |
//! |---|---|
//! | [`id`] | [`SessionId`] (128+ bits from the OS CSPRNG, shape-checked) and [`OwnerId`] (a node) |
//! | [`codec`] | the pluggable [`Codec`] that turns attribute values into bytes ([`MessagePack`] by default) |
//! | [`key`] | typed keys ([`Key<T>`]) beside plain string names |
//! | [`limits`] | attribute name, size and count [`Limits`] |
//! | [`snapshot`] | the primary copy's data model: [`Snapshot`] of [`AttrEntry`] values with versions |
//! | [`delta`] | the [`Delta`] a commit carries, its conflict check and its wire form |
//! | [`patch`] | a [`Patch`]: the change inside one attribute, as byte splices on the bytes it was computed against |
//! | [`structural`] | structural comparison: the patch between two MessagePack values, by maps' keys and sequences' indices |
//! | [`expiry`] | a session's timeouts at the store ([`Expiry`]) |
//! | [`tracking`] | per-request access tracking and change detection ([`Tracker`], [`WriteScope`]) |
//! | [`policy`] | [`WritePolicy`] and [`Consistency`] modes |
//! | [`sync`] | the poison-tolerant [`sync::lock`] the other crates share |
//!
//! Nothing here touches the network, the clock or a runtime, so all of it is tested
//! with plain unit and property tests.
#![doc(test(attr(deny(warnings))))]

pub mod codec;
pub mod delta;
pub mod expiry;
pub mod id;
pub mod key;
pub mod limits;
pub mod patch;
pub mod policy;
pub mod principal;
pub mod snapshot;
pub mod structural;
pub mod sync;
pub mod tracking;

pub use bytes::Bytes;
pub use codec::{Codec, DecodeError, EncodeError, Json, MessagePack};
pub use delta::{AttrOp, Change, Conflict, Delta, DeltaDecodeError, Expect, PatchRefused};
pub use expiry::Expiry;
pub use id::{IdError, OwnerId, SessionId};
pub use key::{AsKey, Comparison, Key};
pub use limits::{LimitError, Limits};
pub use patch::{Patch, PatchError};
pub use policy::{Consistency, WritePolicy};
pub use principal::PRINCIPAL_ATTR;
pub use snapshot::{AttrEntry, Snapshot};
pub use tracking::{Access, Tracker, WriteScope};
