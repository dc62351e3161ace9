//! [`FaultyStore`]: a store wrapper whose faults are switched on and off at run time.
//!
//! A node must survive a store that fails, answers late, loses replies or hints, and
//! tests need to switch those faults while the node runs, without a real network to
//! break. The wrapper is a [`Forward`]: [`before`](Forward::before) and
//! [`after`](Forward::after) apply the faults to every call alike, and only `hints`
//! has a hook of its own, to filter the hint stream.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tenure_core::sync::lock;
use tenure_core::OwnerId;
use tenure_store::{Hint, HintReceiver, Store, StoreError};
use tokio::sync::mpsc;

use crate::forward::{Call, Forward, Forwarding, Method};

/// Hints the forwarding stream of [`FaultyStore::hints`] buffers before it drops them.
const HINT_BUFFER: usize = 1024;

#[derive(Debug, Default)]
struct Faults {
    unavailable: AtomicBool,
    fail_next: AtomicU64,
    lose_next_replies: AtomicU64,
    drop_hints: AtomicBool,
    drop_hints_for: Mutex<HashSet<OwnerId>>,
    fail_renew_for: Mutex<HashSet<OwnerId>>,
    request_delay_us: AtomicU64,
    reply_delay_us: AtomicU64,
    injected: AtomicU64,
    hints_dropped: AtomicU64,
}

impl Faults {
    /// Counts an injected failure and makes its error.
    fn inject(&self, what: &str) -> StoreError {
        self.injected.fetch_add(1, Ordering::SeqCst);
        StoreError::Unavailable(format!("injected fault: {what}"))
    }
}

/// Takes one from `counter` if it is above zero.
fn take_one(counter: &AtomicU64) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The [`Forward`] wrapper inside a [`FaultyStore`]: the inner store and the switches.
#[derive(Debug)]
pub struct Faulty<S: ?Sized> {
    inner: Arc<S>,
    faults: Arc<Faults>,
}

impl<S: ?Sized> Clone for Faulty<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            faults: Arc::clone(&self.faults),
        }
    }
}

#[async_trait]
impl<S: Store + ?Sized> Forward for Faulty<S> {
    fn inner(&self) -> &dyn Store {
        &self.inner
    }

    /// Waits out the request delay, then fails the call if the store is unavailable,
    /// a failure is due, or it is a renewal of an owner whose renewals fail.
    async fn before(&self, call: &Call<'_>) -> Result<(), StoreError> {
        let f = &*self.faults;
        let method = call.method();
        sleep_us(f.request_delay_us.load(Ordering::SeqCst)).await;
        if f.unavailable.load(Ordering::SeqCst) {
            return Err(f.inject(&format!("{method}: store unavailable")));
        }
        if take_one(&f.fail_next) {
            return Err(f.inject(&format!("{method}: call failed")));
        }
        let renewal_fails = matches!(
            call,
            Call::Renew { owner, .. } if lock(&f.fail_renew_for).contains(*owner)
        );
        if renewal_fails {
            return Err(f.inject(&format!("{method}: renewals of this owner fail")));
        }
        Ok(())
    }

    /// Waits out the reply delay, then loses the reply if a loss is due.
    async fn after<T: Send>(
        &self,
        method: Method,
        reply: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let f = &*self.faults;
        sleep_us(f.reply_delay_us.load(Ordering::SeqCst)).await;
        if take_one(&f.lose_next_replies) {
            return Err(f.inject(&format!("{method}: reply lost")));
        }
        reply
    }

    /// Subscribes at the inner store and forwards its hints through a task of this
    /// wrapper, which drops them while [`FaultyStore::drop_hints`] (or
    /// [`FaultyStore::drop_hints_for`] this owner) is on.
    async fn hints(&self, owner: &OwnerId) -> Result<HintReceiver, StoreError> {
        self.before(&Call::Hints { owner }).await?;
        let reply = self.inner.hints(owner).await;
        let from = self.after(Method::Hints, reply).await?;
        let (to, rx) = mpsc::channel(HINT_BUFFER);
        tokio::spawn(forward_hints(
            owner.clone(),
            from,
            to,
            Arc::clone(&self.faults),
        ));
        Ok(rx)
    }
}

/// A [`Store`] that delegates to an inner store and injects faults: calls that fail
/// before they reach the store, replies lost after the store acted, renewals of one
/// owner that fail (a node that stops renewing), hints that never arrive (a network
/// that loses them) and delays.
///
/// Every switch is a `&self` method, effective at once, also for hint streams
/// already handed out. Cloning gives another handle on the same switches, so a test
/// keeps one while the node under test owns the other. Injected failures are
/// [`StoreError::Unavailable`].
///
/// ```
/// use tenure_store::{MemoryStore, Store};
/// use tenure_test::FaultyStore;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let store = FaultyStore::new(MemoryStore::new());
/// let sid = tenure_core::SessionId::generate().unwrap();
/// store.fail_next(1);
/// assert!(store.load(&sid).await.is_err());
/// assert!(store.load(&sid).await.unwrap().is_none());
/// assert_eq!(store.injected_failures(), 1);
/// # }
/// ```
pub type FaultyStore<S> = Forwarding<Faulty<S>>;

impl<S: Store> FaultyStore<S> {
    /// Wraps `inner`, with every fault off.
    pub fn new(inner: S) -> Self {
        Self::from_arc(Arc::new(inner))
    }
}

impl<S: Store + ?Sized> FaultyStore<S> {
    /// Wraps a shared store (also an `Arc<dyn Store>`), with every fault off.
    pub fn from_arc(inner: Arc<S>) -> Self {
        Forwarding(Faulty {
            inner,
            faults: Arc::default(),
        })
    }

    /// The wrapped store.
    pub fn inner(&self) -> &Arc<S> {
        &self.0.inner
    }

    fn faults(&self) -> &Faults {
        &self.0.faults
    }

    /// While `on`, every call fails without reaching the store (a partition).
    pub fn set_unavailable(&self, on: bool) {
        self.faults().unavailable.store(on, Ordering::SeqCst);
    }

    /// The next `n` calls, of any method, fail without reaching the store.
    pub fn fail_next(&self, n: u64) {
        self.faults().fail_next.store(n, Ordering::SeqCst);
    }

    /// The next `n` calls reach the store and take effect, but their replies are lost:
    /// the caller gets an error and cannot know that the call was applied.
    pub fn lose_next_replies(&self, n: u64) {
        self.faults().lose_next_replies.store(n, Ordering::SeqCst);
    }

    /// While `on`, no hint reaches any stream handed out by [`Store::hints`].
    pub fn drop_hints(&self, on: bool) {
        self.faults().drop_hints.store(on, Ordering::SeqCst);
    }

    /// While `on`, no hint reaches `owner`'s stream.
    pub fn drop_hints_for(&self, owner: &OwnerId, on: bool) {
        let mut set = lock(&self.faults().drop_hints_for);
        if on {
            set.insert(owner.clone());
        } else {
            set.remove(owner);
        }
    }

    /// While `on`, `renew` calls by `owner` fail (a node that stops renewing, or whose
    /// renewals do not get through) while its other calls work.
    pub fn fail_renew_for(&self, owner: &OwnerId, on: bool) {
        let mut set = lock(&self.faults().fail_renew_for);
        if on {
            set.insert(owner.clone());
        } else {
            set.remove(owner);
        }
    }

    /// Waits this long before each call goes to the store (zero: no delay).
    pub fn set_request_delay(&self, delay: Duration) {
        self.faults()
            .request_delay_us
            .store(micros(delay), Ordering::SeqCst);
    }

    /// Waits this long after the store answered, before the caller gets the reply
    /// (zero: no delay).
    pub fn set_reply_delay(&self, delay: Duration) {
        self.faults()
            .reply_delay_us
            .store(micros(delay), Ordering::SeqCst);
    }

    /// Turns every fault off.
    pub fn heal(&self) {
        self.set_unavailable(false);
        self.fail_next(0);
        self.lose_next_replies(0);
        self.drop_hints(false);
        lock(&self.faults().drop_hints_for).clear();
        lock(&self.faults().fail_renew_for).clear();
        self.set_request_delay(Duration::ZERO);
        self.set_reply_delay(Duration::ZERO);
    }

    /// Calls failed or replies lost on purpose so far.
    pub fn injected_failures(&self) -> u64 {
        self.faults().injected.load(Ordering::SeqCst)
    }

    /// Hints dropped on purpose so far.
    pub fn dropped_hints(&self) -> u64 {
        self.faults().hints_dropped.load(Ordering::SeqCst)
    }
}

async fn sleep_us(us: u64) {
    if us > 0 {
        tokio::time::sleep(Duration::from_micros(us)).await;
    }
}

/// Forwards hints from the store to the caller's stream unless they are to be dropped.
/// Ends when either side closes.
async fn forward_hints(
    owner: OwnerId,
    mut from: HintReceiver,
    to: mpsc::Sender<Hint>,
    faults: Arc<Faults>,
) {
    loop {
        let hint = tokio::select! {
            hint = from.recv() => hint,
            () = to.closed() => return,
        };
        let Some(hint) = hint else { return };
        let dropped = faults.drop_hints.load(Ordering::SeqCst)
            || lock(&faults.drop_hints_for).contains(&owner)
            || to.try_send(hint).is_err();
        if dropped {
            faults.hints_dropped.fetch_add(1, Ordering::SeqCst);
        }
    }
}
