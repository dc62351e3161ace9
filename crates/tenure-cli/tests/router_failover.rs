//! `tenure route` as a front end, over real `tenure serve` processes:
//!
//! - a SIGKILLed node is routed around: its sessions' next requests are refused by
//!   the dead node's port, retried on a live node (health checks off, so the retry
//!   does it), and stick to that node from then on; no answer is a 5xx;
//! - the health check brings a node restarted on the same port back;
//! - `502 every node is down` only when every node refused;
//! - a SIGSTOPped node answers `504` at the upstream timeout, is marked down, and the
//!   next requests go to the live node at once.

#[path = "support/serving.rs"]
mod serving;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use http::StatusCode;
use serving::{clean_up, redis_store, Proc, Tab};
use tokio::time::Instant;

/// Bound on each wait for a condition.
const WAIT: Duration = Duration::from_secs(20);

async fn three_nodes(url: &str, prefix: &str) -> Vec<Proc> {
    let mut nodes = Vec::new();
    for name in ["node-a", "node-b", "node-c"] {
        // A short lease: the killed node's sessions are free again soon after (how
        // soon a dead holder's sessions move is not this test's subject).
        nodes.push(Proc::serve(url, prefix, name, &["--lease", "3s"]).await);
    }
    nodes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_is_routed_around_and_its_sessions_stick_to_a_live_one() {
    let Some((url, prefix, store)) = redis_store("failover").await else {
        return;
    };
    let mut nodes = three_nodes(&url, &prefix).await;
    let addrs: Vec<_> = nodes.iter().map(|n| n.addr).collect();
    // Health checks only at start: marking the dead node down is the requests' doing.
    let route = Proc::route(&addrs, &["--affinity", "1.0", "--health-interval", "600s"]).await;

    // Sessions until two live on node-a (each session's first node is random).
    let mut tabs: Vec<(Tab, String)> = Vec::new();
    while tabs.iter().filter(|(_, n)| n == "node-a").count() < 2 {
        assert!(tabs.len() < 40, "no session landed on node-a");
        let mut tab = Tab::new();
        let first = tab.send("POST", route.addr, "/counter").await;
        assert_eq!((first.status, first.body.as_str()), (StatusCode::OK, "1"));
        tabs.push((tab, first.node.unwrap()));
    }
    nodes[0].kill().await;
    let killed = Instant::now();

    let mut tasks = Vec::new();
    for (mut tab, first_node) in tabs {
        let front = route.addr;
        tasks.push(tokio::spawn(async move {
            let mut served = Vec::new();
            let mut first_wait = None;
            for i in 2..=11u32 {
                let answer = tab.send("POST", front, "/counter").await;
                assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
                assert_eq!(answer.body, i.to_string(), "no increment lost or doubled");
                first_wait.get_or_insert(answer.took);
                served.push(answer.node.unwrap());
            }
            (first_node, served, first_wait.unwrap())
        }));
    }
    let mut moved_waits = Vec::new();
    for t in tasks {
        let (first_node, served, first_wait) = t.await.unwrap();
        let after: BTreeSet<&String> = served.iter().collect();
        assert!(
            !after.contains(&"node-a".to_string()),
            "the dead node served nothing"
        );
        assert_eq!(
            after.len(),
            1,
            "a session sticks to one live node: {served:?}"
        );
        if first_node == "node-a" {
            moved_waits.push(first_wait.as_secs_f64());
        } else {
            assert_eq!(
                served[0], first_node,
                "a session on a live node stays there"
            );
        }
    }
    let mut anonymous = Tab::new();
    for _ in 0..30 {
        let answer = anonymous.send("GET", route.addr, "/counter").await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        anonymous.cookie = None;
    }
    println!(
        "node-a SIGKILLed: its sessions' first requests elsewhere took {moved_waits:.2?} s (lease 3 s), all 10 increments of every session 200, all done {:.2} s after the kill",
        killed.elapsed().as_secs_f64()
    );
    clean_up(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_check_brings_a_node_restarted_on_its_port_back() {
    let mut a = Proc::serve("memory", "hc", "node-a", &[]).await;
    let b = Proc::serve("memory", "hc", "node-b", &[]).await;
    let port = a.addr.port().to_string();
    let route = Proc::route(
        &[a.addr, b.addr],
        &["--affinity", "0", "--health-interval", "100ms"],
    )
    .await;
    a.kill().await;
    let mut tab = Tab::new();
    for _ in 0..20 {
        let answer = tab.send("GET", route.addr, "/counter").await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(answer.node.as_deref(), Some("node-b"));
    }
    let _a2 = Proc::serve("memory", "hc", "node-a2", &["--port", &port]).await;
    let restarted = Instant::now();
    let back = tenure_test::wait_for(WAIT, "node-a2 serves through the router", || {
        let mut tab = tab.clone();
        let front = route.addr;
        async move {
            let answer = tab.send("GET", front, "/counter").await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
            (answer.node.as_deref() == Some("node-a2")).then(|| restarted.elapsed())
        }
    })
    .await;
    println!(
        "a node restarted on its port served through the router {:.2} s after it listened (health checks every 100 ms)",
        back.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_down_answers_502_and_one_back_answers_again() {
    let mut a = Proc::serve("memory", "down", "node-a", &[]).await;
    let mut b = Proc::serve("memory", "down", "node-b", &[]).await;
    let port = b.addr.port().to_string();
    let route = Proc::route(&[a.addr, b.addr], &["--health-interval", "100ms"]).await;
    a.kill().await;
    b.kill().await;
    let mut tab = Tab::new();
    let answer = tab.send("GET", route.addr, "/counter").await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    assert_eq!(answer.body.trim(), "every node is down");
    let _b2 = Proc::serve("memory", "down", "node-b2", &["--port", &port]).await;
    // A down node is still tried when no node is up, so no health check is needed.
    let answer = tab.send("GET", route.addr, "/counter").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.node.as_deref(), Some("node-b2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_node_answers_504_at_the_upstream_timeout_and_is_routed_around() {
    let a = Proc::serve("memory", "stop", "node-a", &[]).await;
    let b = Proc::serve("memory", "stop", "node-b", &[]).await;
    let route = Proc::route(
        &[a.addr, b.addr],
        &[
            "--affinity",
            "0",
            "--upstream-timeout",
            "1s",
            "--health-interval",
            "600s",
        ],
    )
    .await;
    // Connections to node-a in the router's pool first, so a request reaches it.
    let mut tab = Tab::new();
    let mut by_node: HashMap<String, usize> = HashMap::new();
    while by_node.get("node-a").copied().unwrap_or(0) < 2 {
        let answer = tab.send("GET", route.addr, "/counter").await;
        *by_node.entry(answer.node.unwrap()).or_default() += 1;
    }
    a.signal("STOP");
    let mut timed_out = None;
    for _ in 0..40 {
        let answer = tab.send("GET", route.addr, "/counter").await;
        if answer.status == StatusCode::GATEWAY_TIMEOUT {
            assert!(
                answer.body.contains("did not answer within 1s"),
                "{}",
                answer.body
            );
            timed_out = Some(answer.took);
            break;
        }
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    }
    let took = timed_out.expect("a request routed to the stopped node times out");
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let answer = tab.send("GET", route.addr, "/counter").await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(answer.node.as_deref(), Some("node-b"));
        slowest = slowest.max(answer.took);
    }
    println!(
        "SIGSTOPped node: 504 after {:.2} s (upstream timeout 1 s), then 20 requests on the live node, the slowest {:.3} s",
        took.as_secs_f64(),
        slowest.as_secs_f64()
    );
    a.signal("CONT");
}
