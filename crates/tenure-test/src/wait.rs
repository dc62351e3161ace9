//! Waiting for a condition with a bound, instead of sleeping and hoping.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// How often [`wait_until`] and [`wait_for`] look again.
pub const POLL_INTERVAL: Duration = Duration::from_millis(15);

/// Polls `check` every [`POLL_INTERVAL`] until it answers `true`.
///
/// # Panics
///
/// If `check` has not answered `true` within `timeout`, with a message naming `what`.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::time::Duration;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let calls = AtomicUsize::new(0);
/// let calls = &calls;
/// tenure_test::wait_until(Duration::from_secs(1), "the third call", || async move {
///     calls.fetch_add(1, Ordering::SeqCst) >= 2
/// })
/// .await;
/// assert_eq!(calls.load(Ordering::SeqCst), 3);
/// # }
/// ```
pub async fn wait_until<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    wait_for(timeout, what, || {
        let fut = check();
        async move { fut.await.then_some(()) }
    })
    .await;
}

/// Polls `probe` every [`POLL_INTERVAL`] until it answers `Some`, and returns the value.
///
/// # Panics
///
/// If `probe` has not answered `Some` within `timeout`, with a message naming `what`.
pub async fn wait_for<T, F, Fut>(timeout: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let poll = Poll::new(timeout, what);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        poll.tick().await;
    }
}

/// A bounded polling loop written by hand, for probes that need mutable state:
/// call [`Poll::tick`] at the end of each round.
///
/// ```
/// use std::time::Duration;
/// use tenure_test::Poll;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let poll = Poll::new(Duration::from_secs(1), "three rounds");
/// let mut rounds = 0;
/// while rounds < 3 {
///     rounds += 1;
///     poll.tick().await;
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct Poll {
    start: Instant,
    timeout: Duration,
    what: String,
}

impl Poll {
    /// Starts the clock: the loop may run for `timeout`, waiting for `what`.
    pub fn new(timeout: Duration, what: impl Into<String>) -> Self {
        Self {
            start: Instant::now(),
            timeout,
            what: what.into(),
        }
    }

    /// Time since [`Poll::new`].
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Sleeps [`POLL_INTERVAL`] before the next round.
    ///
    /// # Panics
    ///
    /// If the time is up, with a message naming what the loop waited for.
    pub async fn tick(&self) {
        let elapsed = self.start.elapsed();
        assert!(
            elapsed < self.timeout,
            "timed out after {elapsed:?} (bound {:?}) waiting for {}",
            self.timeout,
            self.what
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}
