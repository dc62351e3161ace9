//! Graceful stop on SIGTERM, with real processes on Redis:
//!
//! - `tenure serve` with a write-behind policy: the request in flight when SIGTERM
//!   arrives is finished (its body sent after the signal), new connections are
//!   refused, and the node writes back and releases its session before exiting 0;
//! - a rolling restart of 3 `tenure serve` behind `tenure route` under concurrent
//!   increments of several sessions (each node SIGTERMed and replaced on its port in
//!   turn): every request answered 200, no increment lost or doubled; the longest
//!   request wait is printed;
//! - `tenure route` and `tenure demo --serve` exit 0 on SIGTERM.

#[path = "support/serving.rs"]
mod serving;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tenure_store::Inspect as _;

use http::StatusCode;
use serving::{clean_up, head, redis_store, session_of, stored, Proc, Tab};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Bound on each wait for a condition or a process.
const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_request_in_flight_then_writes_back_the_session() {
    let Some((url, prefix, store)) = redis_store("sigterm").await else {
        return;
    };
    let mut node = Proc::serve(&url, &prefix, "node-t", &["--policy", "every=60m"]).await;
    let mut tab = Tab::new();
    for i in 1..=3 {
        let answer = tab.send("POST", node.addr, "/counter").await;
        assert_eq!(
            (answer.status, answer.body),
            (StatusCode::OK, i.to_string())
        );
    }
    let cookie = tab.cookie.clone().unwrap();
    let sid = session_of(&cookie);
    assert_ne!(
        stored::<u64>(&store, &sid, "counter").await,
        Some(3),
        "write-behind: the node has not written the counter yet"
    );

    // A request in flight: its head and half its body before SIGTERM.
    let body = br#"{"item":"pear"}"#;
    let mut in_flight = TcpStream::connect(node.addr).await.unwrap();
    let req = head(
        "POST",
        "/cart",
        &[
            format!("Cookie: {cookie}"),
            "Content-Type: application/json".into(),
            "Accept: application/json".into(),
            format!("Content-Length: {}", body.len()),
        ],
    );
    in_flight.write_all(&req).await.unwrap();
    in_flight.write_all(&body[..6]).await.unwrap();
    node.signal("TERM");
    let signalled = Instant::now();
    tenure_test::wait_until(WAIT, "new connections are refused", || {
        let addr = node.addr;
        async move { TcpStream::connect(addr).await.is_err() }
    })
    .await;
    in_flight.write_all(&body[6..]).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(WAIT, in_flight.read_to_string(&mut answer))
        .await
        .expect("the request in flight is answered")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with(r#"["pear"]"#), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    let status = node.exited(WAIT).await;
    assert!(status.success(), "tenure serve exited with {status}");
    println!(
        "SIGTERM: in-flight request finished, node flushed and exited 0 in {:.2} s",
        signalled.elapsed().as_secs_f64()
    );
    assert_eq!(stored::<u64>(&store, &sid, "counter").await, Some(3));
    assert_eq!(
        stored::<Vec<String>>(&store, &sid, "cart").await,
        Some(vec!["pear".to_string()])
    );
    let info = tenure_redis::Inspector::new(store.clone())
        .show(&sid)
        .await
        .unwrap()
        .unwrap();
    assert!(
        info.lock.is_none(),
        "the session is released: {:?}",
        info.lock
    );
    clean_up(&store).await;
}

/// One acknowledged-or-not increment of the rolling restart's load.
struct Sent {
    session: usize,
    status: StatusCode,
    value: Option<u64>,
    took: Duration,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_under_load_loses_nothing() {
    const SESSIONS: usize = 6;
    const TABS: usize = 2;
    let Some((url, prefix, store)) = redis_store("rolling").await else {
        return;
    };
    let mut nodes = Vec::new();
    for name in ["node-a", "node-b", "node-c"] {
        nodes.push(Proc::serve(&url, &prefix, name, &[]).await);
    }
    let addrs: Vec<_> = nodes.iter().map(|n| n.addr).collect();
    let route = Proc::route(&addrs, &[]).await;

    let mut sessions = Vec::new();
    for _ in 0..SESSIONS {
        let mut tab = Tab::new();
        let first = tab.send("POST", route.addr, "/counter").await;
        assert_eq!((first.status, first.body.as_str()), (StatusCode::OK, "1"));
        sessions.push(tab);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(Mutex::new(Vec::<Sent>::new()));
    let seen = Arc::new(Mutex::new(HashSet::<String>::new()));
    let mut load = Vec::new();
    for (session, tab) in sessions.iter().enumerate() {
        for _ in 0..TABS {
            let (mut tab, stop, sent, seen) =
                (tab.clone(), stop.clone(), sent.clone(), seen.clone());
            let front = route.addr;
            load.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let answer = tab.send("POST", front, "/counter").await;
                    if let Some(node) = &answer.node {
                        seen.lock().unwrap().insert(node.clone());
                    }
                    sent.lock().unwrap().push(Sent {
                        session,
                        status: answer.status,
                        value: answer.body.parse().ok(),
                        took: answer.took,
                    });
                }
            }));
        }
    }
    let acked = |n: usize| {
        let sent = sent.clone();
        async move { sent.lock().unwrap().len() >= n }
    };
    tenure_test::wait_until(WAIT, "load running", || acked(200)).await;

    let mut stops = Vec::new();
    for (i, name) in ["node-a", "node-b", "node-c"].into_iter().enumerate() {
        let port = nodes[i].addr.port().to_string();
        nodes[i].signal("TERM");
        let signalled = Instant::now();
        let status = nodes[i].exited(WAIT).await;
        assert!(status.success(), "{name} exited with {status}");
        stops.push(signalled.elapsed().as_secs_f64());
        let replacement = format!("{name}-2");
        nodes[i] = Proc::serve(&url, &prefix, &replacement, &["--port", &port]).await;
        tenure_test::wait_until(WAIT, "the router sends the replacement requests", || {
            let seen = seen.clone();
            let replacement = replacement.clone();
            async move { seen.lock().unwrap().contains(&replacement) }
        })
        .await;
    }
    let before = sent.lock().unwrap().len();
    tenure_test::wait_until(WAIT, "load after the restarts", || acked(before + 100)).await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }

    let sent = std::mem::take(&mut *sent.lock().unwrap());
    let bad: Vec<_> = sent
        .iter()
        .filter(|s| s.status != StatusCode::OK)
        .map(|s| s.status)
        .collect();
    assert!(
        bad.is_empty(),
        "every request is answered 200; not: {bad:?}"
    );
    for (session, tab) in sessions.iter_mut().enumerate() {
        let mut values: Vec<u64> = sent
            .iter()
            .filter(|s| s.session == session)
            .filter_map(|s| s.value)
            .collect();
        values.sort_unstable();
        let expected: Vec<u64> = (2..=values.len() as u64 + 1).collect();
        assert_eq!(
            values, expected,
            "session {session}: each value given once, none skipped"
        );
        let answer = tab.send("GET", route.addr, "/counter").await;
        assert_eq!(
            answer.body,
            (values.len() + 1).to_string(),
            "session {session}: stored"
        );
    }
    let mut waits: Vec<Duration> = sent.iter().map(|s| s.took).collect();
    waits.sort_unstable();
    let max = waits.last().copied().unwrap_or_default();
    let p99 = waits[waits.len() * 99 / 100];
    println!(
        "rolling restart of 3 nodes under {} concurrent increments ({SESSIONS} sessions): {} requests, all 200, 0 lost, 0 doubled; nodes stopped in {stops:.2?} s after SIGTERM; request wait p99 {:.3} s, max {:.3} s",
        SESSIONS * TABS,
        sent.len(),
        p99.as_secs_f64(),
        max.as_secs_f64()
    );
    assert!(
        max < Duration::from_secs(5),
        "no request waited long for a restart: the longest waited {max:?}"
    );
    for node in &nodes {
        node.signal("TERM");
    }
    for node in &mut nodes {
        assert!(node.exited(WAIT).await.success());
    }
    clean_up(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_and_the_served_demo_exit_0_on_sigterm() {
    let node = Proc::serve("memory", "term", "node-r", &[]).await;
    let mut route = Proc::route(&[node.addr], &[]).await;
    let answer = Tab::new().send("POST", route.addr, "/counter").await;
    assert_eq!(answer.status, StatusCode::OK);
    route.signal("TERM");
    assert!(route.exited(WAIT).await.success(), "tenure route exits 0");

    let mut demo = Proc::start(
        &[
            "demo",
            "--serve",
            "--requests",
            "20",
            "--users",
            "2",
            "--concurrency",
            "4",
        ],
        None,
    )
    .await;
    let answer = Tab::new().send("POST", demo.addr, "/counter").await;
    assert_eq!((answer.status, answer.body.as_str()), (StatusCode::OK, "1"));
    demo.signal("TERM");
    assert!(
        demo.exited(WAIT).await.success(),
        "tenure demo --serve exits 0"
    );
    let mut last = Vec::new();
    // Until its standard output ends.
    tokio::time::timeout(WAIT, async {
        while let Some(line) = demo.lines.recv().await {
            last.push(line);
        }
    })
    .await
    .expect("the demo's output ends");
    assert!(
        last.iter()
            .any(|l| l == "after shutdown: 1 increments in the store (your requests)"),
        "the served demo wrote back its session: {last:?}"
    );
}
