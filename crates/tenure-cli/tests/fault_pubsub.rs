//! Fault (e): every pub/sub (hint) connection on the private Redis is killed
//! (`CLIENT KILL TYPE pubsub`) every 100 ms while 8 sessions take concurrent
//! increments (3 in flight each) through `tenure route` at affinity 0.5 (so sessions
//! move between nodes all the time, and recalls need hints or renewals) over three
//! `tenure serve` processes (`--lease 2s`). Recalls then travel with the renewals and
//! the nodes resubscribe by themselves: no request may hang past its bound and the
//! history must be clean. No recovery time: the fault lasts the whole run.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::faults::procs::redis_command;
use support::faults::*;
use tokio::time::Instant;

/// Acknowledged increments per session while the connections are being killed.
const UNDER_FIRE: usize = 5 * ROUNDS;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pubsub_connections_killed_over_and_over() {
    let scenario = "pub/sub connections killed every 100 ms, affinity 0.5, --lease 2s";
    let mut setup = Setup::new("pubsub");
    setup.affinity = 0.5;
    let Some(rig) = Rig::start(&setup).await else {
        return;
    };
    let workload = Workload::start(rig.router.addr, SESSIONS, CLIENTS).await;
    workload
        .wait_acked(
            Instant::now(),
            ROUNDS,
            WAIT,
            "increments before the killing",
        )
        .await;

    let killed = Arc::new(AtomicU64::new(0));
    let killer = {
        let (addr, killed) = (rig.redis().addr, killed.clone());
        tokio::spawn(async move {
            loop {
                let reply = redis_command(addr, &["CLIENT", "KILL", "TYPE", "pubsub"]).await;
                let n = reply
                    .and_then(|r| r.strip_prefix(':').and_then(|n| n.parse().ok()))
                    .unwrap_or(0);
                killed.fetch_add(n, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let started = Instant::now();
    workload
        .wait_acked(
            started,
            UNDER_FIRE,
            WAIT,
            "increments while pub/sub is killed",
        )
        .await;
    tenure_test::wait_until(WAIT, "the nodes resubscribed and were killed again", || {
        let killed = killed.clone();
        async move { killed.load(Ordering::Relaxed) >= 6 }
    })
    .await;
    killer.abort();
    println!(
        "{scenario}: {} pub/sub connections killed in {:.2} s",
        killed.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
    finish(scenario, rig, workload, None).await;
}
