//! [`RedisStore`], the handle: its connections, how they are set up, and what the
//! protocol steps share through it (scripts, keys, hint publishing and the lazily
//! started hint subscriber). The protocol itself is in `store.rs`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use fred::clients::Client;
use fred::interfaces::ClientLike;
use fred::types::config::{Config, ReconnectPolicy};
use fred::types::{Builder, Value};
use tenure_core::{OwnerId, SessionId};
use tenure_store::{Hint, HintReceiver, StoreError};

use crate::config::RedisConfig;
use crate::hints::{publish, HintHub};
use crate::keys::{valid_prefix, SessionKeys};
use crate::scripts::Scripts;

/// Why [`RedisStore::connect`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL could not be parsed.
    #[error("invalid Redis URL: {0}")]
    InvalidUrl(String),
    /// The key prefix is empty, too long, or holds braces or whitespace.
    #[error("invalid key prefix {0:?}: use 1 to 64 printable ASCII characters without braces")]
    InvalidPrefix(String),
    /// No server answered.
    #[error("Redis unreachable: {0}")]
    Unreachable(String),
}

/// The store protocol on Redis (one server) or Redis Cluster.
///
/// Every protocol call is one Lua script run with `EVALSHA`, atomic at the server;
/// every key of one session carries the session id as hash tag, so each script touches
/// one cluster slot. Leases, waiter deadlines and expiry use the server's clock. Hints
/// travel over sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`), one channel per node.
///
/// Cloning gives another handle to the same connections.
///
/// ```no_run
/// use tenure_redis::{RedisConfig, RedisStore};
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = RedisStore::connect(RedisConfig::new("redis://127.0.0.1:6379").prefix("shop")).await?;
/// # drop(store); Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: Client,
    config: RedisConfig,
    /// Kept to build the subscriber connection with the same settings.
    fred_config: Config,
    scripts: Scripts,
    clustered: bool,
    /// Started on the first `hints` call: a node that never asks for hints costs no
    /// subscriber connection.
    hints: tokio::sync::Mutex<Option<HintHub>>,
    drop_hints: Arc<AtomicBool>,
    /// Owners that registered a liveness key through this handle: their grants are
    /// marked so that waiters may check the key (I15).
    registered: std::sync::Mutex<std::collections::HashSet<OwnerId>>,
    /// Where this handle's next slot pass starts (`directory::slot_pass`).
    slot_cursor: AtomicUsize,
}

impl RedisStore {
    /// Connects to the server or cluster the config names and checks it answers.
    pub async fn connect(config: RedisConfig) -> Result<Self, ConnectError> {
        if !valid_prefix(&config.prefix) {
            return Err(ConnectError::InvalidPrefix(config.prefix.clone()));
        }
        let fred_config =
            Config::from_url(&config.url).map_err(|e| ConnectError::InvalidUrl(e.to_string()))?;
        let client = builder(&fred_config, &config)
            .build()
            .map_err(|e| ConnectError::InvalidUrl(e.to_string()))?;
        let connecting = async {
            client.init().await?;
            client.ping::<Value>(None).await
        };
        match tokio::time::timeout(config.connect_timeout, connecting).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                let _ = client.quit().await;
                return Err(ConnectError::Unreachable(e.to_string()));
            }
            Err(_) => {
                let _ = client.quit().await;
                return Err(ConnectError::Unreachable(format!(
                    "no answer within {:?}",
                    config.connect_timeout
                )));
            }
        }
        let clustered = client.is_clustered();
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                fred_config,
                config,
                scripts: Scripts::new(),
                clustered,
                hints: tokio::sync::Mutex::new(None),
                drop_hints: Arc::new(AtomicBool::new(false)),
                registered: std::sync::Mutex::default(),
                slot_cursor: AtomicUsize::new(random_slot()),
            }),
        })
    }

    /// Where this handle's slot passes go on from.
    pub(crate) fn slot_cursor(&self) -> &AtomicUsize {
        &self.inner.slot_cursor
    }

    /// The settings in use.
    pub fn config(&self) -> &RedisConfig {
        &self.inner.config
    }

    /// True if connected to a Redis Cluster.
    pub fn is_clustered(&self) -> bool {
        self.inner.clustered
    }

    /// The underlying client, for inspection and tests (`INFO`, `CLIENT KILL`, ...).
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// A test switch: while on, every hint that arrives over pub/sub is discarded, as
    /// if the network had lost it. The protocol must still make progress (renewals
    /// carry recalls; waiters poll).
    pub fn set_drop_hints(&self, drop: bool) {
        self.inner.drop_hints.store(drop, Ordering::Relaxed);
    }

    /// Closes the connections. Hint streams end.
    pub async fn quit(&self) {
        if let Some(hub) = self.inner.hints.lock().await.take() {
            hub.quit().await;
        }
        let _ = self.inner.client.quit().await;
    }

    /// Whether `owner` registered a liveness key through this handle.
    pub(crate) fn is_registered(&self, owner: &OwnerId) -> bool {
        tenure_core::sync::lock(&self.inner.registered).contains(owner)
    }

    pub(crate) fn mark_registered(&self, owner: &OwnerId) {
        tenure_core::sync::lock(&self.inner.registered).insert(owner.clone());
    }

    pub(crate) fn scripts(&self) -> &Scripts {
        &self.inner.scripts
    }

    /// The configured key prefix.
    pub(crate) fn prefix(&self) -> &str {
        &self.inner.config.prefix
    }

    pub(crate) fn keys(&self, sid: &SessionId) -> SessionKeys {
        SessionKeys::new(&self.inner.config.prefix, sid, self.inner.clustered)
    }

    /// Sends a hint a script asked for, without waiting: hints are best effort.
    pub(crate) fn send_hint(&self, to: &OwnerId, hint: &Hint) {
        publish(&self.inner.client, &self.inner.config.prefix, to, hint);
    }

    /// `owner`'s hint stream, starting the subscriber on first use.
    pub(crate) async fn hint_stream(&self, owner: &OwnerId) -> Result<HintReceiver, StoreError> {
        let mut hub = self.inner.hints.lock().await;
        if hub.is_none() {
            let subscriber = builder(&self.inner.fred_config, &self.inner.config);
            let prefix = self.inner.config.prefix.clone();
            let drop_hints = self.inner.drop_hints.clone();
            *hub = Some(HintHub::start(subscriber, prefix, drop_hints).await?);
        }
        let Some(hub) = hub.as_ref() else {
            return Err(StoreError::Unavailable(
                "hint subscriber not started".into(),
            ));
        };
        hub.subscribe(owner).await
    }
}

fn builder(fred_config: &Config, config: &RedisConfig) -> Builder {
    let mut builder = Builder::from_config(fred_config.clone());
    builder
        .with_performance_config(|p| {
            p.default_command_timeout = config.command_timeout;
        })
        .with_connection_config(|c| {
            c.connection_timeout = config.connect_timeout;
            c.internal_command_timeout = config.command_timeout;
            // Protocol calls are not blindly retried: the caller sees the failure and
            // re-reads the lock state, which is always safe.
            c.max_command_attempts = 1;
        })
        .set_policy(ReconnectPolicy::new_exponential(0, 50, 2_000, 2));
    builder
}

/// A random slot to start the slot passes from, so that nodes started together do not
/// pass the same slots.
fn random_slot() -> usize {
    use std::hash::{BuildHasher, Hasher};
    let hash = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    (hash % crate::slot_tags::SLOTS as u64) as usize
}
