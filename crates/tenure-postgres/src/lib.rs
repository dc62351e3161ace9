//! The Tenure store protocol on PostgreSQL.
//!
//! [`PostgresStore`] implements [`tenure_store::Store`] on a database many teams
//! already run, durably: a session survives a restart of the database as far as
//! PostgreSQL's own durability goes (a committed transaction is on disk with the
//! default `synchronous_commit`).
//!
//! - **One function per protocol call**, installed in a schema of its own on
//!   connect (`sql/schema.sql`, `sql/functions.sql`): each call is one statement
//!   and one transaction, locks the session's row before it reads the rest, checks
//!   before its first write, and holds no lock across a round trip to the node.
//! - **Rows per attribute**, so a delta writes only the rows it changes.
//! - **The database's clock** (`clock_timestamp()`) for leases, waiter deadlines and
//!   expiry; durations travel in milliseconds.
//! - **Hints** over `LISTEN`/`NOTIFY` on a connection of their own, re-established
//!   when it drops and followed by [`Hint::Resync`](tenure_store::Hint::Resync).
//! - **Renewals** of every session a node holds in one statement per tick.
//! - **Expiry** checked in every statement; rows reclaimed by a background sweep in
//!   bounded batches.
//!
//! | item | what it is |
//! |---|---|
//! | [`PostgresStore`] | the store |
//! | [`PostgresConfig`] | URL, schema, pool size, timeouts, sweep |
//! | [`ConnectError`] | why connecting failed |
//!
//! The client is [`tokio_postgres`] with a [`deadpool_postgres`] pool; see
//! docs/ARCHITECTURE.md for why, the schema and each call's statement.
#![doc(test(attr(deny(warnings))))]

mod args;
mod config;
mod error;
mod events;
mod hints;
mod inspect;
mod names;
mod principals;
mod protocol;
mod reply;
mod schema;
mod sql;
mod store;
mod sweep;

pub use config::PostgresConfig;
pub use error::ConnectError;
pub use events::PG_EVENT_LOG;
pub use store::PostgresStore;

/// The PostgreSQL client and pool this crate is built on.
pub use {deadpool_postgres, tokio_postgres};
