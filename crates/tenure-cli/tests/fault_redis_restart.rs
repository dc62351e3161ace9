//! Fault (c): the private Redis (`--appendonly yes --appendfsync always`) is SIGKILLed
//! while 8 sessions take concurrent increments (3 in flight each) through
//! `tenure route` over three `tenure serve` processes (`--lease 2s`), and restarted on
//! the same directory and port once increments have failed for it. The nodes
//! reconnect by themselves. With every write fsynced before its reply, nothing
//! acknowledged may be lost; an increment whose commit reached Redis just before the
//! kill is stored though its node never heard back, so it must not be answered 503
//! (which means "not stored"). The figures line gives the recovery time, from the
//! restart until each session is served again.

mod support;

use support::faults::*;
use tokio::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted_with_appendfsync_always() {
    let scenario = "redis SIGKILL and restart, appendfsync always, --lease 2s";
    let mut setup = Setup::new("redis-restart");
    setup.persistent = true;
    let Some(mut rig) = Rig::start(&setup).await else {
        return;
    };
    let workload = Workload::start(rig.router.addr, SESSIONS, CLIENTS).await;
    workload
        .wait_acked(Instant::now(), ROUNDS, WAIT, "increments before the kill")
        .await;

    let killed = Instant::now();
    rig.server.kill().await;
    workload
        .wait_history(WAIT, "increments failing while Redis is down", |records| {
            let failed = records
                .iter()
                .filter(|r| r.start >= killed && r.acknowledged().is_none());
            failed.count() >= SESSIONS
        })
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
        "{scenario}: Redis down for {:.2} s",
        (restarted - killed).as_secs_f64()
    );
    finish(scenario, rig, workload, Some((restarted, "the restart"))).await;
}
