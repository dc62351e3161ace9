//! Read-only views of the store for operators, and deletion: what `tenure inspect`
//! shows. Inspection never counts as an access, so it does not keep sessions alive.

use std::time::Duration;

use async_trait::async_trait;
use fred::interfaces::ClientLike;
use futures::StreamExt;
use tenure_core::{OwnerId, SessionId};
use tenure_store::{AttrInfo, Fence, Inspect, LockInfo, SessionInfo, Store, StoreError};

use crate::connection::RedisStore;
use crate::keys::{meta_key_session, meta_pattern};
use crate::reply::{bad, client_error};
use crate::scripts::DataKeys;

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
}

#[async_trait]
impl Inspect for Inspector {
    /// Up to `limit` session ids, in no particular order (`SCAN` over every primary).
    async fn list(&self, limit: usize) -> Result<Vec<SessionId>, StoreError> {
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
    async fn show(&self, sid: &SessionId) -> Result<Option<SessionInfo>, StoreError> {
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
    async fn delete(&self, sid: &SessionId) -> Result<bool, StoreError> {
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
