//! Fault (b): the node holding the most sessions is SIGSTOPped while 8 sessions take
//! concurrent increments (3 in flight each) through `tenure route` over three
//! `tenure serve` processes on a private Redis, and resumed with SIGCONT once every
//! session it held has been granted to another node (so its tenure ran out: its
//! copies are stale). Once with `--lease 2s`, once with the node's default settings
//! (where a stopped node's tenures end with its liveness, not its 30 s lease). From the stop on, one more client per session talks to
//! the two other nodes directly, so the takeover does not wait on the router.
//!
//! After resuming, the node must write nothing and serve nothing from its stale
//! copies: the history check finds a value that goes backwards or repeats, and the
//! test waits until the resumed node has answered increments again, so it had the
//! chance to. The figures line gives the recovery time (from the stop until each
//! session is served again).

mod support;

use std::time::Duration;

use support::faults::*;
use tokio::time::Instant;

/// Runs the scenario with the nodes' `--lease` (`None`: the node's defaults);
/// answers its figures and how long the node was stopped (`None`: skipped).
async fn stopped_holder(
    scenario: &str,
    lease: Option<&'static str>,
) -> Option<(Figures, Duration)> {
    let mut setup = Setup::new("sigstop");
    setup.lease = lease;
    let rig = Rig::start(&setup).await?;
    let mut workload = Workload::start(rig.router.addr, SESSIONS, CLIENTS).await;
    workload
        .wait_acked(Instant::now(), ROUNDS, WAIT, "increments before the stop")
        .await;
    let ids: Vec<_> = workload.sessions.iter().map(|(_, id)| id.clone()).collect();
    let (victim, _) = rig.holder(&ids, None, 2, WAIT).await;
    let name = rig.nodes[victim].name.clone();
    let stopped = Instant::now();
    rig.nodes[victim].signal(Signal::Stop);
    // What it holds now, it cannot give up: it is stopped.
    let held = rig.held_by(victim, &ids).await;
    workload.add_clients(&rig.others(victim));
    let held_ids: Vec<_> = held.iter().map(|s| ids[*s].clone()).collect();
    rig.taken_from(victim, &held_ids, WAIT).await;
    workload
        .wait_acked(stopped, 1, WAIT, "every session served after the stop")
        .await;

    rig.nodes[victim].signal(Signal::Cont);
    let resumed = Instant::now();
    workload
        .wait_history(WAIT, "the resumed node answers increments", |records| {
            let by_victim = records.iter().filter(|r| {
                r.start >= resumed && r.acknowledged().is_some() && r.via() == Some(&name)
            });
            by_victim.count() >= ROUNDS
        })
        .await;
    workload
        .wait_acked(Instant::now(), ROUNDS, WAIT, "increments after the resume")
        .await;
    println!(
        "{scenario}: stopped {name} holding sessions {held:?} for {:.2} s",
        (resumed - stopped).as_secs_f64()
    );
    let figures = finish(scenario, rig, workload, Some((stopped, "the stop"))).await;
    Some((figures, resumed - stopped))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigstopped_holder_resumes_past_its_lease_and_serves_nothing_stale() {
    stopped_holder("sigstop holder past its lease, --lease 2s", Some("2s")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigstopped_holder_with_default_settings_serves_nothing_stale() {
    stopped_holder("sigstop holder until replaced, default settings", None).await;
}

/// With default settings, requests that reach the node for a session it held or was
/// acquiring when it was stopped must not wait out the acquire timeout after it
/// resumes (under its new owner id) while the session is served elsewhere. They did
/// (503 after 15 s plus the stop, about one run in two): the copy's release kept
/// sending a commit whose tenure had ended, as if its outcome could still be learned.
/// Three runs here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigstopped_holder_with_default_settings_costs_seconds_after_it_resumes() {
    const AFTER: Duration = Duration::from_secs(5);
    let scenario = "sigstop holder until replaced, default settings (waits)";
    for _ in 0..3 {
        let Some((figures, stop)) = stopped_holder(scenario, None).await else {
            return;
        };
        assert!(
            figures.max_wait <= stop + AFTER,
            "a request waited {:?}, stopped {stop:?}: {:?}",
            figures.max_wait,
            figures.slowest
        );
    }
}
