//! One connection's clock: which phase it is in (reading a head, running requests,
//! idle), and when it must be closed.
//!
//! Written by hand because hyper's own `header_read_timeout` starts counting as soon
//! as a connection waits for a request, idle keep-alive time included, so with it an
//! idle timeout could never be longer than the header-read timeout.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tenure_core::sync::lock;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use super::{ServerLimits, Stage};

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for (the rest of) a request's head, since this instant.
    Head(Instant),
    /// This many requests are with the app or still being answered.
    Busy(usize),
    /// Nothing to do since this instant; `fresh`: no request yet on this connection,
    /// so its first head is due within the header-read timeout of `since`.
    Idle { since: Instant, fresh: bool },
}

/// A connection's phase, shared by its IO, its service and its watchdog.
#[derive(Debug)]
pub(super) struct Watch {
    phase: Mutex<Phase>,
    changed: Notify,
}

impl Watch {
    /// A connection accepted now: its first head is due within the header timeout.
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            phase: Mutex::new(Phase::Idle {
                since: Instant::now(),
                fresh: true,
            }),
            changed: Notify::new(),
        })
    }

    /// Bytes arrived: on an idle connection, a new head has begun.
    fn bytes_read(&self) {
        let mut phase = lock(&self.phase);
        if let Phase::Idle { since, fresh } = *phase {
            *phase = Phase::Head(if fresh { since } else { Instant::now() });
            drop(phase);
            // The deadline may now be earlier than the one the watchdog sleeps on.
            self.changed.notify_one();
        }
    }

    /// The app got a request; the connection is busy until the guard drops.
    pub(super) fn begin(self: &Arc<Self>) -> Busy {
        let mut phase = lock(&self.phase);
        *phase = match *phase {
            Phase::Busy(n) => Phase::Busy(n + 1),
            Phase::Head(_) | Phase::Idle { .. } => Phase::Busy(1),
        };
        Busy(self.clone())
    }

    fn end(&self) {
        let mut phase = lock(&self.phase);
        *phase = match *phase {
            Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
            _ => Phase::Idle {
                since: Instant::now(),
                fresh: false,
            },
        };
        drop(phase);
        self.changed.notify_one();
    }

    /// When the connection must be closed, if nothing happens before; `None` while
    /// it is busy. `draining`: since when the server is shutting down.
    fn deadline(&self, limits: &ServerLimits, draining: Option<Instant>) -> Option<Instant> {
        match *lock(&self.phase) {
            Phase::Head(since) => Some(since + limits.header_read()),
            Phase::Busy(_) => None,
            Phase::Idle { since, fresh } => {
                let wait = if fresh {
                    limits.header_read()
                } else {
                    limits.idle()
                };
                let idle = since + wait;
                Some(draining.map_or(idle, |d| idle.min(d + limits.linger())))
            }
        }
    }

    /// Resolves when the connection's deadline has passed, or when the server cuts
    /// every connection.
    pub(super) async fn expired(&self, limits: &ServerLimits, stage: &mut watch::Receiver<Stage>) {
        loop {
            let draining = match *stage.borrow_and_update() {
                Stage::Running => None,
                Stage::Draining(since) => Some(since),
                Stage::Cut => return,
            };
            let deadline = self.deadline(limits, draining);
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = sleep => {
                    // Activity may have moved the deadline on since it was read.
                    if let Some(at) = self.deadline(limits, draining) {
                        if at <= Instant::now() {
                            return;
                        }
                    }
                }
                () = self.changed.notified() => {}
                changed = stage.changed() => {
                    if changed.is_err() {
                        // The server is gone: nothing will cut this connection later.
                        return;
                    }
                }
            }
        }
    }
}

/// Keeps a connection busy while it lives (moved into the response's body, so it
/// ends when the body has been written or dropped).
#[derive(Debug)]
pub(super) struct Busy(Arc<Watch>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// A stream that tells its [`Watch`] when bytes arrive.
#[derive(Debug)]
pub(super) struct Watched<S> {
    pub(super) inner: S,
    pub(super) watch: Arc<Watch>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.watch.bytes_read();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits() -> ServerLimits {
        ServerLimits::new()
            .header_read_timeout(Duration::from_secs(1))
            .idle_timeout(Duration::from_secs(5))
            .drain_linger(Duration::from_secs(2))
    }

    #[tokio::test(start_paused = true)]
    async fn phases_move_the_deadline() {
        let start = Instant::now();
        let watch = Watch::new();
        let l = limits();
        assert_eq!(
            watch.deadline(&l, None),
            Some(start + Duration::from_secs(1))
        );
        let busy = watch.begin();
        assert_eq!(
            watch.deadline(&l, None),
            None,
            "a busy connection has no deadline"
        );
        tokio::time::advance(Duration::from_secs(3)).await;
        drop(busy);
        let idle_at = Instant::now();
        assert_eq!(
            watch.deadline(&l, None),
            Some(idle_at + Duration::from_secs(5))
        );
        assert_eq!(
            watch.deadline(&l, Some(idle_at)),
            Some(idle_at + Duration::from_secs(2)),
            "draining shortens the idle time to the linger"
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        watch.bytes_read();
        assert_eq!(
            watch.deadline(&l, None),
            Some(Instant::now() + Duration::from_secs(1)),
            "a new head is due within the header timeout"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn expires_at_the_header_deadline() {
        let watch = Watch::new();
        let start = Instant::now();
        let (_tx, mut stage) = tokio::sync::watch::channel(Stage::Running);
        watch.expired(&limits(), &mut stage).await;
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }
}
