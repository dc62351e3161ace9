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

mod config;
mod hints;
mod inspect;
mod keys;
mod reply;
mod scripts;
mod stats;
mod store;

pub use config::RedisConfig;
pub use inspect::{AttrInfo, Inspector, LockInfo, SessionInfo};
pub use stats::ServerStats;
pub use store::RedisStore;

/// The Redis client this crate is built on, for callers that need it directly
/// ([`RedisStore::client`]).
pub use fred;

/// Why [`RedisStore::connect`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL could not be parsed.
    #[error("invalid Redis URL: {0}")]
    InvalidUrl(String),
    /// The key prefix is empty, too long, or holds braces or whitespace.
    #[error("invalid key prefix {0:?}: use 1 to 64 printable ASCII characters without braces")]
    InvalidPrefix(String),
    /// No server answered.
    #[error("Redis unreachable: {0}")]
    Unreachable(String),
}
