//! `acquire` (and `acquire_since`) on Redis: one script call, and a second one naming
//! the holder when the caller has waited a while and the holder's liveness key is
//! gone (I15). With what the caller knows, the script sends only the attributes its
//! copy lacks (a partial grant).

use std::time::Duration;

use tenure_core::{OwnerId, SessionId};
use tenure_store::{
    AcquireReply, Expiry, Fence, Grant, Hint, Known, PartialGrant, StoreError, LIVENESS_CHECK_AFTER,
};

use crate::args;
use crate::connection::RedisStore;
use crate::liveness;
use crate::reply::bad;
use crate::scripts::DataKeys;

/// One `acquire` script call's answer.
pub(crate) enum Attempt {
    Done(AcquireReply),
    Queued {
        reply: AcquireReply,
        /// The holder, if the caller has waited long enough to look at its liveness
        /// and the holder keeps a liveness key.
        holder: Option<OwnerId>,
    },
}

impl Attempt {
    pub(crate) fn into_reply(self) -> AcquireReply {
        match self {
            Attempt::Done(reply) | Attempt::Queued { reply, .. } => reply,
        }
    }
}

impl RedisStore {
    /// `acquire`, and with `known` `acquire_since`.
    pub(crate) async fn acquire_with(
        &self,
        sid: &SessionId,
        owner: &OwnerId,
        lease: Duration,
        wait: Duration,
        known: Option<&Known>,
    ) -> Result<AcquireReply, StoreError> {
        let live = self.is_registered(owner);
        let first = self
            .acquire_once(sid, owner, lease, wait, live, None, known)
            .await?;
        // I15: queued behind a holder for a while; if its liveness key is gone, it is
        // dead for good, and its lock void: ask again, naming it.
        if let Attempt::Queued {
            holder: Some(holder),
            ..
        } = &first
        {
            if liveness::is_dead(self, holder).await? {
                let holder = holder.clone();
                return self
                    .acquire_once(sid, owner, lease, wait, live, Some(&holder), known)
                    .await
                    .map(Attempt::into_reply);
            }
        }
        Ok(first.into_reply())
    }

    /// One call of the `acquire` script; `dead` names a holder whose liveness key the
    /// caller found gone.
    #[allow(clippy::too_many_arguments)] // the script's arguments, built in one place
    async fn acquire_once(
        &self,
        sid: &SessionId,
        owner: &OwnerId,
        lease: Duration,
        wait: Duration,
        live: bool,
        dead: Option<&OwnerId>,
        known: Option<&Known>,
    ) -> Result<Attempt, StoreError> {
        let keys = DataKeys::of(&self.keys(sid));
        let argv = args::acquire(owner, lease, wait, live, dead, known);
        let mut reply = self
            .scripts()
            .acquire
            .run(self.client(), keys, argv)
            .await?;
        let status = reply.text("status")?;
        if status == "N" {
            return Ok(Attempt::Done(AcquireReply::NotFound));
        }
        let mut recalled = None;
        if let Some((to, hint)) = reply.hint(sid)? {
            if matches!(hint, Hint::Recall(_)) {
                recalled = Some(to.clone());
            }
            self.send_hint(&to, &hint);
        }
        match status.as_str() {
            "G" | "P" => {
                let fence = Fence(reply.int("fence")?);
                let version = reply.int("version")?;
                let idle = reply.optional_millis("idle")?;
                let absolute = reply.optional_millis("absolute")?;
                let age = reply.millis("age")?;
                let removed = match status.as_str() {
                    "P" if known.is_some() => Some(reply.names("removed")?),
                    "P" => return Err(bad("acquire", "a partial grant nobody asked for")),
                    _ => None,
                };
                let (snapshot, patched) = match removed {
                    None => (reply.snapshot(version)?, Vec::new()),
                    Some(_) => reply.partial(version)?,
                };
                let grant = Grant {
                    fence,
                    lease: Duration::from_millis(args::millis(lease)),
                    snapshot,
                    expiry: Expiry { idle, absolute },
                    age,
                };
                Ok(Attempt::Done(match removed {
                    None => AcquireReply::Granted(grant),
                    Some(removed) => AcquireReply::Partial(PartialGrant {
                        grant,
                        removed,
                        patched,
                    }),
                }))
            }
            "Q" => {
                let position = usize::try_from(reply.int("position")?)
                    .map_err(|_| bad("acquire", "position out of range"))?;
                let retry_after = reply.millis("retry after")?;
                let waited = reply.millis("queued for")?;
                let holder_live = reply.int("holder liveness")? == 1;
                let holder = recalled.filter(|_| holder_live && waited >= LIVENESS_CHECK_AFTER);
                Ok(Attempt::Queued {
                    reply: AcquireReply::Queued {
                        position,
                        retry_after,
                    },
                    holder,
                })
            }
            other => Err(bad("acquire", &format!("unknown status {other:?}"))),
        }
    }
}
