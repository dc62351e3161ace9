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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted_with_appendfsync_always() {
    let mut setup = Setup::new("redis-restart");
    setup.persistent = true;
    let scenario = "redis SIGKILL and restart, appendfsync always, --lease 2s";
    store_killed_and_restarted(scenario, &setup).await;
}
