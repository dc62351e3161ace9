//! What backs a request's session, by consistency mode: the one interface
//! [`Session`](crate::Session) works through, so the request logic never asks which
//! mode it is in. Each mode's behaviour is in its own file; this only dispatches.

use std::collections::BTreeSet;
use std::sync::Arc;

use tenure_core::{Bytes, Codec, Consistency, Expiry, SessionId};

use crate::inner::NodeInner;
use crate::locks::ReqId;
use crate::session::held::HeldBacking;
use crate::session::loaded::LoadedBacking;
use crate::tenure::held::Rewrite;
use crate::tenure::request::HeldRequest;
use crate::SessionError;

/// A request's attached session.
#[derive(Debug)]
pub(crate) enum Backing {
    /// Exclusive mode: admitted to a held session ([`HeldBacking`]).
    Held(HeldBacking),
    /// Optimistic and last-writer-wins modes: loaded for this request only.
    Loaded(LoadedBacking),
    /// No stored session (none presented, the presented one does not exist, or the
    /// request deleted it): anything stored creates a new one at the end.
    New,
}

/// What ending a request did at the store.
#[derive(Debug, Default)]
pub(crate) struct Ended {
    /// The session's id afterwards, `None` if none exists.
    pub(crate) id: Option<SessionId>,
    pub(crate) created: bool,
    pub(crate) written: bool,
}

impl Backing {
    /// Finds the session `sid` (or none) the way the node's mode does.
    pub(crate) async fn attach<C: Codec>(
        node: &Arc<NodeInner<C>>,
        sid: Option<&SessionId>,
        req: ReqId,
        forwarded: bool,
    ) -> Result<Self, SessionError> {
        let Some(sid) = sid else {
            return Ok(Self::New);
        };
        Ok(match node.config.consistency {
            Consistency::Exclusive if forwarded => match node.admit_held(sid).await? {
                Some(admission) => Self::Held(HeldBacking::new(HeldRequest::new(admission, req))),
                None => return Err(SessionError::NotHere),
            },
            Consistency::Exclusive => match node.admit(sid).await? {
                Some(admission) => Self::Held(HeldBacking::new(HeldRequest::new(admission, req))),
                None => Self::New,
            },
            _ => match node.store.load(sid).await? {
                Some(snapshot) => Self::Loaded(LoadedBacking::new(snapshot)),
                None => Self::New,
            },
        })
    }

    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Held(_) => "held",
            Self::Loaded(_) => "loaded",
            Self::New => "new",
        }
    }

    /// The attribute's current bytes at the session (not this request's changes).
    pub(crate) fn value(&self, name: &str) -> Option<Bytes> {
        match self {
            Self::Held(h) => h.value(name),
            Self::Loaded(l) => l.value(name),
            Self::New => None,
        }
    }

    /// The attributes present at the session.
    pub(crate) fn names(&self) -> Vec<String> {
        match self {
            Self::Held(h) => h.names(),
            Self::Loaded(l) => l.names(),
            Self::New => Vec::new(),
        }
    }

    /// Before each access.
    pub(crate) async fn ready<C: Codec>(
        &mut self,
        node: &Arc<NodeInner<C>>,
    ) -> Result<(), SessionError> {
        match self {
            Self::Held(h) => h.ready(node).await,
            Self::Loaded(_) | Self::New => Ok(()),
        }
    }

    /// Before a write of `name`: only a held session has other local requests to
    /// keep out.
    pub(crate) async fn lock<C: Codec>(
        &mut self,
        node: &Arc<NodeInner<C>>,
        name: &str,
    ) -> Result<(), SessionError> {
        match self {
            Self::Held(h) => h.lock(node, name).await,
            Self::Loaded(_) | Self::New => Ok(()),
        }
    }

    /// Deletes the session at the store; the backing is then [`Backing::New`].
    pub(crate) async fn delete<C: Codec>(
        &mut self,
        node: &NodeInner<C>,
        id: Option<&SessionId>,
    ) -> Result<(), SessionError> {
        let result = match (std::mem::replace(self, Self::New), id) {
            (Self::Held(h), _) => h.delete(node).await,
            (Self::Loaded(l), Some(id)) => l.delete(node, id).await,
            (Self::Loaded(_) | Self::New, _) => Ok(()),
        };
        result
    }

    /// Gives the session a new id; `None` if it is not stored yet.
    pub(crate) async fn rotate<C: Codec>(
        &mut self,
        node: &Arc<NodeInner<C>>,
        id: Option<&SessionId>,
    ) -> Result<Option<SessionId>, SessionError> {
        match (self, id) {
            (Self::Held(h), _) => h.rotate(node).await.map(Some),
            (Self::Loaded(l), Some(id)) => l.rotate(node, id).await.map(Some),
            (Self::Loaded(_) | Self::New, _) => Ok(None),
        }
    }

    /// Ends the request at the store under the node's mode and write policy;
    /// `structural` names the changed attributes to send as patches where smaller.
    pub(crate) async fn end<C: Codec>(
        self,
        node: &Arc<NodeInner<C>>,
        id: Option<SessionId>,
        changes: Vec<(String, Option<Bytes>)>,
        rewrite: Rewrite,
        timeouts: Option<Expiry>,
        structural: BTreeSet<String>,
    ) -> Result<Ended, SessionError> {
        match self {
            Self::Held(h) => {
                let (id, written) = h.end(node, changes, rewrite, timeouts, &structural).await?;
                Ok(Ended {
                    id,
                    created: false,
                    written,
                })
            }
            Self::Loaded(l) => {
                let Some(sid) = id else {
                    return Err(SessionError::Gone);
                };
                let written = !changes.is_empty() || timeouts.is_some();
                if written {
                    l.commit(node, &sid, changes, timeouts, &structural).await?;
                }
                Ok(Ended {
                    id: Some(sid),
                    created: false,
                    written,
                })
            }
            Self::New => {
                let attrs: Vec<(String, Bytes)> = changes
                    .into_iter()
                    .filter_map(|(k, v)| v.map(|v| (k, v)))
                    .collect();
                if attrs.is_empty() {
                    return Ok(Ended::default());
                }
                let exclusive = node.config.consistency == Consistency::Exclusive;
                let expiry = timeouts.unwrap_or(node.config.expiry);
                let id = node.create(attrs, exclusive, expiry).await?;
                Ok(Ended {
                    id: Some(id),
                    created: true,
                    written: true,
                })
            }
        }
    }
}
