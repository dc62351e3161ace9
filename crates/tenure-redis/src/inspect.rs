//! Read-only views of the store for operators, and deletion: what `tenure inspect`
//! shows. Inspection never counts as an access, so it does not keep sessions alive.

use std::time::Duration;

use fred::interfaces::ClientLike;
use futures::StreamExt;
use tenure_core::{Bytes, OwnerId, SessionId};
use tenure_store::{Fence, Store, StoreError};

use crate::connection::RedisStore;
use crate::keys::{meta_key_session, meta_pattern};
use crate::reply::{bad, client_error};
use crate::scripts::DataKeys;

/// One session as an operator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The session.
    pub id: SessionId,
    /// Its version (one per applied commit).
    pub version: u64,
    /// How long ago it was created.
    pub age: Duration,
    /// How long since its last access.
    pub idle_for: Duration,
    /// Idle timeout, if any.
    pub idle_timeout: Option<Duration>,
    /// Absolute timeout, if any.
    pub absolute_timeout: Option<Duration>,
    /// The last fence granted for it.
    pub last_fence: Fence,
    /// Its lock, if held and unexpired.
    pub lock: Option<LockInfo>,
    /// Owners waiting for the lock, head first, with the time each has left to ask
    /// again before it counts as dead (dead ones are not listed).
    pub queue: Vec<(OwnerId, Duration)>,
    /// Its attributes, by name.
    pub attrs: Vec<AttrInfo>,
}

/// A held lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockInfo {
    /// The node holding it.
    pub holder: OwnerId,
    /// The fence of this tenure.
    pub fence: Fence,
    /// Lease left.
    pub lease_left: Duration,
}

/// One attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrInfo {
    /// Its name.
    pub name: String,
    /// The session version that last set it.
    pub version: u64,
    /// Its encoded value (decode it with the application's codec).
    pub value: Bytes,
}

/// Lists, shows and deletes sessions of one [`RedisStore`] (its key prefix).
#[derive(Debug, Clone)]
pub struct Inspector {
    store: RedisStore,
}

impl Inspector {
    /// An inspector over `store`'s sessions.
    pub fn new(store: RedisStore) -> Self {
        Self { store }
    }

    /// Up to `limit` session ids, in no particular order (`SCAN` over every primary).
    pub async fn list(&self, limit: usize) -> Result<Vec<SessionId>, StoreError> {
        let client = self.store.client();
        let prefix = &self.store.config().prefix;
        let pattern = meta_pattern(prefix);
        let mut out = Vec::new();
        let mut keys = if client.is_clustered() {
            client
                .scan_cluster_buffered(pattern, Some(500), None)
                .boxed()
        } else {
            client.scan_buffered(pattern, Some(500), None).boxed()
        };
        while let Some(key) = keys.next().await {
            let key = key.map_err(client_error)?;
            if let Some(sid) = key.as_str().and_then(|k| meta_key_session(prefix, k)) {
                out.push(sid);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// One session, or `None` if it does not exist (or has expired).
    pub async fn show(&self, sid: &SessionId) -> Result<Option<SessionInfo>, StoreError> {
        let keys = DataKeys::of(&self.store.keys(sid));
        let mut r = self
            .store
            .scripts()
            .inspect
            .run(self.store.client(), keys, Vec::new())
            .await?;
        match r.text("status")?.as_str() {
            "N" => return Ok(None),
            "I" => {}
            other => return Err(bad("inspect", &format!("unknown status {other:?}"))),
        }
        let now = r.int("now")?;
        let version = r.int("version")?;
        let created = r.int("created")?;
        let idle = r.int("idle")?;
        let absolute = r.int("absolute")?;
        let last_access = r.int("last access")?;
        let last_fence = r.int("last fence")?;
        let holder = r.text("lock owner")?;
        let fence = r.int("lock fence")?;
        let until = r.int("lease end")?;
        let queue = r.text("queue")?;
        let since = |t: u64| Duration::from_millis(now.saturating_sub(t));
        let left = |t: u64| Duration::from_millis(t.saturating_sub(now));
        let lock = if holder.is_empty() || until <= now {
            None
        } else {
            Some(LockInfo {
                holder: OwnerId::new(&holder).map_err(|e| bad("inspect", &e.to_string()))?,
                fence: Fence(fence),
                lease_left: left(until),
            })
        };
        let queue = parse_queue(&queue)?
            .into_iter()
            .filter(|(_, deadline)| *deadline > now)
            .map(|(o, deadline)| (o, left(deadline)))
            .collect();
        let mut attrs = Vec::new();
        let snapshot = r.snapshot(version)?;
        for (name, entry) in snapshot.attrs {
            attrs.push(AttrInfo {
                name,
                version: entry.version,
                value: entry.value,
            });
        }
        let timeout = |ms: u64| (ms > 0).then(|| Duration::from_millis(ms));
        Ok(Some(SessionInfo {
            id: sid.clone(),
            version,
            age: since(created),
            idle_for: since(last_access),
            idle_timeout: timeout(idle),
            absolute_timeout: timeout(absolute),
            last_fence: Fence(last_fence),
            lock,
            queue,
            attrs,
        }))
    }

    /// Deletes a session (its waiters are told); answers whether it existed.
    pub async fn delete(&self, sid: &SessionId) -> Result<bool, StoreError> {
        self.store.delete(sid).await
    }
}

fn parse_queue(json: &str) -> Result<Vec<(OwnerId, u64)>, StoreError> {
    if json.is_empty() {
        return Ok(Vec::new());
    }
    let raw: Vec<(String, String)> =
        serde_json::from_str(json).map_err(|e| bad("inspect", &format!("queue: {e}")))?;
    raw.into_iter()
        .map(|(owner, deadline)| {
            let owner = OwnerId::new(&owner).map_err(|e| bad("inspect", &format!("queue: {e}")))?;
            let deadline = deadline
                .parse()
                .map_err(|_| bad("inspect", "queue: bad deadline"))?;
            Ok((owner, deadline))
        })
        .collect()
}
