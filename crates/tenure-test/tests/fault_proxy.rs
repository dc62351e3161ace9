//! The fault proxy against a real Redis, spoken to in raw RESP over TCP: pass-through,
//! latency, a stall that holds a reply until it ends (both directions, and one), a
//! drop that closes current connections only, a black hole that answers nothing and
//! then closes the connections that lost bytes, refusal of new connections, and a
//! dropped proxy closing everything.

use std::net::SocketAddr;
use std::time::Duration;

use tenure_test::backend::{backend_url, backends_required};
use tenure_test::fault_proxy::{Direction, FaultProxy, Mode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

/// How long a reply that should come may take.
const ANSWER: Duration = Duration::from_secs(5);
/// How long the tests watch for a reply that must not come.
const SILENCE: Duration = Duration::from_millis(300);

/// The Redis server's address, or `None` (skip) if none answers and none is required.
async fn redis_addr() -> Option<SocketAddr> {
    let url = backend_url("TENURE_REDIS_URL", Some("redis://127.0.0.1:6379"))?;
    let hostport = url
        .trim_start_matches("redis://")
        .split(['/', '?'])
        .next()
        .unwrap_or_default()
        .rsplit('@')
        .next()
        .unwrap_or_default()
        .to_string();
    let addr = tokio::net::lookup_host(hostport.as_str())
        .await
        .ok()
        .and_then(|mut a| a.next());
    let reachable = match addr {
        Some(a) => TcpStream::connect(a).await.is_ok(),
        None => false,
    };
    if !reachable {
        assert!(!backends_required(), "Redis at {url} is required");
        eprintln!("skipped: no Redis at {url}");
        return None;
    }
    addr
}

async fn proxy() -> Option<FaultProxy> {
    let upstream = redis_addr().await?;
    Some(FaultProxy::start(upstream).await.expect("proxy starts"))
}

async fn connect(proxy: &FaultProxy) -> TcpStream {
    timeout(ANSWER, TcpStream::connect(proxy.addr()))
        .await
        .expect("connect in time")
        .expect("connect")
}

/// Sends one inline command.
async fn send(conn: &mut TcpStream, command: &str) {
    conn.write_all(format!("{command}\r\n").as_bytes())
        .await
        .expect("write");
}

/// Reads one reply line within `within`: `Ok(None)` is a closed connection, `Err` is
/// no answer in time.
async fn reply(conn: &mut TcpStream, within: Duration) -> Result<Option<String>, ()> {
    let mut line = Vec::new();
    let read = async {
        let mut byte = [0u8; 1];
        loop {
            match conn.read(&mut byte).await {
                Ok(0) | Err(_) => return None,
                Ok(_) if byte[0] == b'\n' => {
                    return Some(String::from_utf8_lossy(&line).trim_end().to_string())
                }
                Ok(_) => line.push(byte[0]),
            }
        }
    };
    timeout(within, read).await.map_err(|_| ())
}

async fn ping(conn: &mut TcpStream) -> Result<Option<String>, ()> {
    send(conn, "PING").await;
    reply(conn, ANSWER).await
}

fn pong() -> Result<Option<String>, ()> {
    Ok(Some("+PONG".to_string()))
}

#[tokio::test]
async fn passes_through_and_adds_latency_per_direction() {
    let Some(proxy) = proxy().await else { return };
    let mut conn = connect(&proxy).await;
    assert_eq!(ping(&mut conn).await, pong());
    let faults = proxy.handle();
    faults.set_latency(Direction::ToClient, Duration::from_millis(150));
    faults.set_latency(Direction::ToUpstream, Duration::from_millis(100));
    let sent = Instant::now();
    assert_eq!(ping(&mut conn).await, pong());
    let took = sent.elapsed();
    assert!(
        took >= Duration::from_millis(250),
        "latency added: {took:?}"
    );
    faults.pass_through();
    assert_eq!(faults.settings(), Default::default());
    assert_eq!(ping(&mut conn).await, pong());
    let stats = faults.stats();
    assert_eq!((stats.accepted, stats.open), (1, 1));
    assert_eq!(stats.bytes_to_client, 3 * "+PONG\r\n".len() as u64);
}

#[tokio::test]
async fn a_stall_holds_the_reply_until_it_ends() {
    let Some(proxy) = proxy().await else { return };
    let faults = proxy.handle();
    let mut conn = connect(&proxy).await;
    assert_eq!(ping(&mut conn).await, pong());
    faults.stall();
    send(&mut conn, "PING").await;
    assert_eq!(
        reply(&mut conn, SILENCE).await,
        Err(()),
        "held while stalled"
    );
    // A connection made during the stall is held as well.
    let mut late = connect(&proxy).await;
    send(&mut late, "PING").await;
    assert_eq!(reply(&mut late, SILENCE).await, Err(()));
    faults.unstall();
    assert_eq!(reply(&mut conn, ANSWER).await, pong(), "delivered after");
    assert_eq!(reply(&mut late, ANSWER).await, pong());
    assert_eq!(ping(&mut conn).await, pong());
}

#[tokio::test]
async fn a_one_way_stall_delivers_requests_and_holds_replies() {
    let Some(proxy) = proxy().await else { return };
    let faults = proxy.handle();
    let key = format!("tenure-test-proxy-{}", std::process::id());
    let mut conn = connect(&proxy).await;
    let mut direct = TcpStream::connect(proxy.upstream()).await.expect("direct");
    faults.stall_direction(Direction::ToClient, true);
    send(&mut conn, &format!("SET {key} held")).await;
    assert_eq!(
        reply(&mut conn, SILENCE).await,
        Err(()),
        "the reply is held"
    );
    // ...but the command reached Redis.
    let poll = tenure_test::Poll::new(ANSWER, "the SET applied");
    let stored = loop {
        send(&mut direct, &format!("GET {key}")).await;
        let header = reply(&mut direct, ANSWER).await.expect("GET answered");
        if header.as_deref() != Some("$-1") {
            break reply(&mut direct, ANSWER).await.expect("the value");
        }
        poll.tick().await;
    };
    assert_eq!(stored.as_deref(), Some("held"));
    faults.stall_direction(Direction::ToClient, false);
    assert_eq!(reply(&mut conn, ANSWER).await, Ok(Some("+OK".into())));
    send(&mut direct, &format!("DEL {key}")).await;
    assert_eq!(reply(&mut direct, ANSWER).await, Ok(Some(":1".into())));
}

#[tokio::test]
async fn a_drop_closes_current_connections_and_accepts_new_ones() {
    let Some(proxy) = proxy().await else { return };
    let faults = proxy.handle();
    let mut conn = connect(&proxy).await;
    assert_eq!(ping(&mut conn).await, pong());
    faults.stall(); // held bytes are lost with the connection
    send(&mut conn, "PING").await;
    faults.drop_connections();
    assert_eq!(reply(&mut conn, ANSWER).await, Ok(None), "closed");
    faults.unstall();
    let mut fresh = connect(&proxy).await;
    assert_eq!(ping(&mut fresh).await, pong());
    tenure_test::wait_until(ANSWER, "one connection left", || async {
        faults.stats().open == 1
    })
    .await;
    assert_eq!(faults.stats().dropped, 1);
}

#[tokio::test]
async fn a_black_hole_answers_nothing_then_closes_what_lost_bytes() {
    let Some(proxy) = proxy().await else { return };
    let faults = proxy.handle();
    let mut current = connect(&proxy).await;
    let mut quiet = connect(&proxy).await;
    assert_eq!(ping(&mut current).await, pong());
    assert_eq!(ping(&mut quiet).await, pong());
    faults.black_hole();
    send(&mut current, "PING").await;
    assert_eq!(reply(&mut current, SILENCE).await, Err(()), "no answer");
    let mut new = connect(&proxy).await;
    send(&mut new, "PING").await;
    assert_eq!(
        reply(&mut new, SILENCE).await,
        Err(()),
        "accepted, no answer"
    );
    assert!(faults.stats().discarded >= 2 * "PING\r\n".len() as u64);
    faults.pass_through();
    assert_eq!(
        reply(&mut current, ANSWER).await,
        Ok(None),
        "lost bytes: closed"
    );
    assert_eq!(reply(&mut new, ANSWER).await, Ok(None));
    assert_eq!(ping(&mut quiet).await, pong(), "lost nothing: goes on");
    let mut after = connect(&proxy).await;
    assert_eq!(ping(&mut after).await, pong());
    assert_eq!(faults.stats().holed, 2);
}

#[tokio::test]
async fn refusing_closes_new_connections_only() {
    let Some(proxy) = proxy().await else { return };
    let faults = proxy.handle();
    let mut current = connect(&proxy).await;
    assert_eq!(ping(&mut current).await, pong());
    faults.refuse();
    assert_eq!(faults.settings().mode, Mode::Refuse);
    let mut refused = connect(&proxy).await;
    send(&mut refused, "PING").await;
    assert_eq!(
        reply(&mut refused, ANSWER).await,
        Ok(None),
        "closed at once"
    );
    assert_eq!(ping(&mut current).await, pong(), "current ones go on");
    faults.set_mode(Mode::PassThrough);
    let mut fresh = connect(&proxy).await;
    assert_eq!(ping(&mut fresh).await, pong());
    assert_eq!(faults.stats().refused, 1);
}

#[tokio::test]
async fn a_dropped_proxy_closes_its_connections_and_port() {
    let Some(proxy) = proxy().await else { return };
    let faults = proxy.handle();
    let addr = proxy.addr();
    let mut conn = connect(&proxy).await;
    assert_eq!(ping(&mut conn).await, pong());
    drop(proxy);
    assert_eq!(reply(&mut conn, ANSWER).await, Ok(None), "closed");
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
    faults.stall(); // a handle that outlived its proxy does nothing
    assert_eq!(faults.stats().open, 0);
}

#[tokio::test]
async fn an_unreachable_upstream_closes_the_connection() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let upstream = closed.local_addr().expect("its address");
    drop(closed);
    let proxy = FaultProxy::start(upstream).await.expect("proxy starts");
    let mut conn = connect(&proxy).await;
    send(&mut conn, "PING").await;
    assert_eq!(reply(&mut conn, ANSWER).await, Ok(None));
    assert_eq!(proxy.handle().stats().upstream_failures, 1);
}
