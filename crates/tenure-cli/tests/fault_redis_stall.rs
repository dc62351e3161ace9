//! Fault (d): one node (`node-a`) reaches Redis through the fault proxy; while 8
//! sessions take concurrent increments (3 in flight each) through `tenure route` over
//! the three `tenure serve` processes (`--lease 2s`), its link stalls (every byte held,
//! both ways) until every session it held has been granted to another node, and then
//! delivers everything it held. From the stall on, one more client per session talks
//! to the two other nodes directly, so the takeover does not wait on the router.
//!
//! The late commits and renewals carry a fence whose lease ran out: the store must
//! reject them, and the node must not serve its stale copies once its link is back
//! (the test waits until it has answered increments again). The figures line gives
//! the recovery time, from the stall until each session is served again.

mod support;

use support::faults::*;
use tokio::time::Instant;

/// The node behind the proxy.
const PROXIED: usize = 0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nodes_redis_link_stalls_past_its_lease_then_delivers() {
    let scenario = "node-a's Redis link stalls past its lease, --lease 2s";
    let mut setup = Setup::new("redis-stall");
    setup.proxied = Some(PROXIED);
    let Some(rig) = Rig::start(&setup).await else {
        return;
    };
    let mut workload = Workload::start(rig.router.addr, SESSIONS, CLIENTS).await;
    workload
        .wait_acked(Instant::now(), ROUNDS, WAIT, "increments before the stall")
        .await;
    let ids: Vec<_> = workload.sessions.iter().map(|(_, id)| id.clone()).collect();
    let (_, held) = rig.holder(&ids, Some(PROXIED), 2, WAIT).await;
    let name = rig.nodes[PROXIED].name.clone();
    workload.add_clients(&rig.others(PROXIED));

    let faults = rig.proxy.as_ref().expect("a proxied node").handle();
    let stalled = Instant::now();
    faults.stall();
    let held_ids: Vec<_> = held.iter().map(|s| ids[*s].clone()).collect();
    rig.taken_from(PROXIED, &held_ids, WAIT).await;
    workload
        .wait_acked(stalled, 1, WAIT, "every session served after the stall")
        .await;

    faults.unstall();
    let delivered = Instant::now();
    workload
        .wait_history(WAIT, "the stalled node answers increments", |records| {
            let by_node = records.iter().filter(|r| {
                r.start >= delivered && r.acknowledged().is_some() && r.node() == Some(&name)
            });
            by_node.count() >= ROUNDS
        })
        .await;
    workload
        .wait_acked(Instant::now(), ROUNDS, WAIT, "increments after the stall")
        .await;
    println!(
        "{scenario}: {name} held sessions {held:?}; its link stalled for {:.2} s; proxy {:?}",
        (delivered - stalled).as_secs_f64(),
        faults.stats()
    );
    finish(scenario, rig, workload, Some((stalled, "the stall"))).await;
}
