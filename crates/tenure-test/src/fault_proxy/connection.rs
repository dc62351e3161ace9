//! One proxied connection: two pumps (client to upstream, upstream to client), each a
//! reader that stamps chunks with their delivery time and a writer that delivers them
//! in order once they are due and their direction is not stalled.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::controls::{Counters, Direction, Mode, Settings};

/// Bytes read per chunk.
const CHUNK: usize = 16 * 1024;
/// Chunks a pump holds before it stops reading (then the sender's socket buffers fill).
const QUEUE: usize = 64;

/// Keeps [`Counters::open`] right however the connection's task ends (aborts too).
struct Open(Arc<Counters>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves one accepted connection until either side closes, the connection is
/// dropped, or it lost bytes in a black hole that has ended.
pub(super) async fn serve(
    client: TcpStream,
    upstream: SocketAddr,
    settings: watch::Receiver<Settings>,
    counters: Arc<Counters>,
) {
    Counters::add(&counters.open, 1);
    let _open = Open(counters.clone());
    let epoch = settings.borrow().epoch;
    tokio::select! {
        () = dropped(settings.clone(), epoch) => Counters::add(&counters.dropped, 1),
        () = forward(client, upstream, settings, &counters) => {}
    }
}

/// Resolves when [`ProxyHandle::drop_connections`](super::ProxyHandle::drop_connections)
/// is called after `epoch`, or the proxy is gone.
async fn dropped(mut settings: watch::Receiver<Settings>, epoch: u64) {
    while settings.borrow_and_update().epoch == epoch {
        if settings.changed().await.is_err() {
            return;
        }
    }
}

/// Waits until `settings` passes `test` (or the proxy is gone); answers them.
async fn wait_until(
    settings: &mut watch::Receiver<Settings>,
    test: impl Fn(&Settings) -> bool,
) -> Settings {
    loop {
        let now = *settings.borrow_and_update();
        if test(&now) || settings.changed().await.is_err() {
            return now;
        }
    }
}

async fn forward(
    client: TcpStream,
    upstream: SocketAddr,
    mut settings: watch::Receiver<Settings>,
    counters: &Counters,
) {
    let _ = client.set_nodelay(true);
    let (mut from_client, to_client) = client.into_split();
    let poisoned = AtomicBool::new(false);
    // Accepted in a black hole: swallow what the client sends until the hole ends.
    if settings.borrow().mode == Mode::BlackHole {
        let closed = tokio::select! {
            () = swallow(&mut from_client, counters, &poisoned) => true,
            _ = wait_until(&mut settings, |s| s.mode != Mode::BlackHole) => false,
        };
        if poisoned.load(Ordering::Relaxed) {
            Counters::add(&counters.holed, 1);
        }
        if closed || poisoned.load(Ordering::Relaxed) {
            return;
        }
    }
    let Ok(server) = TcpStream::connect(upstream).await else {
        Counters::add(&counters.upstream_failures, 1);
        return;
    };
    let _ = server.set_nodelay(true);
    let (from_server, to_server) = server.into_split();
    let up = pump(
        from_client,
        to_server,
        Direction::ToUpstream,
        settings.clone(),
        counters,
        &poisoned,
    );
    let down = pump(
        from_server,
        to_client,
        Direction::ToClient,
        settings.clone(),
        counters,
        &poisoned,
    );
    tokio::select! {
        _ = async { tokio::join!(up, down) } => {}
        () = hole_ended(settings, &poisoned) => {
            if poisoned.load(Ordering::Relaxed) {
                Counters::add(&counters.holed, 1);
            }
        }
    }
}

/// Reads and throws away (marking the connection `poisoned` if anything came) until
/// the client closes.
async fn swallow(from: &mut OwnedReadHalf, counters: &Counters, poisoned: &AtomicBool) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                poisoned.store(true, Ordering::Relaxed);
                Counters::add(&counters.discarded, n as u64);
            }
        }
    }
}

/// Resolves once this connection lost bytes and the black hole has ended (or the
/// proxy is gone).
async fn hole_ended(mut settings: watch::Receiver<Settings>, poisoned: &AtomicBool) {
    wait_until(&mut settings, |s| {
        s.mode != Mode::BlackHole && poisoned.load(Ordering::Relaxed)
    })
    .await;
}

/// Moves bytes `from` one side `to` the other in `direction` until `from` ends (then
/// `to` is shut down, passing the close on) or `to` fails.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    direction: Direction,
    settings: watch::Receiver<Settings>,
    counters: &Counters,
    poisoned: &AtomicBool,
) {
    let (queue, mut due) = mpsc::channel::<(Instant, Vec<u8>)>(QUEUE);
    let read_settings = settings.clone();
    let reader = async move {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let now = *read_settings.borrow();
            if now.mode == Mode::BlackHole {
                poisoned.store(true, Ordering::Relaxed);
                Counters::add(&counters.discarded, n as u64);
                continue;
            }
            let at = Instant::now() + now.latency(direction);
            if queue.send((at, buf[..n].to_vec())).await.is_err() {
                return;
            }
        }
    };
    let mut write_settings = settings;
    let writer = async move {
        while let Some((at, bytes)) = due.recv().await {
            tokio::time::sleep_until(at).await;
            let now = wait_until(&mut write_settings, |s| {
                !s.stalled(direction) || s.mode == Mode::BlackHole
            })
            .await;
            if now.mode == Mode::BlackHole {
                poisoned.store(true, Ordering::Relaxed);
                Counters::add(&counters.discarded, bytes.len() as u64);
                continue;
            }
            if to.write_all(&bytes).await.is_err() {
                return;
            }
            Counters::add(counters.delivered(direction), bytes.len() as u64);
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}
