//! Distributed sessions for axum apps that run as several instances behind a load
//! balancer, without lost updates. This is the one crate an app depends on; the
//! others (`tenure-core`, `tenure-store`, `tenure-node`, `tenure-axum`, and
//! `tenure-redis` behind the `redis` feature, `tenure-postgres` behind `postgres`)
//! are its layers.
//!
//! | item | what it is |
//! |---|---|
//! | [`Session`] | the axum extractor: `get`, `get_mut`, `insert`, `remove`, `rotate_id`, `delete` |
//! | [`SessionLayer`] | the tower layer: cookie in, session for the handler, write policy, cookie out |
//! | [`Node`], [`NodeConfig`] | one node per process, on a shared store |
//! | [`MemoryStore`] | the embedded store (one process, tests, demos) |
//! | `redis::RedisStore` | Redis and Redis Cluster (feature `redis`) |
//! | `postgres::PostgresStore` | PostgreSQL (feature `postgres`) |
//! | [`Key`] | a typed attribute key |
//! | [`Expiry`], [`SessionExpiry`] | the node's default timeouts; one session's own ("remember me") |
//! | [`cookie`] | cookie settings and the cookie signing [`cookie::Key`] |
//! | [`serve`](mod@serve) | an HTTP server for the app: header, idle and body timeouts, a connection bound, graceful stop |
//!
//! ```
//! use tenure::{Key, MemoryStore, Node, NodeConfig, Session, SessionFailure, SessionLayer};
//!
//! const VISITS: Key<u64> = Key::new("visits");
//!
//! async fn visit(session: Session) -> Result<String, SessionFailure> {
//!     let mut n = session.get_mut_or_insert_with(&VISITS, || 0).await?;
//!     *n += 1;
//!     Ok(n.to_string())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let node = Node::from_config(NodeConfig::new().with_store(MemoryStore::new())).await?;
//! let app: axum::Router = axum::Router::new()
//!     .route("/", axum::routing::post(visit))
//!     .layer(SessionLayer::new(node));
//! # let _ = app;
//! # Ok(()) }
//! ```
#![doc(test(attr(deny(warnings))))]

pub use tenure_axum::{
    AttrMut, DiscardSession, MissingSessionLayer, Session, SessionError, SessionFailure,
    SessionLayer, SessionService,
};
pub use tenure_core::{Comparison, Consistency, Key, SessionId, WritePolicy, WriteScope};
pub use tenure_node::{ConfigError, EndReport, NodeStats, StartError};
pub use tenure_node::{Node, NodeConfig, SessionExpiry};
pub use tenure_store::{Expiry, MemoryStore, Store, StoreError};

/// Cookie settings, and the key that signs or encrypts session cookies (not to be
/// confused with the [attribute `Key`](crate::Key)).
pub mod cookie {
    pub use tenure_axum::{CookieConfig, CookieConfigError, Key, Protection, SameSite};
}

/// Serving the app so that slow clients cannot starve it, and stopping it gracefully
/// on Ctrl-C or SIGTERM: [`serve::serve`] with [`serve::ServerLimits`].
pub use tenure_axum::serve;

/// The Redis and Redis Cluster store.
#[cfg(feature = "redis")]
pub mod redis {
    pub use tenure_redis::{ConnectError, Inspector, RedisConfig, RedisStore, ServerStats};
}

/// The PostgreSQL store.
#[cfg(feature = "postgres")]
pub mod postgres {
    pub use tenure_postgres::{ConnectError, PostgresConfig, PostgresStore};
}

/// Lower layers, for integrations and custom stores: the session model, the store
/// protocol and the request-scoped node session.
pub mod layers {
    pub use tenure_axum as axum;
    pub use tenure_core as core;
    pub use tenure_node as node;
    pub use tenure_store as store;
}

/// The README's examples compile as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
