//! The node: one per app-server process, and its public handle.
//!
//! What the node does lives with the concern it belongs to: exclusive-mode tenure in
//! [`crate::tenure`], one request in [`crate::session`]. This file is the front door.

use std::sync::Arc;

use tenure_core::{Codec, MessagePack, OwnerId, SessionId};
use tenure_store::{Store, StoreError};

use crate::inner::NodeInner;
use crate::route::{Forward, Route};
use crate::stats::NodeStats;
use crate::{ConfigError, NodeConfig, Session, SessionError};

/// One app-server process's view of the sessions: the tenure table, the near cache
/// and the background work that keeps them. Cheap to clone (a handle).
///
/// ```
/// use std::sync::Arc;
/// use tenure_node::{Node, NodeConfig};
/// use tenure_store::MemoryStore;
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let node = Node::start(Arc::new(MemoryStore::new()), NodeConfig::default()).await?;
/// let mut session = node.session(None);
/// session.insert("user", "ada".to_string()).await?;
/// let id = session.end().await?.id.expect("a new session was created");
///
/// let mut again = node.session(Some(id));
/// assert_eq!(again.get::<String>("user").await?.as_deref(), Some("ada"));
/// again.end().await?;
/// node.shutdown().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Node<C: Codec = MessagePack> {
    pub(crate) inner: Arc<NodeInner<C>>,
}

impl<C: Codec> Clone for Node<C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl Node<MessagePack> {
    /// Starts a node on `store` with the default codec, and its background tasks
    /// (hint listener, lease renewal, idle release). Must run inside a tokio runtime.
    pub async fn start(store: Arc<dyn Store>, config: NodeConfig) -> Result<Self, StartError> {
        Self::start_with_codec(store, config, MessagePack).await
    }

    /// Starts a node with `config`'s store ([`NodeConfig::with_store`]).
    pub async fn from_config(config: NodeConfig) -> Result<Self, StartError> {
        let store = config.store.clone().ok_or(StartError::NoStore)?;
        Self::start(store, config).await
    }
}

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration is inconsistent.
    #[error("invalid node configuration: {0}")]
    Config(#[from] ConfigError),
    /// The hint stream could not be opened.
    #[error("could not subscribe to the store's hints: {0}")]
    Store(#[from] StoreError),
    /// [`Node::from_config`] needs a store in the configuration.
    #[error("no store configured: call NodeConfig::with_store, or use Node::start")]
    NoStore,
}

impl<C: Codec> Node<C> {
    /// Starts a node with a codec of your choice.
    pub async fn start_with_codec(
        store: Arc<dyn Store>,
        config: NodeConfig,
        codec: C,
    ) -> Result<Self, StartError> {
        config.validate()?;
        let owner =
            OwnerId::generate(&config.label).map_err(|e| ConfigError::Label(e.to_string()))?;
        let hints = store.hints(&owner).await?;
        // 192 random bits, as unguessable as a session id.
        let token = SessionId::generate().map_err(|e| {
            ConfigError::Label(format!("no randomness for the forwarding token: {e}"))
        })?;
        let inner = Arc::new(NodeInner::new(
            store,
            owner.clone(),
            config,
            codec,
            token.as_str().to_string(),
        ));
        inner.register(&owner).await?;
        inner.spawn_background(hints);
        Ok(Self { inner })
    }

    /// A request-scoped handle on the session `id` (or a new session if `None`).
    /// Nothing happens at the store until the handle is first used.
    pub fn session(&self, id: Option<SessionId>) -> Session<C> {
        Session::new(self.inner.clone(), id)
    }

    /// This node's owner id at the store. It changes if the node's liveness lapses
    /// (the node was paused or cut off from the store for longer than
    /// `liveness_ttl`): the old id is dead at the store for good.
    pub fn owner(&self) -> OwnerId {
        self.inner.owner()
    }

    /// Where a request for `sid` that came from a client should be served: here, or
    /// forwarded to the live node that holds the session. Answers [`Route::Local`]
    /// unless forwarding is on ([`NodeConfig::advertise`] set, exclusive mode), this
    /// node does not hold the session and another live node does. Costs a store call
    /// (`locate`) only the first time, or after a forward failed. Never call it for a
    /// request that was itself forwarded: the receiver of a forward serves it.
    pub async fn route(&self, sid: &SessionId) -> Route {
        self.inner.route(sid).await
    }

    /// The forward to `forward.address` failed before the holder got the request (it
    /// could not be reached): the node forgets the location and counts it; serve the
    /// request here.
    pub fn forward_failed(&self, forward: &Forward) {
        self.inner.forward_failed(forward)
    }

    /// The holder answered a forwarded request. `take`: it gave the session up for
    /// this node (the move rule), so the next request acquires it here. `failed`: the
    /// answer was a session failure (the holder could not serve the session), so the
    /// next request asks the store where the session is.
    pub fn forward_answered(&self, forward: &Forward, take: bool, failed: bool) {
        self.inner.forward_answered(forward, take, failed)
    }

    /// Whether the store still names `forward.holder` the holder of the session (a
    /// store error counts as yes: nothing is learned). For a sender waiting on a
    /// holder that does not answer.
    pub async fn still_held_by(&self, forward: &Forward) -> bool {
        self.inner.still_held_by(forward).await
    }

    /// Whether `token` is this node's forwarding token, so the request carrying it
    /// comes from a node that read this node's advertisement at the store. Constant
    /// time in the token's content.
    pub fn is_forward_token(&self, token: &str) -> bool {
        use subtle::ConstantTimeEq;
        bool::from(self.inner.forward_token.as_bytes().ct_eq(token.as_bytes()))
    }

    /// The node a request was forwarded to does not hold the session (the location
    /// was stale): forget it; the next route asks the store.
    pub fn forward_refused(&self, forward: &Forward) {
        self.inner.forward_refused(forward)
    }

    /// A request for `sid` reached this node from a client (not forwarded).
    pub fn note_direct(&self, sid: &SessionId) {
        self.inner.streaks.direct(sid);
    }

    /// A request for `sid` was forwarded here by `origin` (any stable name of the
    /// forwarding node). True if, under the move rule, this node should give the
    /// session up once the request is answered ([`give_up`](Self::give_up)) and tell
    /// `origin` to take it.
    pub fn note_forwarded(&self, sid: &SessionId, origin: &str) -> bool {
        self.inner.note_forwarded(sid, origin)
    }

    /// Gives `sid` up (writes and releases it) if this node holds it, for the node
    /// that keeps forwarding its requests. Does not wait for the release.
    pub fn give_up(&self, sid: &SessionId) {
        self.inner.give_up(sid);
    }

    /// Whether this node forwards requests (an address is advertised, exclusive mode).
    pub fn forwarding_on(&self) -> bool {
        self.inner.forwarding()
    }

    /// The node's configuration.
    pub fn config(&self) -> &NodeConfig {
        &self.inner.config
    }

    /// A snapshot of the node's counters.
    pub fn stats(&self) -> NodeStats {
        self.inner.stats.snapshot()
    }

    /// How many sessions the node holds.
    pub fn held_count(&self) -> usize {
        tenure_core::sync::lock(&self.inner.table).len()
    }

    /// Whether the node holds `id` now.
    pub fn holds(&self, id: &SessionId) -> bool {
        self.inner.holds(id)
    }

    /// Writes the unwritten changes of a held session now (the manual write policy).
    /// Does nothing if the node does not hold it.
    pub async fn flush(&self, id: &SessionId) -> Result<(), SessionError> {
        match self.inner.held(id) {
            Some(held) => self.inner.flush(&held, false).await,
            None => Ok(()),
        }
    }

    /// Writes the unwritten changes of every held session now.
    pub async fn flush_all(&self) -> Result<(), SessionError> {
        let mut first_err = None;
        for held in self.inner.all_held() {
            if let Err(e) = self.inner.flush(&held, false).await {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Gives `id` back to the store now (after writing it), as an idle release would.
    /// The release runs to the end even if the caller stops waiting.
    pub async fn release(&self, id: &SessionId) -> Result<(), SessionError> {
        match self.inner.held(id) {
            Some(held) => self.inner.release_now(held).await,
            None => Ok(()),
        }
    }

    /// Graceful shutdown: takes no new requests, lets in-flight ones finish, writes
    /// and releases every held session (also those whose grant was under way), and
    /// stops the background tasks. Answers the first error met; every session is
    /// attempted.
    pub async fn shutdown(&self) -> Result<(), SessionError> {
        self.inner.shutdown().await
    }
}
