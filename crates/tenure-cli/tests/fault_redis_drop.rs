//! Fault (e), second form: one node (`node-a`) reaches Redis through the fault proxy,
//! and every one of its connections (commands and pub/sub hints alike) is dropped
//! every 250 ms while 8 sessions take concurrent increments (3 in flight each)
//! through `tenure route` at affinity 0.5 over the three `tenure serve` processes
//! (`--lease 2s`). A commit in flight when its connection drops has an unknown
//! outcome: the node must resolve it (idempotent commits) or answer 504, never 503
//! for a stored change, and never apply it twice. The node reconnects by itself. No
//! recovery time: the fault lasts the whole run.

mod support;

use std::time::Duration;

use support::faults::*;
use tokio::time::Instant;

/// The node behind the proxy.
const PROXIED: usize = 0;
/// Acknowledged increments per session while connections are dropped.
const UNDER_FIRE: usize = 5 * ROUNDS;
/// How often the node's connections are dropped.
const EVERY: Duration = Duration::from_millis(250);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nodes_redis_connections_dropped_over_and_over() {
    let scenario = "node-a's Redis connections dropped every 250 ms, affinity 0.5, --lease 2s";
    let mut setup = Setup::new("redis-drop");
    setup.proxied = Some(PROXIED);
    setup.affinity = 0.5;
    let Some(rig) = Rig::start(&setup).await else {
        return;
    };
    let name = rig.nodes[PROXIED].name.clone();
    let workload = Workload::start(rig.router.addr, SESSIONS, CLIENTS).await;
    workload
        .wait_acked(Instant::now(), ROUNDS, WAIT, "increments before the drops")
        .await;

    let faults = rig.proxy.as_ref().expect("a proxied node").handle();
    let dropper = {
        let faults = faults.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(EVERY).await;
                faults.drop_connections();
            }
        })
    };
    let started = Instant::now();
    workload
        .wait_acked(
            started,
            UNDER_FIRE,
            WAIT,
            "increments while connections drop",
        )
        .await;
    workload
        .wait_history(WAIT, "the node answers between drops", |records| {
            let by_node = records.iter().filter(|r| {
                r.start >= started && r.acknowledged().is_some() && r.via() == Some(&name)
            });
            by_node.count() >= ROUNDS
        })
        .await;
    tenure_test::wait_until(WAIT, "connections dropped a few times", || async {
        faults.stats().dropped >= 6
    })
    .await;
    dropper.abort();
    println!(
        "{scenario}: {:.2} s of drops; proxy {:?}",
        started.elapsed().as_secs_f64(),
        faults.stats()
    );
    finish(scenario, rig, workload, None).await;
}
