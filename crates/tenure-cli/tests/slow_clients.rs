//! Slow clients against real `tenure serve` and `tenure route` processes, with short
//! limits set by flags:
//!
//! - a connection that sends nothing, or its head a byte at a time, is closed at the
//!   header-read timeout;
//! - an idle keep-alive connection outlives the header-read timeout and is closed at
//!   the idle timeout;
//! - a body that stalls is answered `408` at the body timeout, connection closed;
//! - past the connection bound, a new client waits in the backlog and is answered
//!   once a slow connection is shed;
//! - the router has the same limits.

#[path = "support/serving.rs"]
mod serving;

use std::net::SocketAddr;
use std::time::Duration;

use serving::{head, probe, raw, Proc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Bound on any single wait here; the figures are printed.
const BOUND: Duration = Duration::from_secs(10);

async fn node(extra: &[&str]) -> Proc {
    Proc::serve("memory", "slow", "node-s", extra).await
}

/// Sends `prefix` then one byte of a never-ending header every 100 ms; answers how
/// long until the server closed the connection.
async fn drip_head(addr: SocketAddr, prefix: &'static [u8]) -> Duration {
    let start = Instant::now();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let closed = tokio::time::timeout(BOUND, async {
        if stream.write_all(prefix).await.is_err() {
            return;
        }
        let mut buf = [0u8; 256];
        loop {
            tokio::select! {
                read = stream.read(&mut buf) => {
                    if matches!(read, Ok(0) | Err(_)) {
                        return;
                    }
                }
                () = tokio::time::sleep(Duration::from_millis(100)) => {
                    if stream.write_all(b"a").await.is_err() {
                        return;
                    }
                }
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the slow connection is closed within {BOUND:?}"
    );
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_silent_heads_are_closed_at_the_header_read_timeout() {
    let node = node(&["--header-read-timeout", "1s"]).await;
    let silent = raw(node.addr, Vec::new(), vec![], BOUND).await;
    assert!(silent.closed, "a silent connection is closed");
    let mut drips = Vec::new();
    for _ in 0..50 {
        drips.push(tokio::spawn(drip_head(
            node.addr,
            b"GET /counter HTTP/1.1\r\nX-Slow: ",
        )));
    }
    let mut slowest = Duration::ZERO;
    for d in drips {
        slowest = slowest.max(d.await.unwrap());
    }
    println!(
        "header-read timeout 1 s: a silent connection closed after {:.2} s, 50 slow heads all closed within {:.2} s",
        silent.took.as_secs_f64(),
        slowest.as_secs_f64()
    );
    probe(node.addr, BOUND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_closes_at_the_idle_timeout() {
    let node = node(&["--header-read-timeout", "1s", "--idle-timeout", "3s"]).await;
    let req = head("GET", "/counter", &[]);
    let answer = raw(node.addr, req, vec![], BOUND).await;
    assert_eq!(answer.status, Some(200), "{}", answer.text);
    assert!(answer.closed, "the idle connection is closed");
    println!(
        "idle timeout 3 s (header-read 1 s): the keep-alive connection closed {:.2} s after it opened",
        answer.took.as_secs_f64()
    );
    assert!(
        answer.took >= Duration::from_secs(3),
        "idle time is not cut at the header-read timeout: closed after {:?}",
        answer.took
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_is_answered_408_at_the_body_timeout() {
    let node = node(&["--body-timeout", "1s"]).await;
    let req = head(
        "POST",
        "/cart",
        &[
            "Content-Type: application/json".into(),
            "Accept: application/json".into(),
            "Content-Length: 100".into(),
        ],
    );
    let answer = raw(node.addr, req, vec![b"{\"item\":".to_vec()], BOUND).await;
    println!(
        "body timeout 1 s: a stalled body answered {:?} after {:.2} s",
        answer.status,
        answer.took.as_secs_f64()
    );
    assert_eq!(answer.status, Some(408), "{}", answer.text);
    assert!(answer.closed, "the connection is closed after the 408");
    probe(node.addr, BOUND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_connection_bound_a_client_waits_until_a_slow_one_is_shed() {
    let node = node(&["--max-connections", "4", "--header-read-timeout", "1s"]).await;
    let mut silent = Vec::new();
    for _ in 0..4 {
        silent.push(TcpStream::connect(node.addr).await.unwrap());
    }
    let took = probe(node.addr, BOUND).await;
    println!(
        "4 connections allowed, 4 silent ones open: a probe was answered in {:.2} s",
        took.as_secs_f64()
    );
    drop(silent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_has_the_same_limits() {
    let node = node(&[]).await;
    let route = Proc::route(
        &[node.addr],
        &[
            "--header-read-timeout",
            "1s",
            "--body-timeout",
            "1s",
            "--idle-timeout",
            "2s",
        ],
    )
    .await;
    let slow = drip_head(route.addr, b"GET /counter HTTP/1.1\r\nX-Slow: ").await;
    let req = head(
        "POST",
        "/cart",
        &[
            "Content-Type: application/json".into(),
            "Content-Length: 100".into(),
        ],
    );
    let body = raw(route.addr, req, vec![b"{".to_vec()], BOUND).await;
    let idle = raw(route.addr, head("GET", "/counter", &[]), vec![], BOUND).await;
    println!(
        "router: slow head closed after {:.2} s, stalled body answered {:?} after {:.2} s, idle keep-alive closed after {:.2} s",
        slow.as_secs_f64(),
        body.status,
        body.took.as_secs_f64(),
        idle.took.as_secs_f64()
    );
    assert_eq!(body.status, Some(408), "{}", body.text);
    assert_eq!(idle.status, Some(200), "{}", idle.text);
    assert!(idle.closed);
    probe(route.addr, BOUND).await;
}
