//! The [`Store`] protocol on [`RedisStore`]: each call runs its script with the keys
//! and arguments built for it, reads the reply, and sends the hint the script asked
//! for. Renewal batching and id rotation, the two steps that take more than one
//! script call, have files of their own.

use std::time::Duration;

use async_trait::async_trait;
use tenure_core::{Bytes, Delta, OwnerId, SessionId, Snapshot};
use tenure_store::{
    AcquireReply, CommitId, CommitReply, CreateReply, Expiry, Fence, Grant, Hint, HintReceiver,
    OptimisticReply, RenewOutcome, Renewal, RotateReply, Store, StoreError,
};

use crate::args;
use crate::connection::RedisStore;
use crate::reply::bad;
use crate::scripts::{AllKeys, DataKeys};
use crate::{renew, rotate};

#[async_trait]
impl Store for RedisStore {
    async fn acquire(
        &self,
        sid: &SessionId,
        owner: &OwnerId,
        lease: Duration,
        wait: Duration,
    ) -> Result<AcquireReply, StoreError> {
        let keys = DataKeys::of(&self.keys(sid));
        let argv = args::acquire(owner, lease, wait);
        let mut reply = self
            .scripts()
            .acquire
            .run(self.client(), keys, argv)
            .await?;
        let status = reply.text("status")?;
        if status == "N" {
            return Ok(AcquireReply::NotFound);
        }
        if let Some((to, hint)) = reply.hint(sid)? {
            self.send_hint(&to, &hint);
        }
        match status.as_str() {
            "G" => {
                let fence = Fence(reply.int("fence")?);
                let version = reply.int("version")?;
                let idle = reply.optional_millis("idle")?;
                let absolute = reply.optional_millis("absolute")?;
                let age = reply.millis("age")?;
                let snapshot = reply.snapshot(version)?;
                Ok(AcquireReply::Granted(Grant {
                    fence,
                    lease: Duration::from_millis(args::millis(lease)),
                    snapshot,
                    expiry: Expiry { idle, absolute },
                    age,
                }))
            }
            "Q" => {
                let position = usize::try_from(reply.int("position")?)
                    .map_err(|_| bad("acquire", "position out of range"))?;
                let retry_after = reply.millis("retry after")?;
                Ok(AcquireReply::Queued {
                    position,
                    retry_after,
                })
            }
            other => Err(bad("acquire", &format!("unknown status {other:?}"))),
        }
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
        let keys = DataKeys::of(&self.keys(sid));
        let argv = args::commit(owner, fence, id, &delta, release);
        let mut reply = self.scripts().commit.run(self.client(), keys, argv).await?;
        match reply.text("status")?.as_str() {
            "S" => Ok(CommitReply::Stale { delta }),
            "C" => {
                if let Some((to, hint)) = reply.hint(sid)? {
                    self.send_hint(&to, &hint);
                }
                let version = reply.int("version")?;
                Ok(CommitReply::Committed { version })
            }
            "A" => Ok(CommitReply::AlreadyApplied {
                version: reply.int("version")?,
            }),
            other => Err(bad("commit", &format!("unknown status {other:?}"))),
        }
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
        let keys = DataKeys::of(&self.keys(sid));
        let argv = args::optimistic(&delta);
        let mut reply = self
            .scripts()
            .optimistic
            .run(self.client(), keys, argv)
            .await?;
        match reply.text("status")?.as_str() {
            "N" => Ok(OptimisticReply::NotFound),
            "L" => Ok(OptimisticReply::Locked),
            "X" => Ok(OptimisticReply::Conflict(tenure_core::Conflict {
                attrs: reply.texts("attribute name")?,
            })),
            "C" => Ok(OptimisticReply::Committed {
                version: reply.int("version")?,
            }),
            other => Err(bad("optimistic", &format!("unknown status {other:?}"))),
        }
    }

    async fn create(
        &self,
        sid: &SessionId,
        attrs: Vec<(String, Bytes)>,
        expiry: Expiry,
        tenure: Option<(&OwnerId, Duration)>,
    ) -> Result<CreateReply, StoreError> {
        let keys = AllKeys::of(&self.keys(sid));
        let argv = args::create(attrs, expiry, tenure);
        let mut reply = self.scripts().create.run(self.client(), keys, argv).await?;
        match reply.text("status")?.as_str() {
            "E" => Ok(CreateReply::Exists),
            "C" => {
                let fence = reply.int("fence")?;
                Ok(CreateReply::Created {
                    fence: (fence != 0).then_some(Fence(fence)),
                })
            }
            other => Err(bad("create", &format!("unknown status {other:?}"))),
        }
    }

    async fn delete(&self, sid: &SessionId) -> Result<bool, StoreError> {
        let keys = AllKeys::of(&self.keys(sid));
        let argv = args::delete(self.config().fence_linger);
        let mut reply = self.scripts().delete.run(self.client(), keys, argv).await?;
        let existed = reply.int("existed")? == 1;
        for waiter in reply.owners()? {
            self.send_hint(&waiter, &Hint::Grant(sid.clone()));
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

    async fn hints(&self, owner: &OwnerId) -> Result<HintReceiver, StoreError> {
        self.hint_stream(owner).await
    }
}
