//! The Tenure store protocol on Redis and Redis Cluster.
//!
//! [`RedisStore`] implements [`tenure_store::Store`]: each protocol call is one Lua
//! script (`EVALSHA`, loaded on first use), atomic at the server, touching only keys
//! of one session, which share a hash tag and so one cluster slot. Attributes are
//! fields of a Redis hash, so a commit writes only the changed fields. Leases, waiter
//! deadlines and expiry (Redis TTLs) use the server's clock. Hints travel over sharded
//! pub/sub. The suite in `tenure-test` checks it against the protocol, on one server
//! and on a cluster.
//!
//! | item | what it is |
//! |---|---|
//! | [`RedisStore`] | the store |
//! | [`RedisConfig`] | URL, key prefix, timeouts |
//! | [`Inspector`] | lists, shows and deletes sessions, for operators (`tenure inspect`) |
//! | [`ServerStats`] | commands and bytes the servers counted (`INFO`), for measuring |
//! | [`ConnectError`] | why connecting failed |
//!
//! The client is [`fred`]: async, cluster-aware (slot routing, redirections,
//! reconnection), with sharded pub/sub and script helpers; see docs/ARCHITECTURE.md.
#![doc(test(attr(deny(warnings))))]

mod acquire;
mod args;
mod batch;
mod config;
mod connection;
mod directory;
mod events;
mod hint_code;
mod hints;
mod inspect;
mod keys;
mod liveness;
mod principals;
mod release;
mod renew;
mod reply;
mod rotate;
mod scripts;
mod slot_tags;
mod slots;
mod stats;
mod store;

pub use config::RedisConfig;
pub use connection::{ConnectError, RedisStore};
pub use events::EXPIRE_PER_CALL;
pub use inspect::Inspector;
pub use stats::ServerStats;
/// The inspection types, from `tenure-store`, where every backend shares them.
pub use tenure_store::{AttrInfo, Inspect, LockInfo, SessionInfo};

/// The Redis client this crate is built on, for callers that need it directly
/// ([`RedisStore::client`]).
pub use fred;
