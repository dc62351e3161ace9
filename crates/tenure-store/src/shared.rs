//! `impl Store for Arc<S>`: a shared store is a store, every call passed on as it is.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tenure_core::{Bytes, Delta, OwnerId, SessionId, Snapshot};

use crate::events::{EventBatch, EventId};
use crate::known::Known;
use crate::principals::PrincipalSession;
use crate::protocol::*;
use crate::StoreError;

/// A shared store is a store: `Arc<MemoryStore>`, `Arc<dyn Store>` and wrappers of them
/// can be used wherever a `Store` is expected.
#[async_trait]
impl<S: Store + ?Sized> Store for Arc<S> {
    async fn acquire(
        &self,
        sid: &SessionId,
        owner: &OwnerId,
        lease: Duration,
        wait: Duration,
    ) -> Result<AcquireReply, StoreError> {
        (**self).acquire(sid, owner, lease, wait).await
    }

    async fn acquire_since(
        &self,
        sid: &SessionId,
        owner: &OwnerId,
        lease: Duration,
        wait: Duration,
        known: &Known,
    ) -> Result<AcquireReply, StoreError> {
        (**self).acquire_since(sid, owner, lease, wait, known).await
    }

    async fn renew(
        &self,
        owner: &OwnerId,
        lease: Duration,
        items: &[Renewal],
    ) -> Result<Vec<RenewOutcome>, StoreError> {
        (**self).renew(owner, lease, items).await
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
        (**self).commit(sid, owner, fence, id, delta, release).await
    }

    async fn release_many(
        &self,
        owner: &OwnerId,
        items: &[Release],
    ) -> Result<Vec<Result<CommitReply, StoreError>>, StoreError> {
        (**self).release_many(owner, items).await
    }

    async fn load(&self, sid: &SessionId) -> Result<Option<Snapshot>, StoreError> {
        (**self).load(sid).await
    }

    async fn commit_optimistic(
        &self,
        sid: &SessionId,
        delta: Delta,
    ) -> Result<OptimisticReply, StoreError> {
        (**self).commit_optimistic(sid, delta).await
    }

    async fn create(
        &self,
        sid: &SessionId,
        attrs: Vec<(String, Bytes)>,
        expiry: Expiry,
        tenure: Option<(&OwnerId, Duration)>,
    ) -> Result<CreateReply, StoreError> {
        (**self).create(sid, attrs, expiry, tenure).await
    }

    async fn delete(&self, sid: &SessionId) -> Result<bool, StoreError> {
        (**self).delete(sid).await
    }

    async fn rotate_id(
        &self,
        old: &SessionId,
        new: &SessionId,
        holder: Option<(&OwnerId, Fence)>,
    ) -> Result<RotateReply, StoreError> {
        (**self).rotate_id(old, new, holder).await
    }

    async fn locate(&self, sid: &SessionId) -> Result<Location, StoreError> {
        (**self).locate(sid).await
    }

    async fn sessions_of(
        &self,
        principal: &str,
        label: Option<&str>,
    ) -> Result<Vec<PrincipalSession>, StoreError> {
        (**self).sessions_of(principal, label).await
    }

    async fn events(&self, after: Option<EventId>, max: usize) -> Result<EventBatch, StoreError> {
        (**self).events(after, max).await
    }

    async fn maintain(&self) -> Result<(), StoreError> {
        (**self).maintain().await
    }

    async fn advertise(&self, owner: &OwnerId, address: &str) -> Result<Liveness, StoreError> {
        (**self).advertise(owner, address).await
    }

    async fn hints(&self, owner: &OwnerId) -> Result<HintReceiver, StoreError> {
        (**self).hints(owner).await
    }

    async fn keep_alive(
        &self,
        owner: &OwnerId,
        ttl: Duration,
        register: bool,
    ) -> Result<Liveness, StoreError> {
        (**self).keep_alive(owner, ttl, register).await
    }
}
