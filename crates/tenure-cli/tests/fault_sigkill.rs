//! Fault (a): the node holding the most sessions is SIGKILLed while 8 sessions take
//! concurrent increments (3 in flight each) through `tenure route` over three
//! `tenure serve` processes on a private Redis. From the kill on, one more client per
//! session talks to the two live nodes directly, so the takeover does not wait on the
//! router's choices. The history must be clean (see `support/faults/history.rs`), and
//! the figures line gives the recovery time: from the kill until each session is
//! served again (p99 over the sessions).
//!
//! The nodes forward requests to the holder (`tenure serve` advertises its address),
//! so requests are on their way to the holder when it dies: the sender sees the
//! connection refused or reset and serves them itself (or answers 504 for a request
//! the holder may have applied), and no request waits past the acquire timeout.
//!
//! With `--lease 2s` the takeover waits out the dead holder's lease. With the node's
//! default settings the target is at most 5 s (p99; issue 11, item 2): the dead
//! holder's tenures end with its liveness, not with its 30 s lease.

mod support;

use std::time::Duration;

use support::faults::*;

/// Runs the scenario on Redis with `lease`; answers its figures (`None`: skipped).
async fn on_redis(scenario: &str, lease: Option<&'static str>) -> Option<Figures> {
    let mut setup = Setup::new("sigkill");
    setup.lease = lease;
    killed_holder(scenario, &setup).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_holder_with_a_short_lease() {
    on_redis("sigkill holder, --lease 2s", Some("2s")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_holder_with_default_settings_is_replaced_within_5_s() {
    let Some(figures) = on_redis("sigkill holder, default settings", None).await else {
        return;
    };
    let (p99, _) = figures.recovery_p99().expect("every session recovered");
    assert!(
        p99 <= Duration::from_secs(5),
        "recovery p99 {p99:?}: {}",
        figures.line()
    );
    // Requests were being forwarded to the holder when it died (forwarding is on in
    // `tenure serve`): none may wait for longer than a node's acquire timeout (15 s).
    assert!(
        figures.max_wait <= Duration::from_secs(15),
        "a request waited {:?}: {}",
        figures.max_wait,
        figures.line()
    );
}
