//! [`Store`] for [`PostgresStore`]: each call is one function of `sql/functions.sql`.

use std::time::Duration;

use async_trait::async_trait;
use tenure_core::{Bytes, Conflict, Delta, OwnerId, PatchRefused, SessionId, Snapshot};
use tenure_store::{
    AcquireReply, CommitId, CommitReply, CreateReply, EventBatch, EventId, Expiry, Fence, Grant,
    HintReceiver, Known, Liveness, Location, OptimisticReply, PartialGrant, PrincipalSession,
    Release, RenewOutcome, Renewal, RotateReply, Store, StoreError, MAX_ADDRESS,
};

use crate::args::{counter, ms, sessions_and_fences, DeltaArgs};
use crate::names::{all_from_pg, to_pg};
use crate::reply::{col, expiry, millis, snapshot, unknown, unsigned};
use crate::{events, principals, PostgresStore};

impl PostgresStore {
    /// `acquire`, and with `known` `acquire_since`: one function, one decoder.
    async fn acquire_with(
        &self,
        sid: &SessionId,
        owner: &OwnerId,
        lease: Duration,
        wait: Duration,
        known: Option<&Known>,
    ) -> Result<AcquireReply, StoreError> {
        const WHAT: &str = "acquire";
        let (lease_ms, wait_ms) = (ms(lease), ms(wait));
        let known_version = known.map(|k| i64::try_from(k.version).unwrap_or(i64::MAX));
        let (names, versions): (Vec<_>, Vec<i64>) = known
            .map(|k| {
                k.attrs
                    .iter()
                    // A version no bigint holds is one the store never gave: 0 never matches.
                    .map(|(n, v)| (to_pg(n), i64::try_from(*v).unwrap_or(0)))
                    .unzip()
            })
            .unwrap_or_default();
        let row = self
            .one(
                WHAT,
                &self.inner.sql.acquire,
                &[
                    &sid.as_str(),
                    &owner.as_str(),
                    &lease_ms,
                    &wait_ms,
                    &known_version,
                    &names,
                    &versions,
                ],
            )
            .await?;
        let kind: i16 = col(&row, WHAT, "kind")?;
        if kind == 0 {
            return Ok(AcquireReply::NotFound);
        }
        if kind == 3 {
            let position: i64 = col(&row, WHAT, "queue_position")?;
            let retry: Option<i64> = col(&row, WHAT, "retry_ms")?;
            return Ok(AcquireReply::Queued {
                position: usize::try_from(position.max(1)).unwrap_or(usize::MAX),
                retry_after: millis(retry).unwrap_or_default(),
            });
        }
        let version: i64 = col(&row, WHAT, "version")?;
        let fence: i64 = col(&row, WHAT, "fence")?;
        let grant = Grant {
            fence: Fence(unsigned(WHAT, fence)?),
            lease,
            snapshot: snapshot(&row, WHAT, version)?,
            expiry: expiry(&row, WHAT)?,
            age: millis(col(&row, WHAT, "age_ms")?).unwrap_or_default(),
        };
        match kind {
            1 => Ok(AcquireReply::Granted(grant)),
            2 => {
                let removed: Option<Vec<String>> = col(&row, WHAT, "removed")?;
                Ok(AcquireReply::Partial(PartialGrant {
                    grant,
                    removed: all_from_pg(removed),
                    patched: Vec::new(),
                }))
            }
            other => Err(unknown(WHAT, other)),
        }
    }

    /// Decodes a commit function's `kind` and `version`.
    fn commit_reply(
        what: &str,
        kind: i16,
        version: Option<i64>,
        delta: Delta,
    ) -> Result<CommitReply, StoreError> {
        let version = || unsigned(what, version.unwrap_or(0));
        match kind {
            0 => Ok(CommitReply::Stale { delta }),
            1 => Ok(CommitReply::Committed {
                version: version()?,
            }),
            2 => Ok(CommitReply::AlreadyApplied {
                version: version()?,
            }),
            other => Err(unknown(what, other)),
        }
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn sessions_of(
        &self,
        principal: &str,
        label: Option<&str>,
    ) -> Result<Vec<PrincipalSession>, StoreError> {
        principals::sessions_of(self, principal, label).await
    }

    async fn events(&self, after: Option<EventId>, max: usize) -> Result<EventBatch, StoreError> {
        events::read(self, after, max).await
    }

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
        const WHAT: &str = "renew";
        let mut out = Vec::with_capacity(items.len());
        for chunk in items.chunks(self.inner.config.renew_batch) {
            let (sids, fences) = sessions_and_fences(chunk.iter().map(|r| (&r.sid, r.fence)));
            let touch: Vec<bool> = chunk.iter().map(|r| r.touch).collect();
            let rows = self
                .rows(
                    WHAT,
                    &self.inner.sql.renew,
                    &[&owner.as_str(), &ms(lease), &sids, &fences, &touch],
                )
                .await?;
            if rows.len() != chunk.len() {
                return Err(crate::error::shape(WHAT, "one row per item expected"));
            }
            for row in &rows {
                let outcome: i16 = col(row, WHAT, "outcome")?;
                out.push(match outcome {
                    0 => RenewOutcome::Lost,
                    1 => RenewOutcome::Renewed { recall: false },
                    2 => RenewOutcome::Renewed { recall: true },
                    other => return Err(unknown(WHAT, other)),
                });
            }
        }
        Ok(out)
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
        const WHAT: &str = "commit";
        let Ok(fence) = i64::try_from(fence.0) else {
            // Never granted: no lock has it.
            return Ok(CommitReply::Stale { delta });
        };
        let id = counter("commit id", id.0)?;
        let (kind, version) = {
            let args = DeltaArgs::of(&delta)?;
            let row = self
                .one(
                    WHAT,
                    &self.inner.sql.commit,
                    &[
                        &sid.as_str(),
                        &owner.as_str(),
                        &fence,
                        &id,
                        &args.names,
                        &args.values,
                        &args.replace_all,
                        &args.set_expiry,
                        &args.idle_ms,
                        &args.absolute_ms,
                        &release,
                        &args.patch,
                    ],
                )
                .await?;
            let kind: i16 = col(&row, WHAT, "kind")?;
            let version: Option<i64> = col(&row, WHAT, "version")?;
            if kind == 3 {
                let attrs: Option<Vec<String>> = col(&row, WHAT, "refused")?;
                return Ok(CommitReply::PatchRefused(PatchRefused {
                    attrs: all_from_pg(attrs),
                }));
            }
            (kind, version)
        };
        Self::commit_reply(WHAT, kind, version, delta)
    }

    async fn release_many(
        &self,
        owner: &OwnerId,
        items: &[Release],
    ) -> Result<Vec<Result<CommitReply, StoreError>>, StoreError> {
        const WHAT: &str = "release_many";
        let mut out = Vec::with_capacity(items.len());
        for chunk in items.chunks(self.inner.config.renew_batch) {
            let (sids, fences) = sessions_and_fences(chunk.iter().map(|r| (&r.sid, r.fence)));
            let ids = chunk
                .iter()
                .map(|r| counter("commit id", r.id.0))
                .collect::<Result<Vec<i64>, _>>()?;
            let rows = self
                .rows(
                    WHAT,
                    &self.inner.sql.release_many,
                    &[&owner.as_str(), &sids, &fences, &ids],
                )
                .await?;
            if rows.len() != chunk.len() {
                return Err(crate::error::shape(WHAT, "one row per item expected"));
            }
            for row in &rows {
                let kind: i16 = col(row, WHAT, "kind")?;
                let version: Option<i64> = col(row, WHAT, "version")?;
                out.push(Self::commit_reply(WHAT, kind, version, Delta::default()));
            }
        }
        Ok(out)
    }

    async fn load(&self, sid: &SessionId) -> Result<Option<Snapshot>, StoreError> {
        const WHAT: &str = "load";
        let row = self
            .one(WHAT, &self.inner.sql.load, &[&sid.as_str()])
            .await?;
        let present: bool = col(&row, WHAT, "present")?;
        if !present {
            return Ok(None);
        }
        let version: i64 = col(&row, WHAT, "version")?;
        snapshot(&row, WHAT, version).map(Some)
    }

    async fn commit_optimistic(
        &self,
        sid: &SessionId,
        delta: Delta,
    ) -> Result<OptimisticReply, StoreError> {
        const WHAT: &str = "commit_optimistic";
        let args = DeltaArgs::of(&delta)?;
        let row = self
            .one(
                WHAT,
                &self.inner.sql.commit_optimistic,
                &[
                    &sid.as_str(),
                    &args.names,
                    &args.values,
                    &args.expect,
                    &args.expect_versions,
                    &args.replace_all,
                    &args.set_expiry,
                    &args.idle_ms,
                    &args.absolute_ms,
                    &args.patch,
                ],
            )
            .await?;
        let kind: i16 = col(&row, WHAT, "kind")?;
        match kind {
            0 => Ok(OptimisticReply::NotFound),
            1 => {
                let version: Option<i64> = col(&row, WHAT, "version")?;
                Ok(OptimisticReply::Committed {
                    version: unsigned(WHAT, version.unwrap_or(0))?,
                })
            }
            2 => {
                let attrs: Option<Vec<String>> = col(&row, WHAT, "conflicts")?;
                Ok(OptimisticReply::Conflict(Conflict {
                    attrs: all_from_pg(attrs),
                }))
            }
            3 => Ok(OptimisticReply::Locked),
            4 => {
                let attrs: Option<Vec<String>> = col(&row, WHAT, "conflicts")?;
                Ok(OptimisticReply::PatchRefused(PatchRefused {
                    attrs: all_from_pg(attrs),
                }))
            }
            other => Err(unknown(WHAT, other)),
        }
    }

    async fn create(
        &self,
        sid: &SessionId,
        attrs: Vec<(String, Bytes)>,
        expiry: Expiry,
        tenure: Option<(&OwnerId, Duration)>,
    ) -> Result<CreateReply, StoreError> {
        const WHAT: &str = "create";
        let names: Vec<_> = attrs.iter().map(|(n, _)| to_pg(n)).collect();
        let values: Vec<&[u8]> = attrs.iter().map(|(_, v)| v.as_ref()).collect();
        let owner = tenure.map(|(o, _)| o.as_str());
        let lease = tenure.map(|(_, l)| ms(l));
        let row = self
            .one(
                WHAT,
                &self.inner.sql.create,
                &[
                    &sid.as_str(),
                    &names,
                    &values,
                    &expiry.idle.map(ms),
                    &expiry.absolute.map(ms),
                    &owner,
                    &lease,
                ],
            )
            .await?;
        let kind: i16 = col(&row, WHAT, "kind")?;
        match kind {
            0 => Ok(CreateReply::Exists),
            1 => {
                let fence: Option<i64> = col(&row, WHAT, "fence")?;
                let fence = fence.map(|f| unsigned(WHAT, f).map(Fence)).transpose()?;
                Ok(CreateReply::Created { fence })
            }
            other => Err(unknown(WHAT, other)),
        }
    }

    async fn delete(&self, sid: &SessionId) -> Result<bool, StoreError> {
        let row = self
            .one("delete", &self.inner.sql.delete, &[&sid.as_str()])
            .await?;
        row.try_get(0).map_err(|e| crate::error::shape("delete", e))
    }

    async fn rotate_id(
        &self,
        old: &SessionId,
        new: &SessionId,
        holder: Option<(&OwnerId, Fence)>,
    ) -> Result<RotateReply, StoreError> {
        const WHAT: &str = "rotate_id";
        let owner = holder.map(|(o, _)| o.as_str());
        let fence = match holder {
            Some((_, f)) => match i64::try_from(f.0) {
                Ok(f) => Some(f),
                Err(_) => return Ok(RotateReply::Stale),
            },
            None => None,
        };
        let row = self
            .one(
                WHAT,
                &self.inner.sql.rotate,
                &[&old.as_str(), &new.as_str(), &owner, &fence],
            )
            .await?;
        let kind: i16 = col(&row, WHAT, "kind")?;
        match kind {
            0 => Ok(RotateReply::NotFound),
            1 => {
                let fence: Option<i64> = col(&row, WHAT, "fence")?;
                let fence = fence.map(|f| unsigned(WHAT, f).map(Fence)).transpose()?;
                Ok(RotateReply::Rotated { fence })
            }
            2 => Ok(RotateReply::Exists),
            3 => Ok(RotateReply::Stale),
            other => Err(unknown(WHAT, other)),
        }
    }

    async fn locate(&self, sid: &SessionId) -> Result<Location, StoreError> {
        const WHAT: &str = "locate";
        let row = self
            .one(WHAT, &self.inner.sql.locate, &[&sid.as_str()])
            .await?;
        let kind: i16 = col(&row, WHAT, "kind")?;
        match kind {
            0 => Ok(Location::NotFound),
            1 => Ok(Location::Free),
            2 => {
                let holder: String = col(&row, WHAT, "holder")?;
                let holder = OwnerId::new(&holder)
                    .map_err(|e| crate::error::shape(WHAT, format!("holder id: {e}")))?;
                Ok(Location::Held {
                    holder,
                    address: col(&row, WHAT, "address")?,
                })
            }
            other => Err(unknown(WHAT, other)),
        }
    }

    async fn advertise(&self, owner: &OwnerId, address: &str) -> Result<Liveness, StoreError> {
        if address.len() > MAX_ADDRESS {
            return Err(StoreError::Protocol(format!(
                "advertised address of {} bytes, more than {MAX_ADDRESS}",
                address.len()
            )));
        }
        if address.contains('\0') {
            return Err(StoreError::Protocol(
                "an advertised address holds a NUL byte".into(),
            ));
        }
        let row = self
            .one(
                "advertise",
                &self.inner.sql.advertise,
                &[&owner.as_str(), &address],
            )
            .await?;
        let alive: bool = row
            .try_get(0)
            .map_err(|e| crate::error::shape("advertise", e))?;
        Ok(if alive {
            Liveness::Alive
        } else {
            Liveness::Lapsed
        })
    }

    async fn hints(&self, owner: &OwnerId) -> Result<HintReceiver, StoreError> {
        let row = self
            .one("hints", &self.inner.sql.channel, &[&owner.as_str()])
            .await?;
        let channel: String = row
            .try_get(0)
            .map_err(|e| crate::error::shape("hints", e))?;
        Ok(self.inner.listener.subscribe(channel).await)
    }

    async fn keep_alive(
        &self,
        owner: &OwnerId,
        ttl: Duration,
        register: bool,
    ) -> Result<Liveness, StoreError> {
        let row = self
            .one(
                "keep_alive",
                &self.inner.sql.keep_alive,
                &[&owner.as_str(), &ms(ttl), &register],
            )
            .await?;
        let alive: bool = row
            .try_get(0)
            .map_err(|e| crate::error::shape("keep_alive", e))?;
        Ok(if alive {
            Liveness::Alive
        } else {
            Liveness::Lapsed
        })
    }
}
