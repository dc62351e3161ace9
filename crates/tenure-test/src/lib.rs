//! Test support for Tenure, as `tower-test` is for tower: check a store backend
//! against the protocol, and wrap a store to count or break what a node does with it.
//!
//! | item | what it is |
//! |---|---|
//! | [`store_conformance!`] | one `#[test]` per clause of the [`Store`](tenure_store::Store) contract, for a backend's `tests/conformance.rs` |
//! | [`conformance`] | the cases as `async fn`s, [`conformance::run_all`] and the case table |
//! | [`CountingStore`] | counts calls per method ([`CallCounts`]), the size of each committed delta ([`CommitPayload`]) and of each grant ([`GrantPayload`]) |
//! | [`FaultyStore`] | injects failures, lost replies, failing renewals, lost hints and delays, switched at run time |
//! | [`Forward`], [`Forwarding`] | the base both wrappers are built on: a wrapper of your own overrides only the calls it changes |
//! | [`fault_proxy`] | a TCP proxy between a client and its server (Redis) with latency, stalls, drops, a black hole and refusals, switched at run time |
//! | [`values`] | arbitrary MessagePack values and related pairs, for patch tests |
//! | [`backend`] | where a backend's tests find their server, and when they may skip |
//! | [`wait_until`], [`wait_for`], [`Poll`] | bounded polling, so tests wait for a condition instead of sleeping and hoping |
//!
//! A backend checks itself with one line:
//!
//! ```no_run
//! // tests/conformance.rs
//! tenure_test::store_conformance!(|| async { tenure_store::MemoryStore::new() });
//! # fn main() {}
//! ```
//!
//! or, from a test of its own, with [`conformance::run_all`]:
//!
//! ```no_run
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! tenure_test::conformance::run_all(|| async { tenure_store::MemoryStore::new() }).await;
//! # }
//! ```
//!
//! The suite runs on real time with short leases, because a networked backend's clock
//! cannot be paused: do not run it under a paused tokio clock.
#![doc(test(attr(deny(warnings))))]

pub mod backend;
pub mod conformance;
mod counting;
pub mod fault_proxy;
mod faulty;
mod forward;
pub mod values;
mod wait;

pub use counting::{
    CallCounts, CommitPayload, Counting, CountingStore, GrantPayload, PAYLOAD_HISTORY,
};
pub use faulty::{Faulty, FaultyStore};
pub use forward::{Call, Forward, Forwarding, Method};
pub use wait::{wait_for, wait_until, Poll, POLL_INTERVAL};
