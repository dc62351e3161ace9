//! Three app-server OS processes (`tenure serve`) sharing one session through a
//! private PostgreSQL server, behind the front router: 10,000 `POST /counter` from
//! 20 concurrent requests, at affinity 0 and 0.9. The counter ends at exactly
//! 10,000, in the answers and in the store after every node shut down; at affinity 0
//! most requests are forwarded to the holder and the session stays put.

mod support;

use std::net::SocketAddr;

use http::StatusCode;
use support::contention::*;
use support::faults::postgres::PostgresServer;
use support::faults::procs::TempDir;
use support::*;
use tenure_cli::stores::{Backend, StoreUrl};
use tenure_core::Codec;
use tokio::time::Instant;

async fn three_processes_on_postgres(affinity: f64, test: &'static str) {
    let dir = TempDir::new(test);
    let Some(server) = PostgresServer::start(dir.path()).await else {
        return;
    };
    let (url, prefix) = (server.url(), unique_prefix(test));
    let nodes = start_nodes(&url, &prefix, None).await;
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.addr).collect();
    let front = router(&addrs, affinity, 7).await;

    let started = Instant::now();
    let mut browser = hammer(front, TOTAL).await;
    let elapsed = started.elapsed();
    let (status, body) = browser.send("GET", front, "/counter").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        TOTAL.to_string(),
        "affinity {affinity}: no lost update"
    );

    let totals = NodeTotals::of(&nodes).await;
    for node in nodes {
        node.stop().await;
    }
    let store = Backend::open(&url.parse::<StoreUrl>().unwrap(), &prefix)
        .await
        .unwrap();
    let inspector = store.inspector().unwrap();
    let info = inspector
        .show(&session_of(&browser))
        .await
        .unwrap()
        .expect("the session is stored");
    let counter = info.attrs.iter().find(|a| a.name == "counter").unwrap();
    assert_eq!(
        tenure_core::MessagePack
            .decode::<u64>(&counter.value)
            .unwrap(),
        TOTAL,
        "the stored counter after every node shut down"
    );
    println!(
        "{test}: {TOTAL} increments in {:.1} s; {}",
        elapsed.as_secs_f64(),
        totals.summary()
    );
    if affinity == 0.0 {
        totals.assert_forwarded_and_kept_put(TOTAL);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_affinity_0() {
    three_processes_on_postgres(0.0, "pg-affinity-0").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_affinity_0_9() {
    three_processes_on_postgres(0.9, "pg-affinity-0-9").await;
}
