//! A request body with a deadline for the whole body, and the response body that
//! keeps its connection busy until it has been written.
//!
//! Written by hand because tower-http's `TimeoutBody` restarts its timer at every
//! frame: a client sending one byte every few seconds would never be cut off.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use http_body::{Frame, SizeHint};
use tokio::time::Sleep;

use super::clock::Busy;

/// The error a handler reads from a request body that did not arrive in time.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?}")]
pub struct BodyTimeout(pub Duration);

/// A request body that fails with [`BodyTimeout`] once `timeout` has passed since
/// its first read, and marks `expired` so the response can say so.
pub(super) struct Deadline<B> {
    inner: B,
    timeout: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
    /// The body has ended: no clock any more.
    done: bool,
    expired: Arc<AtomicBool>,
}

impl<B> Deadline<B> {
    pub(super) fn new(inner: B, timeout: Duration, expired: Arc<AtomicBool>) -> Self {
        Self {
            inner,
            timeout,
            sleep: None,
            done: false,
            expired,
        }
    }
}

impl<B> HttpBody for Deadline<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.done {
            return Poll::Ready(None);
        }
        if self.expired.load(Ordering::Relaxed) {
            return Poll::Ready(Some(Err(BodyTimeout(self.timeout).into())));
        }
        let timeout = self.timeout;
        // The clock starts at the handler's first read.
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if sleep.as_mut().poll(cx).is_ready() {
            self.expired.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(BodyTimeout(timeout).into())));
        }
        let frame = std::task::ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if frame.is_none() {
            self.done = true;
            self.sleep = None;
        }
        Poll::Ready(frame.map(|f| f.map_err(Into::into)))
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that holds its connection's [`Busy`] guard.
pub(super) struct Tracked {
    inner: Body,
    _busy: Busy,
}

impl Tracked {
    pub(super) fn new(inner: Body, busy: Busy) -> Self {
        Self { inner, _busy: busy }
    }
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    /// A body that yields one byte a second, forever.
    struct Drip(tokio::time::Interval);

    impl HttpBody for Drip {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            self.0
                .poll_tick(cx)
                .map(|_| Some(Ok(Frame::data(Bytes::from_static(b"x")))))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_dripping_body_fails_at_its_deadline_not_at_each_frame() {
        let start = tokio::time::Instant::now();
        let drip = Drip(tokio::time::interval_at(
            start + Duration::from_millis(500),
            Duration::from_secs(1),
        ));
        let expired = Arc::new(AtomicBool::new(false));
        let mut body = Deadline::new(drip, Duration::from_secs(3), expired.clone());
        let mut got = 0;
        let err = loop {
            match body.frame().await {
                Some(Ok(_)) => got += 1,
                Some(Err(e)) => break e,
                None => panic!("the body ended"),
            }
        };
        assert!(err.is::<BodyTimeout>());
        assert!(expired.load(Ordering::Relaxed));
        assert_eq!(
            got, 3,
            "frames at 0.5, 1.5 and 2.5 s arrived within the 3 s"
        );
        assert_eq!(start.elapsed(), Duration::from_secs(3));
    }
}
