//! Fault (b): the node holding the most sessions is SIGSTOPped while 8 sessions take
//! concurrent increments (3 in flight each) through `tenure route` over three
//! `tenure serve` processes (`--lease 2s`) on a private Redis, and resumed with SIGCONT
//! once every session it held has been granted to another node (so its lease ran
//! out: its copies are stale). From the stop on, one more client per session talks to
//! the two other nodes directly, so the takeover does not wait on the router.
//!
//! After resuming, the node must write nothing and serve nothing from its stale
//! copies: the history check finds a value that goes backwards or repeats, and the
//! test waits until the resumed node has answered increments again, so it had the
//! chance to. The figures line gives the recovery time (from the stop until each
//! session is served again).

mod support;

use support::faults::*;
use tokio::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigstopped_holder_resumes_past_its_lease_and_serves_nothing_stale() {
    let scenario = "sigstop holder past its lease, --lease 2s";
    let Some(rig) = Rig::start(&Setup::new("sigstop")).await else {
        return;
    };
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
                r.start >= resumed && r.acknowledged().is_some() && r.node() == Some(&name)
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
    finish(scenario, rig, workload, Some((stopped, "the stop"))).await;
}
