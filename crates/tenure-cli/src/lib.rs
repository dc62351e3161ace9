//! The `tenure` command: a demo of Tenure sessions on several nodes.
//!
//! `tenure demo` starts app-server nodes (each an axum server with its own Tenure node
//! and near cache) on one embedded store, a front router that spreads requests over
//! them with configurable stickiness, runs a concurrent workload through the router
//! and prints what happened: acknowledged versus stored increments (lost updates),
//! store calls and bytes committed per request, lock handoffs.

pub mod demo;
