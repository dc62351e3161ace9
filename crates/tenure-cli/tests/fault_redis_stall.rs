//! Fault (d): one node (`node-a`) reaches Redis through the fault proxy; while 8
//! sessions take concurrent increments (3 in flight each) through `tenure route` over
//! the three `tenure serve` processes (`--lease 2s`), its link fails until every
//! session it held has been granted to another node, then comes back:
//!
//! - a stall (every byte held, both ways) that then delivers everything it held: the
//!   late commits and renewals carry a fence whose tenure ran out, and the store must
//!   reject them (with `--lease 2s`, and with the node's default settings, where the
//!   tenure ends with the node's liveness);
//! - a black hole (bytes thrown away, nothing answered), after which the proxy closes
//!   the connections that lost bytes and the node reconnects by itself.
//!
//! From the fault on, one more client per session talks to the two other nodes
//! directly, so the takeover does not wait on the router. Once the link is back the
//! node must not serve its stale copies (the test waits until increments it took
//! from the router are acknowledged again: served there, or forwarded to a holder). The figures line gives the recovery time, from the fault until
//! each session is served again.

mod support;

use support::faults::*;
use tenure_test::fault_proxy::ProxyHandle;
use tokio::time::Instant;

/// The node behind the proxy.
const PROXIED: usize = 0;

/// Runs the scenario with the link fault `begin` ... `end` and the nodes' `--lease`
/// (`None`: the node's defaults).
async fn link_fault(
    scenario: &str,
    lease: Option<&'static str>,
    begin: fn(&ProxyHandle),
    end: fn(&ProxyHandle),
) {
    let mut setup = Setup::new("redis-link");
    setup.proxied = Some(PROXIED);
    setup.lease = lease;
    let Some(rig) = Rig::start(&setup).await else {
        return;
    };
    let mut workload = Workload::start(rig.router.addr, SESSIONS, CLIENTS).await;
    workload
        .wait_acked(Instant::now(), ROUNDS, WAIT, "increments before the fault")
        .await;
    let ids: Vec<_> = workload.sessions.iter().map(|(_, id)| id.clone()).collect();
    rig.holder(&ids, Some(PROXIED), 2, WAIT).await;
    let name = rig.nodes[PROXIED].name.clone();
    let faults = rig.proxy.as_ref().expect("a proxied node").handle();
    let began = Instant::now();
    begin(&faults);
    // What it holds now, it cannot give up: its release would not reach Redis.
    let held = rig.held_by(PROXIED, &ids).await;
    workload.add_clients(&rig.others(PROXIED));
    let held_ids: Vec<_> = held.iter().map(|s| ids[*s].clone()).collect();
    rig.taken_from(PROXIED, &held_ids, WAIT).await;
    workload
        .wait_acked(began, 1, WAIT, "every session served after the fault")
        .await;

    end(&faults);
    let ended = Instant::now();
    workload
        .wait_history(
            WAIT,
            "the node behind the proxy answers increments",
            |records| {
                let by_node = records.iter().filter(|r| {
                    r.start >= ended && r.acknowledged().is_some() && r.via() == Some(&name)
                });
                by_node.count() >= ROUNDS
            },
        )
        .await;
    workload
        .wait_acked(Instant::now(), ROUNDS, WAIT, "increments after the fault")
        .await;
    println!(
        "{scenario}: {name} held sessions {held:?}; its link failed for {:.2} s; proxy {:?}",
        (ended - began).as_secs_f64(),
        faults.stats()
    );
    finish(scenario, rig, workload, Some((began, "the fault"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nodes_redis_link_stalls_past_its_lease_then_delivers() {
    link_fault(
        "node-a's Redis link stalls past its lease, --lease 2s",
        Some("2s"),
        ProxyHandle::stall,
        ProxyHandle::unstall,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nodes_redis_link_is_black_holed_past_its_lease() {
    link_fault(
        "node-a's Redis link black-holed past its lease, --lease 2s",
        Some("2s"),
        ProxyHandle::black_hole,
        ProxyHandle::pass_through,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nodes_redis_link_stalls_until_replaced_with_default_settings() {
    link_fault(
        "node-a's Redis link stalls until replaced, default settings",
        None,
        ProxyHandle::stall,
        ProxyHandle::unstall,
    )
    .await;
}
