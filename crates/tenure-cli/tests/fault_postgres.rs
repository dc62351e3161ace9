//! The fault suite on PostgreSQL: 8 sessions take concurrent increments (3 in flight
//! each) through `tenure route` over three `tenure serve` processes on a private
//! PostgreSQL server (`initdb` in a temporary directory, `fsync` on), while
//!
//! - the server crashes (the postmaster and every backend SIGKILLed) and is started
//!   again on the same directory and port: it recovers from its write-ahead log, the
//!   nodes reconnect by themselves, nothing acknowledged is lost, and requests during
//!   the outage are answered (503: not stored), none past the router's bound;
//! - the node holding the most sessions is SIGKILLed: another node takes its
//!   sessions over, with everything it had committed;
//! - every node's hint connection (`LISTEN`) is terminated every 100 ms
//!   (`pg_terminate_backend`): no waiter hangs, no increment is lost.
//!
//! Each history is checked as for Redis (`support/faults/history.rs`).

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::faults::*;
use tenure_cli::stores::Backend;
use tokio::time::Instant;

fn on_postgres(name: &'static str) -> Setup {
    let mut setup = Setup::new(name);
    setup.postgres = true;
    setup
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_crashed_and_restarted() {
    let scenario = "postgres SIGKILL and restart, --lease 2s";
    let Some(figures) = store_killed_and_restarted(scenario, &on_postgres("pg-restart")).await
    else {
        return;
    };
    assert!(
        figures.statuses.get("503").is_some_and(|n| *n > 0),
        "requests during the outage are answered 503: {}",
        figures.line()
    );
    // No request hangs past a node's acquire timeout (15 s by default) for the
    // outage: the statement timeout (2 s) ends each call.
    assert!(
        figures.max_wait <= Duration::from_secs(15),
        "a request waited {:?}: {}",
        figures.max_wait,
        figures.line()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_holder_on_postgres() {
    let scenario = "sigkill holder on postgres, --lease 2s";
    killed_holder(scenario, &on_postgres("pg-sigkill")).await;
}

/// Terminates every hint connection of the rig's server; answers how many.
async fn terminate_hint_connections(store: &Backend) -> u64 {
    let Backend::Postgres(store) = store else {
        return 0;
    };
    let Ok(client) = store.pool().get().await else {
        return 0;
    };
    let sql = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
               WHERE application_name LIKE '%-hints' AND pid <> pg_backend_pid()";
    match client.query_one(sql, &[]).await {
        Ok(row) => row.get::<_, i64>(0).max(0) as u64,
        Err(_) => 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_connections_killed_during_contention() {
    let scenario = "postgres LISTEN connections terminated every 100 ms";
    let mut setup = on_postgres("pg-listen");
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
        let (store, killed) = (rig.store.clone(), killed.clone());
        tokio::spawn(async move {
            loop {
                killed.fetch_add(terminate_hint_connections(&store).await, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let started = Instant::now();
    workload
        .wait_acked(
            started,
            ROUNDS * 3,
            WAIT,
            "increments while LISTEN is killed",
        )
        .await;
    killer.abort();
    let killed = killed.load(Ordering::Relaxed);
    println!("{scenario}: {killed} hint connections terminated");
    assert!(
        killed >= 3,
        "the nodes kept reconnecting, so their hint connections kept being terminated ({killed})"
    );
    finish(scenario, rig, workload, None).await;
}
