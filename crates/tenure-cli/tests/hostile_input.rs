//! Hostile clients against a real `tenure serve` process (on the embedded store,
//! with short timeouts so the tests take seconds):
//!
//! - an oversized body and an endless chunked body are answered `413` (or the
//!   connection is cut), never with a 5xx, and the node keeps answering a probe;
//! - header floods (too many headers, one huge header) are answered `431`, cookie
//!   floods `431` or a normal answer, never a 5xx;
//! - slowloris against a node whose open-file limit is 256: more slow connections
//!   than the limit, yet a probe on a fresh connection is answered once the
//!   header-read timeout sheds them, with the default connection bound (below the
//!   file limit) and with a bound above it (accepting meets EMFILE and backs off).

#[path = "support/serving.rs"]
mod serving;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serving::{head, probe, raw, Proc};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// A probe's bound: generous, since the machine may be busy; the figure is printed.
const PROBE: Duration = Duration::from_secs(10);

async fn node(extra: &[&str]) -> Proc {
    let mut args = vec!["--header-read-timeout", "1s", "--body-timeout", "2s"];
    args.extend_from_slice(extra);
    Proc::serve("memory", "hostile", "node-h", &args).await
}

fn not_a_server_error(status: Option<u16>, what: &str, text: &str) {
    if let Some(s) = status {
        assert!(s < 500, "{what}: answered {s}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_endless_bodies_are_refused() {
    let node = node(&[]).await;
    let mb = vec![b'a'; 1024 * 1024];

    let big = head(
        "POST",
        "/cart",
        &[
            "Content-Type: application/x-www-form-urlencoded".into(),
            "Accept: application/json".into(),
            format!("Content-Length: {}", 10 * mb.len()),
        ],
    );
    let answer = raw(node.addr, big, vec![mb.clone(); 10], PROBE).await;
    println!("10 MB body: {:?} after {:?}", answer.status, answer.took);
    assert!(answer.closed, "the connection is closed");
    assert!(
        matches!(answer.status, Some(413) | None),
        "an oversized body is refused: {:?}",
        answer.text
    );
    probe(node.addr, PROBE).await;

    // Chunked, never ending (bounded here at 64 MB): cut off at axum's 2 MB limit.
    let endless = head(
        "POST",
        "/cart",
        &[
            "Content-Type: application/json".into(),
            "Transfer-Encoding: chunked".into(),
        ],
    );
    let mut chunk = format!("{:x}\r\n", mb.len()).into_bytes();
    chunk.extend_from_slice(&mb);
    chunk.extend_from_slice(b"\r\n");
    let answer = raw(node.addr, endless, vec![chunk.clone(); 64], PROBE).await;
    println!(
        "endless chunked body: {:?} after {:?}",
        answer.status, answer.took
    );
    assert!(answer.closed, "the connection is closed");
    assert!(
        matches!(answer.status, Some(413) | None),
        "an endless body is refused: {:?}",
        answer.text
    );

    // To a route that never reads its body: answered, and the connection closed
    // rather than drained forever.
    let endless = head("POST", "/counter", &["Transfer-Encoding: chunked".into()]);
    let answer = raw(node.addr, endless, vec![chunk; 64], PROBE).await;
    println!(
        "endless body to /counter: {:?} after {:?}",
        answer.status, answer.took
    );
    assert!(answer.closed, "the connection is closed");
    not_a_server_error(answer.status, "endless body to /counter", &answer.text);
    probe(node.addr, PROBE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_and_cookie_floods_are_refused_without_a_server_error() {
    let node = node(&[]).await;
    let floods: Vec<(&str, Vec<String>)> = vec![
        (
            "1,000 headers",
            (0..1000).map(|i| format!("X-Flood-{i}: y")).collect(),
        ),
        (
            "one 1 MB header",
            vec![format!("X-Big: {}", "a".repeat(1 << 20))],
        ),
        (
            "500 Cookie headers",
            (0..500)
                .map(|i| format!("Cookie: tenure=junk{i}"))
                .collect(),
        ),
        (
            "90 Cookie headers",
            (0..90).map(|i| format!("Cookie: tenure=junk{i}")).collect(),
        ),
        (
            "one Cookie header of 5,000 pairs",
            vec![format!(
                "Cookie: {}",
                (0..5000)
                    .map(|i| format!("tenure=v{i}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            )],
        ),
        (
            "one Cookie header of 1,000 session-sized values",
            vec![format!(
                "Cookie: {}",
                (0..1000)
                    .map(|i| format!("tenure={i:0>43}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            )],
        ),
    ];
    for (what, headers) in floods {
        let mut lines = headers;
        lines.push("Connection: close".into());
        let answer = raw(node.addr, head("GET", "/counter", &lines), vec![], PROBE).await;
        println!("{what}: {:?} after {:?}", answer.status, answer.took);
        assert!(answer.closed, "{what}: the connection is closed");
        let status = answer.status.unwrap_or_else(|| panic!("{what}: no answer"));
        assert!(
            matches!(status, 200 | 400 | 431),
            "{what}: answered {status}: {}",
            answer.text.lines().next().unwrap_or("")
        );
        probe(node.addr, PROBE).await;
    }
}

/// Opens `n` connections that each send a request head one byte every 200 ms, for
/// at most `for_at_most`, counting in `connected` those the kernel accepted; answers
/// how many were closed by the server by then.
async fn slowloris(
    addr: std::net::SocketAddr,
    n: usize,
    for_at_most: Duration,
    connected: Arc<AtomicUsize>,
) -> usize {
    let mut tasks = Vec::new();
    for _ in 0..n {
        let connected = connected.clone();
        tasks.push(tokio::spawn(async move {
            let Ok(mut stream) = TcpStream::connect(addr).await else {
                connected.fetch_add(1, Ordering::SeqCst);
                return true;
            };
            connected.fetch_add(1, Ordering::SeqCst);
            let deadline = Instant::now() + for_at_most;
            let head = b"GET /counter HTTP/1.1\r\nX-Slow: "
                .iter()
                .chain(std::iter::repeat(&b'a'));
            for byte in head {
                if Instant::now() >= deadline {
                    return false;
                }
                if stream.write_all(&[*byte]).await.is_err() {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            false
        }));
    }
    let mut closed = 0;
    for t in tasks {
        closed += usize::from(t.await.unwrap());
    }
    closed
}

async fn slowloris_on_a_low_file_limit(extra: &[&str], what: &str) {
    const FILES: u32 = 256;
    // More than the file limit, and few enough that every connection is made at once
    // (past the accepted ones and the listen backlog, connecting waits for SYN
    // retransmissions, which only slows the attack down).
    const SLOW: usize = 300;
    let mut args = vec![
        "serve",
        "--name",
        "node-slow",
        "--header-read-timeout",
        "1s",
    ];
    args.extend_from_slice(extra);
    let node = Proc::start(&args, Some(FILES)).await;
    let addr = node.addr;
    let connected = Arc::new(AtomicUsize::new(0));
    let attack = tokio::spawn(slowloris(
        addr,
        SLOW,
        Duration::from_secs(15),
        connected.clone(),
    ));
    // The slow connections take every place first.
    tenure_test::wait_until(
        Duration::from_secs(10),
        "every slow connection made",
        || {
            let n = connected.load(Ordering::SeqCst);
            async move { n == SLOW }
        },
    )
    .await;
    let took = probe(addr, Duration::from_secs(15)).await;
    println!(
        "{what}: {SLOW} slowloris connections against a file limit of {FILES}: a probe was answered in {:.2} s",
        took.as_secs_f64()
    );
    let closed = attack.await.unwrap();
    println!("{what}: {closed} of {SLOW} slow connections were closed by the server within 15 s");
    assert!(closed > 0, "slow connections are shed");
    probe(addr, PROBE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_cannot_starve_a_node_with_a_low_file_limit() {
    slowloris_on_a_low_file_limit(&[], "default bound").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_past_the_file_limit_does_not_stop_accepting() {
    slowloris_on_a_low_file_limit(&["--max-connections", "1000"], "bound above the file limit")
        .await;
}
