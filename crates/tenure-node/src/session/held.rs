//! The exclusive mode's side of a request: admitted to a session this node holds,
//! reading from the near cache and locking the attributes it writes.

use std::collections::BTreeSet;
use std::sync::Arc;

use tenure_core::{Bytes, Codec, Expiry, SessionId};
use tokio::time::Instant;

use crate::inner::NodeInner;
use crate::locks::LockError;
use crate::stats::count;
use crate::tenure::held::{GoneReason, Phase, Rewrite};
use crate::tenure::request::HeldRequest;
use crate::SessionError;

/// A request admitted to a held session.
#[derive(Debug)]
pub(crate) struct HeldBacking {
    request: HeldRequest,
}

impl HeldBacking {
    pub(crate) fn new(request: HeldRequest) -> Self {
        Self { request }
    }

    /// Reads go through the request, which notes what it saw: the response waits
    /// until the store has it (I18).
    pub(crate) fn value(&self, name: &str) -> Option<Bytes> {
        self.request.read(name)
    }

    pub(crate) fn names(&self) -> Vec<String> {
        self.request.read_names()
    }

    /// Before each read from the cache (and again once a written attribute is
    /// locked): a commit of another request that went into doubt meanwhile is resolved
    /// first, since the store may hold changes the copy lacks (I16); the node's own
    /// liveness must be confirmed (I17); and a request that outlived the local lease
    /// confirms it (I9). A copy that is no longer this node's fails the request, which
    /// has stored nothing.
    pub(crate) async fn ready<C: Codec>(
        &mut self,
        node: &Arc<NodeInner<C>>,
    ) -> Result<(), SessionError> {
        let held = self.request.held().clone();
        if held.in_doubt() {
            node.resolve_doubt_now(&held).await?;
        }
        if matches!(held.phase(), Phase::Gone(_)) {
            return Err(SessionError::TenureLost);
        }
        if !node.alive(Instant::now()) {
            node.confirm_alive().await?;
        }
        if held.owner() != node.owner() {
            // The node's liveness lapsed: this copy is being given back.
            return Err(SessionError::TenureLost);
        }
        if !held.lease_valid(Instant::now()) && !node.confirm_lease(&held).await? {
            return Err(SessionError::TenureLost);
        }
        Ok(())
    }

    /// Takes `name` exclusively until the request ends (I11).
    pub(crate) async fn lock<C: Codec>(
        &mut self,
        node: &Arc<NodeInner<C>>,
        name: &str,
    ) -> Result<(), SessionError> {
        match self.request.locks().lock(name).await {
            Ok(()) => Ok(()),
            Err(LockError::Closed) => Err(SessionError::TenureLost),
            Err(LockError::Deadlock(attrs)) => {
                count!(node.stats, deadlocks);
                tracing::warn!(
                    session = self.request.held().sid().prefix(),
                    attrs = ?attrs,
                    "request refused: taking these attributes would deadlock with another \
                     request that takes them in the opposite order"
                );
                Err(SessionError::Deadlock { attrs })
            }
        }
    }

    pub(crate) async fn delete<C: Codec>(self, node: &NodeInner<C>) -> Result<(), SessionError> {
        node.delete_held(self.request.held()).await
    }

    pub(crate) async fn rotate<C: Codec>(
        &mut self,
        node: &Arc<NodeInner<C>>,
    ) -> Result<SessionId, SessionError> {
        node.rotate_held(self.request.held()).await
    }

    /// Ends the request; answers the session's id afterwards (`None` if it was
    /// deleted meanwhile) and whether the changes reached the store.
    pub(crate) async fn end<C: Codec>(
        self,
        node: &Arc<NodeInner<C>>,
        changes: Vec<(String, Option<Bytes>)>,
        rewrite: Rewrite,
        timeouts: Option<Expiry>,
        structural: &BTreeSet<String>,
    ) -> Result<(Option<SessionId>, bool), SessionError> {
        let held = self.request.held().clone();
        let written = node
            .end_held(self.request, changes, rewrite, timeouts, structural)
            .await?;
        let deleted = matches!(held.phase(), Phase::Gone(GoneReason::Deleted));
        Ok((Some(held.sid()).filter(|_| !deleted), written))
    }
}
