//! The [`Store`] protocol on [`RedisStore`]: each call runs its script with the keys
//! and arguments built for it, reads the reply, and sends the hint the script asked
//! for. Renewal batching and id rotation, the two steps that take more than one
//! script call, have files of their own.

use std::time::Duration;

use async_trait::async_trait;
use tenure_core::{Bytes, Delta, OwnerId, SessionId, Snapshot};
use tenure_store::{
    AcquireReply, CommitId, CommitReply, CreateReply, EventBatch, EventId, Expiry, Fence, Hint,
    HintReceiver, Known, Liveness, Location, OptimisticReply, PrincipalSession, Release,
    RenewOutcome, Renewal, RotateReply, Store, StoreError,
};

use crate::args;
use crate::connection::RedisStore;
use crate::liveness;
use crate::reply::bad;
use crate::scripts::DataKeys;
use crate::{directory, events, principals, release, renew, rotate, slots};

#[async_trait]
impl Store for RedisStore {
    async fn acquire(
        &self,
        sid: &SessionId,
        owner: &OwnerId,
        lease: Duration,
        wait: Duration,
    ) -> Result<AcquireReply, StoreError> {
        self.acquire_with(sid, owner, lease, wait, None).await
    }

    async fn acquire_since(
        &self,
        sid: &SessionId,
        owner: &OwnerId,
        lease: Duration,
        wait: Duration,
        known: &Known,
    ) -> Result<AcquireReply, StoreError> {
        self.acquire_with(sid, owner, lease, wait, Some(known))
            .await
    }

    async fn renew(
        &self,
        owner: &OwnerId,
        lease: Duration,
        items: &[Renewal],
    ) -> Result<Vec<RenewOutcome>, StoreError> {
        renew::renew(self, owner, lease, items).await
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
        directory::before_commit(self, sid, &delta).await?;
        let (event, deadline) = slots::commit_marks(&delta);
        let keys = DataKeys::of(&self.keys(sid));
        let argv = args::commit(owner, fence, id, &delta, release);
        let mut reply = self.scripts().commit.run(self.client(), keys, argv).await?;
        let out = match reply.text("status")?.as_str() {
            "S" => Ok(CommitReply::Stale { delta }),
            "P" => Ok(CommitReply::PatchRefused(tenure_core::PatchRefused {
                attrs: reply.texts("attribute name")?,
            })),
            "C" => {
                // {'C', version}, or with a hint {'C', kind, to, version}.
                if reply.remaining() > 1 {
                    if let Some((to, hint)) = reply.hint(sid)? {
                        self.send_hint(&to, &hint);
                    }
                }
                let version = reply.int("version")?;
                Ok(CommitReply::Committed { version })
            }
            "A" => Ok(CommitReply::AlreadyApplied {
                version: reply.int("version")?,
            }),
            other => Err(bad("commit", &format!("unknown status {other:?}"))),
        };
        // Also a retry answered as already applied: the first reply, which would have
        // marked the slot, may be the one that was lost.
        if matches!(
            out,
            Ok(CommitReply::Committed { .. } | CommitReply::AlreadyApplied { .. })
        ) {
            slots::after_op(self, sid, event, deadline).await;
        }
        out
    }

    async fn release_many(
        &self,
        owner: &OwnerId,
        items: &[Release],
    ) -> Result<Vec<Result<CommitReply, StoreError>>, StoreError> {
        release::release_many(self, owner, items).await
    }

    async fn load(&self, sid: &SessionId) -> Result<Option<Snapshot>, StoreError> {
        let keys = DataKeys::of(&self.keys(sid));
        let mut reply = self
            .scripts()
            .load
            .run(self.client(), keys, Vec::new())
            .await?;
        match reply.text("status")?.as_str() {
            "N" => Ok(None),
            "L" => {
                let version = reply.int("version")?;
                Ok(Some(reply.snapshot(version)?))
            }
            other => Err(bad("load", &format!("unknown status {other:?}"))),
        }
    }

    async fn commit_optimistic(
        &self,
        sid: &SessionId,
        delta: Delta,
    ) -> Result<OptimisticReply, StoreError> {
        directory::before_commit(self, sid, &delta).await?;
        let (event, deadline) = slots::commit_marks(&delta);
        let keys = DataKeys::of(&self.keys(sid));
        let argv = args::optimistic(&delta);
        let mut reply = self
            .scripts()
            .optimistic
            .run(self.client(), keys, argv)
            .await?;
        let out = match reply.text("status")?.as_str() {
            "N" => Ok(OptimisticReply::NotFound),
            "L" => Ok(OptimisticReply::Locked),
            "X" => Ok(OptimisticReply::Conflict(tenure_core::Conflict {
                attrs: reply.texts("attribute name")?,
            })),
            "C" => Ok(OptimisticReply::Committed {
                version: reply.int("version")?,
            }),
            "P" => Ok(OptimisticReply::PatchRefused(tenure_core::PatchRefused {
                attrs: reply.texts("attribute name")?,
            })),
            other => Err(bad("optimistic", &format!("unknown status {other:?}"))),
        };
        if matches!(out, Ok(OptimisticReply::Committed { .. })) {
            slots::after_op(self, sid, event, deadline).await;
        }
        out
    }

    async fn create(
        &self,
        sid: &SessionId,
        attrs: Vec<(String, Bytes)>,
        expiry: Expiry,
        tenure: Option<(&OwnerId, Duration)>,
    ) -> Result<CreateReply, StoreError> {
        directory::before_create(self, sid, &attrs).await?;
        let keys = DataKeys::of(&self.keys(sid));
        let live = tenure.is_some_and(|(owner, _)| self.is_registered(owner));
        let argv = args::create(attrs, expiry, tenure, live);
        let mut reply = self.scripts().create.run(self.client(), keys, argv).await?;
        match reply.text("status")?.as_str() {
            "E" => Ok(CreateReply::Exists),
            "C" => {
                let fence = reply.int("fence")?;
                slots::after_op(self, sid, true, slots::created_deadline(expiry)).await;
                Ok(CreateReply::Created {
                    fence: (fence != 0).then_some(Fence(fence)),
                })
            }
            other => Err(bad("create", &format!("unknown status {other:?}"))),
        }
    }

    async fn delete(&self, sid: &SessionId) -> Result<bool, StoreError> {
        let keys = DataKeys::of(&self.keys(sid));
        let argv = args::delete(self.config().fence_linger, true);
        let mut reply = self.scripts().delete.run(self.client(), keys, argv).await?;
        let existed = reply.int("existed")? == 1;
        for waiter in reply.owners()? {
            self.send_hint(&waiter, &Hint::Grant(sid.clone()));
        }
        if existed {
            slots::after_op(self, sid, true, None).await;
        }
        Ok(existed)
    }

    async fn rotate_id(
        &self,
        old: &SessionId,
        new: &SessionId,
        holder: Option<(&OwnerId, Fence)>,
    ) -> Result<RotateReply, StoreError> {
        rotate::rotate_id(self, old, new, holder).await
    }

    async fn locate(&self, sid: &SessionId) -> Result<Location, StoreError> {
        let keys = DataKeys::of(&self.keys(sid));
        let mut reply = self
            .scripts()
            .locate
            .run(self.client(), keys, Vec::new())
            .await?;
        match reply.text("status")?.as_str() {
            "N" => Ok(Location::NotFound),
            "F" => Ok(Location::Free),
            "H" => {
                let holder = OwnerId::new(&reply.text("holder")?)
                    .map_err(|e| bad("locate", &format!("bad holder: {e}")))?;
                let keeps_liveness = reply.int("liveness flag")? == 1;
                // The liveness key lives in another cluster slot: a second command.
                match liveness::address_of(self, &holder).await? {
                    // I15: gone means dead for good, and its lock void.
                    None if keeps_liveness => Ok(Location::Free),
                    None => Ok(Location::Held {
                        holder,
                        address: None,
                    }),
                    Some(address) => Ok(Location::Held { holder, address }),
                }
            }
            other => Err(bad("locate", &format!("unknown status {other:?}"))),
        }
    }

    async fn events(&self, after: Option<EventId>, max: usize) -> Result<EventBatch, StoreError> {
        events::read(self, after, max).await
    }

    async fn maintain(&self) -> Result<(), StoreError> {
        events::expire_pass(self).await
    }

    async fn sessions_of(
        &self,
        principal: &str,
        label: Option<&str>,
    ) -> Result<Vec<PrincipalSession>, StoreError> {
        if self.is_clustered() {
            return directory::sessions_of(self, principal, label).await;
        }
        principals::sessions_of(self, principal, label).await
    }

    async fn advertise(&self, owner: &OwnerId, address: &str) -> Result<Liveness, StoreError> {
        liveness::advertise(self, owner, address).await
    }

    async fn hints(&self, owner: &OwnerId) -> Result<HintReceiver, StoreError> {
        self.hint_stream(owner).await
    }

    async fn keep_alive(
        &self,
        owner: &OwnerId,
        ttl: Duration,
        register: bool,
    ) -> Result<Liveness, StoreError> {
        liveness::keep_alive(self, owner, ttl, register).await
    }
}
