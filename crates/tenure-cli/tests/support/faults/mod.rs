//! Shared by the fault tests (`tests/fault_*.rs`): a private Redis, three `tenure serve`
//! processes and `tenure route` ([`rig`]), concurrent increments of several sessions
//! ([`workload`]), the history check and the figures line ([`history`]).
//!
//! A test starts a [`Rig`], runs a [`Workload`] through its router, injects its fault,
//! waits (always with a bound) for the conditions it needs, stops the workload and
//! calls [`finish`], which reads the stored counters, prints the figures and asserts
//! the history is clean.

pub mod history;
pub mod postgres;
pub mod procs;
pub mod rig;
pub mod scenarios;
pub mod workload;

use std::time::Duration;

use tokio::time::Instant;

// Not every test uses every name.
#[allow(unused_imports)]
pub use history::{check, Figures};
#[allow(unused_imports)]
pub use procs::Signal;
#[allow(unused_imports)]
pub use rig::{Rig, Setup};
#[allow(unused_imports)]
pub use scenarios::{killed_holder, store_killed_and_restarted};
#[allow(unused_imports)]
pub use workload::{Record, Workload};

/// Sessions under load in each test.
pub const SESSIONS: usize = 8;
/// Clients per session sending through the router (requests in flight per session).
pub const CLIENTS: usize = 3;
/// Acknowledged increments per session before the fault, and after recovery.
pub const ROUNDS: usize = 20;
/// Bound on each wait for a condition of the scenario.
pub const WAIT: Duration = Duration::from_secs(60);

/// The router's `--upstream-timeout` in these tests (its default, set explicitly so
/// the bound below follows it): past it the router answers 504.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(20);
/// Slack on top of [`UPSTREAM_TIMEOUT`] for the router's own work and this 2-core
/// machine.
const SLACK: Duration = Duration::from_secs(2);

/// The longest any request may wait: the router's upstream timeout plus slack. (A
/// node answers sooner on its own: its acquire timeout is 15 s by default.)
pub fn request_bound() -> Duration {
    UPSTREAM_TIMEOUT + SLACK
}

/// Stops `workload`, reads the stored counters, checks the history, prints the
/// figures and cleans up; panics (after printing) if the history is not clean.
/// The private Redis dies with the rig, so nothing is left behind either way.
pub async fn finish(
    scenario: &str,
    rig: Rig,
    workload: Workload,
    fault: Option<(Instant, &str)>,
) -> Figures {
    let sessions: Vec<_> = workload.sessions.iter().map(|(_, id)| id.clone()).collect();
    let records = workload.stop().await;
    let stored = rig.stored_counters(&sessions).await;
    let figures = check(scenario, &records, &stored, fault, request_bound());
    figures.print();
    // Asserted while the rig lives: on failure its drop prints the nodes' stderr.
    figures.assert_clean();
    rig.clean_up().await;
    figures
}
