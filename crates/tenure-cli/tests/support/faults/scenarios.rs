//! Fault scenarios that run alike on every store: the store's server killed and
//! restarted, and the node holding the most sessions SIGKILLed. Each answers its
//! figures after [`finish`](super::finish) checked the history; `None`: skipped.

use tokio::time::Instant;

use super::{finish, Figures, Rig, Setup, Workload, CLIENTS, ROUNDS, SESSIONS, WAIT};

/// The rig's store server SIGKILLed while increments run, then restarted on its
/// directory and port once increments have failed for it; the nodes reconnect.
pub async fn store_killed_and_restarted(scenario: &str, setup: &Setup) -> Option<Figures> {
    let mut rig = Rig::start(setup).await?;
    let workload = Workload::start(rig.router.addr, SESSIONS, CLIENTS).await;
    workload
        .wait_acked(Instant::now(), ROUNDS, WAIT, "increments before the kill")
        .await;
    let killed = Instant::now();
    rig.server.kill().await;
    workload
        .wait_history(
            WAIT,
            "increments failing while the store is down",
            |records| {
                let failed = records
                    .iter()
                    .filter(|r| r.start >= killed && r.acknowledged().is_none());
                failed.count() >= SESSIONS
            },
        )
        .await;
    rig.server.restart().await;
    let restarted = Instant::now();
    workload
        .wait_acked(restarted, 1, WAIT, "every session served after the restart")
        .await;
    workload
        .wait_acked(Instant::now(), ROUNDS, WAIT, "increments after the restart")
        .await;
    println!(
        "{scenario}: the store down for {:.2} s",
        (restarted - killed).as_secs_f64()
    );
    Some(finish(scenario, rig, workload, Some((restarted, "the restart"))).await)
}

/// The node holding the most sessions SIGKILLed while increments run. From the kill
/// on, one more client per session talks to the live nodes directly, so the
/// takeover does not wait on the router's choices.
pub async fn killed_holder(scenario: &str, setup: &Setup) -> Option<Figures> {
    let mut rig = Rig::start(setup).await?;
    let mut workload = Workload::start(rig.router.addr, SESSIONS, CLIENTS).await;
    workload
        .wait_acked(Instant::now(), ROUNDS, WAIT, "increments before the kill")
        .await;
    let ids: Vec<_> = workload.sessions.iter().map(|(_, id)| id.clone()).collect();
    let (victim, _) = rig.holder(&ids, None, 2, WAIT).await;
    let killed = Instant::now();
    rig.nodes[victim].kill().await;
    // Its locks stay at the store until their leases (or its liveness) run out.
    let held = rig.held_by(victim, &ids).await;
    workload.add_clients(&rig.others(victim));
    workload
        .wait_acked(killed, 1, WAIT, "every session served after the kill")
        .await;
    workload
        .wait_acked(
            Instant::now(),
            ROUNDS,
            WAIT,
            "increments after the takeover",
        )
        .await;
    println!(
        "{scenario}: killed {} holding sessions {held:?}",
        rig.nodes[victim].name
    );
    Some(finish(scenario, rig, workload, Some((killed, "the kill"))).await)
}
