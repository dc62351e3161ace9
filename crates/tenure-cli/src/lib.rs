//! The `tenure` command: a demo of Tenure sessions on several nodes.
//!
//! `tenure demo` starts app-server nodes (each an axum server with its own Tenure node
//! and near cache) on one embedded store, a front router that spreads requests over
//! them with configurable stickiness, runs a concurrent workload through the router
//! and prints what happened: acknowledged versus stored increments (lost updates),
//! store calls and bytes committed per request, lock handoffs. By default it runs the
//! workload twice, in the exclusive and the last-writer-wins modes, each on a fresh
//! store, and prints both side by side. With
//! `--store redis://...` the nodes share Redis instead, and the summary adds what the
//! Redis servers counted (commands and bytes per request).
//!
//! `tenure serve` runs one node as its own process and `tenure route` the front
//! router, so several processes can share sessions through Redis. `tenure inspect`
//! lists, shows and deletes sessions in Redis or PostgreSQL, and lists a user's
//! sessions; `tenure events` prints the store's session events.

pub mod demo;
pub mod errors;
pub mod events;
pub mod inspect;
pub mod serve;
pub mod stores;
