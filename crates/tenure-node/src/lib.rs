//! The app-server side of Tenure: one [`Node`] per process.
//!
//! A node holds *tenures*: store-granted, fenced, leased locks on sessions, which it
//! keeps after a request ends so that the next requests on the same session are
//! served from its near cache with no store round trip. It gives a session back when
//! the store recalls it (another node is waiting), when it idles, when the node holds
//! too many, and at shutdown, always writing the unwritten changes in the same commit
//! that releases the lock.
//!
//! Within the node, concurrent requests on one session lock the single attributes
//! they write, and every request tracks what it reads and writes, so only changed
//! attributes travel.
//!
//! | item | what it is |
//! |---|---|
//! | [`Node`] | the node: start it once per process on a [`Store`](tenure_store::Store) |
//! | [`Session`] | one request's handle: `get`, `get_mut`, `insert`, `remove`, `end` |
//! | [`NodeConfig`] | consistency mode, write policy, write scope, lease, limits… |
//! | [`SessionError`] | what can go wrong, with predicates (`is_conflict`, `is_transient`) |
//! | [`NodeStats`] | counters: cache hits, commits, recalls, lost tenures… |
//! | [`Route`] | where a request is served: here, or forwarded to the holder |
//!
//! Inside: `node` is the public handle over the shared state in `inner`;
//! `tenure/` keeps the exclusive mode's held sessions (table, acquisition, release,
//! renewal), `session/` one request by consistency mode, `locks` the attribute locks,
//! `route/` forwarding (where a session is, the move rule).
//! See `docs/ARCHITECTURE.md` in the repository for the protocol and its invariants.
#![doc(test(attr(deny(warnings))))]

mod config;
mod error;
mod events;
mod expiry;
mod inner;
mod locks;
mod node;
mod principals;
mod route;
mod session;
mod stats;
mod tenure;

pub use config::{NodeConfig, MAX_TIMING, MOVE_AFTER, REMEMBERED_BYTES, REMEMBERED_COPIES};
pub use error::{ConfigError, SessionError};
pub use events::{EventError, EventStream, EVENT_POLL};
pub use expiry::SessionExpiry;
pub use node::{Node, StartError};
pub use principals::SessionOf;
pub use route::{Forward, Route};
pub use session::{AttrGuard, EndReport, Session};
pub use stats::NodeStats;
pub use tenure_core::{Comparison, Consistency, Key, WritePolicy, WriteScope};
