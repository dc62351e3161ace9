//! Three app-server OS processes (`tenure serve`) sharing sessions through Redis,
//! behind the front router:
//!
//! - one session, 10,000 `POST /counter` from 20 concurrent requests, at affinity 0
//!   and 0.9, on one Redis and on a cluster: the counter ends at exactly 10,000; at
//!   affinity 0 most requests are forwarded to the holder and the session stays put
//!   (forwards and moves are printed);
//! - the process holding a session is SIGKILLed while two others wait for it: a waiter
//!   gets it within the lease plus 1 s, with everything the dead holder committed;
//! - the nodes' pub/sub connections are killed (`CLIENT KILL TYPE pubsub`) over and
//!   over during contention: no request hangs and no increment is lost.
//!
//! Each test uses its own key prefix and deletes its sessions afterwards.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tenure_store::Inspect as _;

use http::StatusCode;
use support::contention::*;
use support::*;
use tenure_core::SessionId;
use tenure_redis::fred::interfaces::{ClientLike, ClusterInterface};
use tenure_redis::fred::types::{ClusterHash, CustomCommand, Value};
use tenure_redis::{Inspector, RedisStore};
use tokio::time::Instant;

/// The stored counter of `sid`, read without touching the session.
async fn stored_counter(store: &RedisStore, sid: &SessionId) -> Option<u64> {
    let info = Inspector::new(store.clone()).show(sid).await.unwrap()?;
    let attr = info.attrs.iter().find(|a| a.name == "counter")?;
    Some(decode_u64(&attr.value))
}

fn decode_u64(bytes: &[u8]) -> u64 {
    use tenure_core::Codec;
    tenure_core::MessagePack.decode::<u64>(bytes).unwrap()
}

async fn clean_up(store: &RedisStore) {
    let inspector = Inspector::new(store.clone());
    for sid in inspector.list(usize::MAX).await.unwrap() {
        inspector.delete(&sid).await.unwrap();
    }
    store.quit().await;
}

async fn three_processes(url: Option<String>, affinity: f64, test: &str) {
    let prefix = unique_prefix(test);
    let Some(store) = redis(url.clone(), &prefix).await else {
        return;
    };
    let url = url.unwrap();
    let nodes = start_nodes(&url, &prefix, None).await;
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.addr).collect();
    let front = router(&addrs, affinity, 7).await;

    let before = store.server_stats().await.unwrap();
    let started = Instant::now();
    let mut browser = hammer(front, TOTAL).await;
    let elapsed = started.elapsed();
    let cost = &store.server_stats().await.unwrap() - &before;
    let (status, body) = browser.send("GET", front, "/counter").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        TOTAL.to_string(),
        "affinity {affinity}: no lost update"
    );

    let sid = session_of(&browser);
    let totals = NodeTotals::of(&nodes).await;
    for node in nodes {
        node.stop().await;
    }
    assert_eq!(
        stored_counter(&store, &sid).await,
        Some(TOTAL),
        "the stored counter after every node shut down"
    );
    println!(
        "{test}: {TOTAL} increments in {:.1} s, {:.2} Redis commands sent per request, {:.0} bytes per request; {}",
        elapsed.as_secs_f64(),
        cost.client_commands() as f64 / TOTAL as f64,
        cost.net_bytes() as f64 / TOTAL as f64,
        totals.summary(),
    );
    if affinity == 0.0 {
        totals.assert_forwarded_and_kept_put(TOTAL);
    }
    clean_up(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_redis_affinity_0() {
    three_processes(single_url(), 0.0, "single-0").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_redis_affinity_0_9() {
    three_processes(single_url(), 0.9, "single-09").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_affinity_0() {
    three_processes(cluster_url(), 0.0, "cluster-0").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_affinity_0_9() {
    three_processes(cluster_url(), 0.9, "cluster-09").await;
}

/// SIGSTOP the holder, let two nodes queue for the session, SIGKILL the holder: a
/// waiter is granted the session within the lease plus 1 s of the kill, and sees all
/// five increments the dead holder acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_holder_hands_over_within_its_lease() {
    const LEASE: Duration = Duration::from_secs(3);
    let prefix = unique_prefix("kill");
    let Some(store) = redis(single_url(), &prefix).await else {
        return;
    };
    let url = single_url().unwrap();
    // The store path's handover: the waiters must queue at the store, so they do
    // not forward to the holder (fault_sigkill covers a holder killed while requests
    // are forwarded to it).
    let mut nodes = Vec::new();
    for name in ["node-a", "node-b", "node-c"] {
        nodes.push(
            NodeProcess::start_with(&url, &prefix, name, Some("3s"), &["--advertise", "none"])
                .await,
        );
    }
    let mut browser = Browser::new();
    for i in 1..=5 {
        let (status, body) = browser.send("POST", nodes[0].addr, "/counter").await;
        assert_eq!((status, body), (StatusCode::OK, i.to_string()));
    }
    let sid = session_of(&browser);
    let inspector = Inspector::new(store.clone());
    let info = inspector.show(&sid).await.unwrap().expect("the session");
    let holder = info
        .lock
        .expect("node-a keeps its tenure after the request")
        .holder;
    assert!(holder.as_str().starts_with("node-a"), "held by {holder}");

    nodes[0].signal("STOP");
    let mut waiters = Vec::new();
    for node in &nodes[1..] {
        let (mut b, addr) = (browser.clone(), node.addr);
        waiters.push(tokio::spawn(async move {
            b.send("POST", addr, "/counter").await
        }));
    }
    tenure_test::wait_for(Duration::from_secs(10), "two nodes queued", || {
        let inspector = inspector.clone();
        let sid = sid.clone();
        async move {
            let info = inspector.show(&sid).await.ok()??;
            (info.queue.len() == 2).then_some(())
        }
    })
    .await;
    let killed = Instant::now();
    nodes[0].child.start_kill().unwrap();
    nodes[0].child.wait().await.unwrap();

    let mut counters = Vec::new();
    for w in waiters {
        let (status, body) = w.await.unwrap();
        assert_eq!(status, StatusCode::OK, "a waiter failed: {body}");
        counters.push(body.parse::<u64>().unwrap());
    }
    let took = killed.elapsed();
    counters.sort_unstable();
    assert_eq!(
        counters,
        [6, 7],
        "the dead holder's five increments are kept"
    );
    assert!(
        took <= LEASE + Duration::from_secs(1),
        "waiters took {took:?} after the kill; the lease is {LEASE:?}"
    );
    println!("waiters served {took:?} after the holder was killed");
    let (_, body) = browser.send("GET", nodes[1].addr, "/counter").await;
    assert_eq!(body, "7");
    for node in nodes.drain(1..) {
        node.stop().await;
    }
    clean_up(&store).await;
}

/// Kills every pub/sub connection on the server(s) `store` talks to; answers how many.
async fn kill_pubsub(store: &RedisStore) -> i64 {
    let client = store.client();
    let cmd = CustomCommand::new_static("CLIENT", ClusterHash::Random, false);
    let args = vec!["KILL", "TYPE", "pubsub"];
    let servers = if client.is_clustered() {
        client
            .cached_cluster_state()
            .map(|s| s.unique_primary_nodes())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let reply: Result<Value, _> = if servers.is_empty() {
        client.custom(cmd, args).await
    } else {
        let mut total = 0;
        for server in servers {
            let n: Value = client
                .with_cluster_node(server)
                .custom(cmd.clone(), args.clone())
                .await
                .unwrap();
            total += n.as_i64().unwrap_or(0);
        }
        Ok(Value::Integer(total))
    };
    reply.unwrap().as_i64().unwrap_or(0)
}

/// While 20 requests contend for one session at affinity 0, every node's pub/sub
/// connection is killed every 100 ms: every request is still answered, none lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pubsub_connections_killed_during_contention() {
    const N: u64 = 3_000;
    let prefix = unique_prefix("pubsub");
    let Some(store) = redis(single_url(), &prefix).await else {
        return;
    };
    let url = single_url().unwrap();
    let nodes = start_nodes(&url, &prefix, None).await;
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.addr).collect();
    let front = router(&addrs, 0.0, 3).await;
    let killed = Arc::new(AtomicU64::new(0));
    let killer = {
        let (store, killed) = (store.clone(), killed.clone());
        tokio::spawn(async move {
            loop {
                let n = kill_pubsub(&store).await;
                killed.fetch_add(n.max(0) as u64, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let run = tokio::time::timeout(Duration::from_secs(300), hammer(front, N)).await;
    killer.abort();
    let mut browser = run.expect("requests hung after pub/sub connections were killed");
    let (_, body) = browser.send("GET", front, "/counter").await;
    assert_eq!(body, N.to_string(), "no increment lost");
    let killed = killed.load(Ordering::Relaxed);
    assert!(
        killed >= 3,
        "the nodes kept resubscribing, so their connections kept being killed ({killed} in all)"
    );
    println!("{N} increments while {killed} pub/sub connections were killed");
    for node in nodes {
        node.stop().await;
    }
    clean_up(&store).await;
}
