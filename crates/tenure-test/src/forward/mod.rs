//! [`Forward`] and [`Forwarding`]: a base for store wrappers, so that each one writes
//! only what it changes.
//!
//! A wrapper store (counting calls, injecting faults, refusing one kind of call in a
//! test) otherwise has to implement every [`Store`] method just to pass most of them
//! on. Here that forwarding is written once: a wrapper implements [`Forward`], naming
//! its inner store and overriding only the hooks it needs, and [`Forwarding`] turns it
//! into a [`Store`]. (The orphan rule forbids a blanket `impl<W: Forward> Store for W`
//! outside `tenure-store`, hence the small adapter type, as `std::num::Wrapping` is.)
//!
//! Two kinds of hook, as in tower's `MapRequest`/`MapResponse` and a `Service`'s own
//! `call`:
//!
//! - [`Forward::before`] and [`Forward::after`] run around every call (with a
//!   [`Call`] describing it, and its [`Method`] and reply): for wrappers that treat all
//!   calls alike, such as counting them or failing them.
//! - one hook per [`Store`] method, by default `before`, the inner store's method and
//!   `after`: for wrappers that change what one method does.
//!
//! ```
//! use std::sync::Arc;
//! use async_trait::async_trait;
//! use tenure_store::{MemoryStore, Store, StoreError};
//! use tenure_test::{Forward, Forwarding};
//!
//! /// Every `delete` fails; every other call goes through unchanged.
//! #[derive(Debug)]
//! struct NoDeletes(Arc<dyn Store>);
//!
//! #[async_trait]
//! impl Forward for NoDeletes {
//!     fn inner(&self) -> &dyn Store {
//!         &*self.0
//!     }
//!
//!     async fn delete(&self, _sid: &tenure_core::SessionId) -> Result<bool, StoreError> {
//!         Err(StoreError::Unavailable("deletes are off".into()))
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let store = Forwarding(NoDeletes(Arc::new(MemoryStore::new())));
//! let sid = tenure_core::SessionId::generate().unwrap();
//! assert!(store.load(&sid).await.unwrap().is_none());
//! assert!(store.delete(&sid).await.is_err());
//! # }
//! ```

mod call;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use tenure_core::{Bytes, Delta, OwnerId, SessionId, Snapshot};
use tenure_store::{
    AcquireReply, CommitId, CommitReply, CreateReply, EventBatch, EventId, Expiry, Fence,
    HintReceiver, Known, Liveness, Location, OptimisticReply, PrincipalSession, Release,
    RenewOutcome, Renewal, RotateReply, Store, StoreError,
};

pub use call::{Call, Method};

/// A store wrapper that passes calls on to [`Forward::inner`], changing only what its
/// overridden hooks change. Wrap it in [`Forwarding`] to use it as a [`Store`].
///
/// Every hook has a default: [`before`](Forward::before) lets the call through,
/// [`after`](Forward::after) hands the reply back unchanged, and each method hook runs
/// `before`, the inner store's method, then `after`. An overridden method hook replaces
/// all three for its method; it may call `before` and `after` itself.
#[async_trait]
pub trait Forward: Send + Sync + fmt::Debug + 'static {
    /// The store the calls are passed on to.
    fn inner(&self) -> &dyn Store;

    /// Runs before each call is passed on. An error is the call's answer, and the inner
    /// store is not called.
    async fn before(&self, call: &Call<'_>) -> Result<(), StoreError> {
        let _ = call;
        Ok(())
    }

    /// Runs on each reply of the inner store (success or error) before the caller gets
    /// it; what it returns is what the caller gets.
    async fn after<T: Send>(
        &self,
        method: Method,
        reply: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let _ = method;
        reply
    }

    /// [`Store::acquire`].
    async fn acquire(
        &self,
        sid: &SessionId,
        owner: &OwnerId,
        lease: Duration,
        wait: Duration,
    ) -> Result<AcquireReply, StoreError> {
        self.before(&Call::Acquire {
            sid,
            owner,
            lease,
            wait,
            known: None,
        })
        .await?;
        let reply = self.inner().acquire(sid, owner, lease, wait).await;
        self.after(Method::Acquire, reply).await
    }

    /// [`Store::acquire_since`]: to the hooks, an acquire whose [`Call::Acquire`]
    /// names what the caller knows, so a wrapper that fails or counts acquires treats
    /// both alike.
    async fn acquire_since(
        &self,
        sid: &SessionId,
        owner: &OwnerId,
        lease: Duration,
        wait: Duration,
        known: &Known,
    ) -> Result<AcquireReply, StoreError> {
        self.before(&Call::Acquire {
            sid,
            owner,
            lease,
            wait,
            known: Some(known),
        })
        .await?;
        let reply = self
            .inner()
            .acquire_since(sid, owner, lease, wait, known)
            .await;
        self.after(Method::Acquire, reply).await
    }

    /// [`Store::renew`].
    async fn renew(
        &self,
        owner: &OwnerId,
        lease: Duration,
        items: &[Renewal],
    ) -> Result<Vec<RenewOutcome>, StoreError> {
        self.before(&Call::Renew {
            owner,
            lease,
            items,
        })
        .await?;
        let reply = self.inner().renew(owner, lease, items).await;
        self.after(Method::Renew, reply).await
    }

    /// [`Store::commit`].
    async fn commit(
        &self,
        sid: &SessionId,
        owner: &OwnerId,
        fence: Fence,
        id: CommitId,
        delta: Delta,
        release: bool,
    ) -> Result<CommitReply, StoreError> {
        self.before(&Call::Commit {
            sid,
            owner,
            fence,
            id,
            delta: &delta,
            release,
        })
        .await?;
        let reply = self
            .inner()
            .commit(sid, owner, fence, id, delta, release)
            .await;
        self.after(Method::Commit, reply).await
    }

    /// [`Store::release_many`].
    async fn release_many(
        &self,
        owner: &OwnerId,
        items: &[Release],
    ) -> Result<Vec<Result<CommitReply, StoreError>>, StoreError> {
        self.before(&Call::ReleaseMany { owner, items }).await?;
        let reply = self.inner().release_many(owner, items).await;
        self.after(Method::ReleaseMany, reply).await
    }

    /// [`Store::load`].
    async fn load(&self, sid: &SessionId) -> Result<Option<Snapshot>, StoreError> {
        self.before(&Call::Load { sid }).await?;
        let reply = self.inner().load(sid).await;
        self.after(Method::Load, reply).await
    }

    /// [`Store::commit_optimistic`].
    async fn commit_optimistic(
        &self,
        sid: &SessionId,
        delta: Delta,
    ) -> Result<OptimisticReply, StoreError> {
        self.before(&Call::CommitOptimistic { sid, delta: &delta })
            .await?;
        let reply = self.inner().commit_optimistic(sid, delta).await;
        self.after(Method::CommitOptimistic, reply).await
    }

    /// [`Store::create`].
    async fn create(
        &self,
        sid: &SessionId,
        attrs: Vec<(String, Bytes)>,
        expiry: Expiry,
        tenure: Option<(&OwnerId, Duration)>,
    ) -> Result<CreateReply, StoreError> {
        self.before(&Call::Create {
            sid,
            attrs: &attrs,
            expiry,
            tenure,
        })
        .await?;
        let reply = self.inner().create(sid, attrs, expiry, tenure).await;
        self.after(Method::Create, reply).await
    }

    /// [`Store::delete`].
    async fn delete(&self, sid: &SessionId) -> Result<bool, StoreError> {
        self.before(&Call::Delete { sid }).await?;
        let reply = self.inner().delete(sid).await;
        self.after(Method::Delete, reply).await
    }

    /// [`Store::rotate_id`].
    async fn rotate_id(
        &self,
        old: &SessionId,
        new: &SessionId,
        holder: Option<(&OwnerId, Fence)>,
    ) -> Result<RotateReply, StoreError> {
        self.before(&Call::RotateId { old, new, holder }).await?;
        let reply = self.inner().rotate_id(old, new, holder).await;
        self.after(Method::RotateId, reply).await
    }

    /// [`Store::hints`].
    async fn hints(&self, owner: &OwnerId) -> Result<HintReceiver, StoreError> {
        self.before(&Call::Hints { owner }).await?;
        let reply = self.inner().hints(owner).await;
        self.after(Method::Hints, reply).await
    }

    /// [`Store::keep_alive`].
    async fn keep_alive(
        &self,
        owner: &OwnerId,
        ttl: Duration,
        register: bool,
    ) -> Result<Liveness, StoreError> {
        self.before(&Call::KeepAlive {
            owner,
            ttl,
            register,
        })
        .await?;
        let reply = self.inner().keep_alive(owner, ttl, register).await;
        self.after(Method::KeepAlive, reply).await
    }

    /// [`Store::locate`].
    async fn locate(&self, sid: &SessionId) -> Result<Location, StoreError> {
        self.before(&Call::Locate { sid }).await?;
        let reply = self.inner().locate(sid).await;
        self.after(Method::Locate, reply).await
    }

    /// [`Store::advertise`].
    async fn advertise(&self, owner: &OwnerId, address: &str) -> Result<Liveness, StoreError> {
        self.before(&Call::Advertise { owner, address }).await?;
        let reply = self.inner().advertise(owner, address).await;
        self.after(Method::Advertise, reply).await
    }

    /// [`Store::sessions_of`].
    async fn sessions_of(
        &self,
        principal: &str,
        label: Option<&str>,
    ) -> Result<Vec<PrincipalSession>, StoreError> {
        self.before(&Call::SessionsOf { principal, label }).await?;
        let reply = self.inner().sessions_of(principal, label).await;
        self.after(Method::SessionsOf, reply).await
    }

    /// [`Store::events`].
    async fn events(&self, after: Option<EventId>, max: usize) -> Result<EventBatch, StoreError> {
        self.before(&Call::Events { after, max }).await?;
        let reply = self.inner().events(after, max).await;
        self.after(Method::Events, reply).await
    }

    /// [`Store::maintain`].
    async fn maintain(&self) -> Result<(), StoreError> {
        self.before(&Call::Maintain).await?;
        let reply = self.inner().maintain().await;
        self.after(Method::Maintain, reply).await
    }
}

/// A [`Forward`] wrapper as a [`Store`]: each method calls the wrapper's hook.
///
/// Cloning clones the wrapper; `Debug` shows the wrapper alone.
#[derive(Clone, Default)]
pub struct Forwarding<W>(pub W);

impl<W: fmt::Debug> fmt::Debug for Forwarding<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[async_trait]
impl<W: Forward> Store for Forwarding<W> {
    async fn acquire(
        &self,
        sid: &SessionId,
        owner: &OwnerId,
        lease: Duration,
        wait: Duration,
    ) -> Result<AcquireReply, StoreError> {
        self.0.acquire(sid, owner, lease, wait).await
    }

    async fn acquire_since(
        &self,
        sid: &SessionId,
        owner: &OwnerId,
        lease: Duration,
        wait: Duration,
        known: &Known,
    ) -> Result<AcquireReply, StoreError> {
        self.0.acquire_since(sid, owner, lease, wait, known).await
    }

    async fn renew(
        &self,
        owner: &OwnerId,
        lease: Duration,
        items: &[Renewal],
    ) -> Result<Vec<RenewOutcome>, StoreError> {
        self.0.renew(owner, lease, items).await
    }

    async fn commit(
        &self,
        sid: &SessionId,
        owner: &OwnerId,
        fence: Fence,
        id: CommitId,
        delta: Delta,
        release: bool,
    ) -> Result<CommitReply, StoreError> {
        self.0.commit(sid, owner, fence, id, delta, release).await
    }

    async fn release_many(
        &self,
        owner: &OwnerId,
        items: &[Release],
    ) -> Result<Vec<Result<CommitReply, StoreError>>, StoreError> {
        self.0.release_many(owner, items).await
    }

    async fn load(&self, sid: &SessionId) -> Result<Option<Snapshot>, StoreError> {
        self.0.load(sid).await
    }

    async fn commit_optimistic(
        &self,
        sid: &SessionId,
        delta: Delta,
    ) -> Result<OptimisticReply, StoreError> {
        self.0.commit_optimistic(sid, delta).await
    }

    async fn create(
        &self,
        sid: &SessionId,
        attrs: Vec<(String, Bytes)>,
        expiry: Expiry,
        tenure: Option<(&OwnerId, Duration)>,
    ) -> Result<CreateReply, StoreError> {
        self.0.create(sid, attrs, expiry, tenure).await
    }

    async fn delete(&self, sid: &SessionId) -> Result<bool, StoreError> {
        self.0.delete(sid).await
    }

    async fn rotate_id(
        &self,
        old: &SessionId,
        new: &SessionId,
        holder: Option<(&OwnerId, Fence)>,
    ) -> Result<RotateReply, StoreError> {
        self.0.rotate_id(old, new, holder).await
    }

    async fn hints(&self, owner: &OwnerId) -> Result<HintReceiver, StoreError> {
        self.0.hints(owner).await
    }

    async fn keep_alive(
        &self,
        owner: &OwnerId,
        ttl: Duration,
        register: bool,
    ) -> Result<Liveness, StoreError> {
        self.0.keep_alive(owner, ttl, register).await
    }

    async fn locate(&self, sid: &SessionId) -> Result<Location, StoreError> {
        self.0.locate(sid).await
    }

    async fn advertise(&self, owner: &OwnerId, address: &str) -> Result<Liveness, StoreError> {
        self.0.advertise(owner, address).await
    }

    async fn sessions_of(
        &self,
        principal: &str,
        label: Option<&str>,
    ) -> Result<Vec<PrincipalSession>, StoreError> {
        self.0.sessions_of(principal, label).await
    }

    async fn events(&self, after: Option<EventId>, max: usize) -> Result<EventBatch, StoreError> {
        self.0.events(after, max).await
    }

    async fn maintain(&self) -> Result<(), StoreError> {
        self.0.maintain().await
    }
}
