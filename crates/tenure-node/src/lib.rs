//! The app-server side of Tenure: one [`Node`] per process.
//!
//! A node holds *tenures*: store-granted, fenced, leased locks on sessions, which it
//! keeps after a request ends so that the next requests on the same session are
//! served from its near cache with no store round trip. It gives a session back when
//! the store recalls it (another node is waiting), when it idles, when the node holds
//! too many, and at shutdown, always writing the unwritten changes in the same commit
//! that releases the lock.
//!
//! Within the node, concurrent requests on one session lock single attributes, and
//! every request tracks what it reads and writes, so only changed attributes travel.
//!
//! | item | what it is |
//! |---|---|
//! | [`Node`] | the node: start it once per process on a [`Store`](tenure_store::Store) |
//! | [`Session`] | one request's handle: `get`, `get_mut`, `insert`, `remove`, `end` |
//! | [`NodeConfig`] | consistency mode, write policy, write scope, lease, limits… |
//! | [`SessionError`] | what can go wrong, with predicates (`is_conflict`, `is_transient`) |
//! | [`NodeStats`] | counters: cache hits, commits, recalls, lost tenures… |
//!
//! See `docs/ARCHITECTURE.md` in the repository for the protocol and its invariants.
#![doc(test(attr(deny(warnings))))]

mod config;
mod error;
mod held;
mod locks;
mod node;
mod session;
mod slot;
mod stats;
mod tasks;

pub use config::{NodeConfig, MAX_TIMING};
pub use error::{ConfigError, SessionError};
pub use node::{Node, StartError};
pub use session::{EndReport, Session};
pub use stats::NodeStats;
pub use tenure_core::{Consistency, Key, WritePolicy, WriteScope};

fn locks_guard(
    m: &std::sync::Mutex<locks::LockTable>,
) -> std::sync::MutexGuard<'_, locks::LockTable> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
