//! [`Remote`]: the embedded store, answering like a store on the network.
//!
//! The embedded store answers a call before the calling task ever gives up its
//! thread, so a request's load and its commit run without any other request in
//! between, something no store outside the process allows. `Remote` suspends the
//! caller once per call (`tokio::task::yield_now`) before the store acts, as a network
//! store's caller is suspended while its call travels. No time is added: other
//! requests simply get to run meanwhile, as they would on Redis.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tenure_core::{Bytes, Delta, OwnerId, SessionId, Snapshot};
use tenure_store::{
    AcquireReply, CommitId, CommitReply, CreateReply, EventBatch, EventId, Expiry, Fence,
    HintReceiver, Known, Liveness, Location, OptimisticReply, PrincipalSession, RenewOutcome,
    Renewal, RotateReply, Store, StoreError,
};

/// A store whose every call suspends its caller once before the inner store acts.
#[derive(Debug, Clone)]
pub struct Remote<S>(pub S);

type Call<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Suspends the caller once, then runs `call`.
fn remote<'a, T: 'a>(call: impl Future<Output = Result<T, StoreError>> + Send + 'a) -> Call<'a, T> {
    Box::pin(async move {
        tokio::task::yield_now().await;
        call.await
    })
}

// `Store` is declared with `async_trait`; these are the signatures it expands to.
impl<S: Store> Store for Remote<S> {
    fn acquire<'a, 'b, 'c, 't>(
        &'a self,
        sid: &'b SessionId,
        owner: &'c OwnerId,
        lease: Duration,
        wait: Duration,
    ) -> Call<'t, AcquireReply>
    where
        'a: 't,
        'b: 't,
        'c: 't,
        Self: 't,
    {
        remote(self.0.acquire(sid, owner, lease, wait))
    }

    fn acquire_since<'a, 'b, 'c, 'd, 't>(
        &'a self,
        sid: &'b SessionId,
        owner: &'c OwnerId,
        lease: Duration,
        wait: Duration,
        known: &'d Known,
    ) -> Call<'t, AcquireReply>
    where
        'a: 't,
        'b: 't,
        'c: 't,
        'd: 't,
        Self: 't,
    {
        remote(self.0.acquire_since(sid, owner, lease, wait, known))
    }

    fn renew<'a, 'b, 'c, 't>(
        &'a self,
        owner: &'b OwnerId,
        lease: Duration,
        items: &'c [Renewal],
    ) -> Call<'t, Vec<RenewOutcome>>
    where
        'a: 't,
        'b: 't,
        'c: 't,
        Self: 't,
    {
        remote(self.0.renew(owner, lease, items))
    }

    fn commit<'a, 'b, 'c, 't>(
        &'a self,
        sid: &'b SessionId,
        owner: &'c OwnerId,
        fence: Fence,
        id: CommitId,
        delta: Delta,
        release: bool,
    ) -> Call<'t, CommitReply>
    where
        'a: 't,
        'b: 't,
        'c: 't,
        Self: 't,
    {
        remote(self.0.commit(sid, owner, fence, id, delta, release))
    }

    fn load<'a, 'b, 't>(&'a self, sid: &'b SessionId) -> Call<'t, Option<Snapshot>>
    where
        'a: 't,
        'b: 't,
        Self: 't,
    {
        remote(self.0.load(sid))
    }

    fn commit_optimistic<'a, 'b, 't>(
        &'a self,
        sid: &'b SessionId,
        delta: Delta,
    ) -> Call<'t, OptimisticReply>
    where
        'a: 't,
        'b: 't,
        Self: 't,
    {
        remote(self.0.commit_optimistic(sid, delta))
    }

    fn create<'a, 'b, 'c, 't>(
        &'a self,
        sid: &'b SessionId,
        attrs: Vec<(String, Bytes)>,
        expiry: Expiry,
        tenure: Option<(&'c OwnerId, Duration)>,
    ) -> Call<'t, CreateReply>
    where
        'a: 't,
        'b: 't,
        'c: 't,
        Self: 't,
    {
        remote(self.0.create(sid, attrs, expiry, tenure))
    }

    fn delete<'a, 'b, 't>(&'a self, sid: &'b SessionId) -> Call<'t, bool>
    where
        'a: 't,
        'b: 't,
        Self: 't,
    {
        remote(self.0.delete(sid))
    }

    fn rotate_id<'a, 'b, 'c, 'd, 't>(
        &'a self,
        old: &'b SessionId,
        new: &'c SessionId,
        holder: Option<(&'d OwnerId, Fence)>,
    ) -> Call<'t, RotateReply>
    where
        'a: 't,
        'b: 't,
        'c: 't,
        'd: 't,
        Self: 't,
    {
        remote(self.0.rotate_id(old, new, holder))
    }

    fn hints<'a, 'b, 't>(&'a self, owner: &'b OwnerId) -> Call<'t, HintReceiver>
    where
        'a: 't,
        'b: 't,
        Self: 't,
    {
        remote(self.0.hints(owner))
    }

    fn keep_alive<'a, 'b, 't>(
        &'a self,
        owner: &'b OwnerId,
        ttl: Duration,
        register: bool,
    ) -> Call<'t, Liveness>
    where
        'a: 't,
        'b: 't,
        Self: 't,
    {
        remote(self.0.keep_alive(owner, ttl, register))
    }

    fn locate<'a, 'b, 't>(&'a self, sid: &'b SessionId) -> Call<'t, Location>
    where
        'a: 't,
        'b: 't,
        Self: 't,
    {
        remote(self.0.locate(sid))
    }

    fn advertise<'a, 'b, 'c, 't>(
        &'a self,
        owner: &'b OwnerId,
        address: &'c str,
    ) -> Call<'t, Liveness>
    where
        'a: 't,
        'b: 't,
        'c: 't,
        Self: 't,
    {
        remote(self.0.advertise(owner, address))
    }

    fn sessions_of<'a, 'b, 'c, 't>(
        &'a self,
        principal: &'b str,
        label: Option<&'c str>,
    ) -> Call<'t, Vec<PrincipalSession>>
    where
        'a: 't,
        'b: 't,
        'c: 't,
        Self: 't,
    {
        remote(self.0.sessions_of(principal, label))
    }

    fn events<'a, 't>(&'a self, after: Option<EventId>, max: usize) -> Call<'t, EventBatch>
    where
        'a: 't,
        Self: 't,
    {
        remote(self.0.events(after, max))
    }

    fn maintain<'a, 't>(&'a self) -> Call<'t, ()>
    where
        'a: 't,
        Self: 't,
    {
        remote(self.0.maintain())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tenure_store::MemoryStore;

    #[tokio::test(flavor = "current_thread")]
    async fn a_call_lets_other_tasks_run_before_it_completes() {
        let store = Remote(MemoryStore::new());
        let sid = SessionId::generate().unwrap();
        let other = tokio::spawn(async {});
        assert!(store.load(&sid).await.unwrap().is_none());
        assert!(other.is_finished(), "the spawned task ran during the call");
    }
}
