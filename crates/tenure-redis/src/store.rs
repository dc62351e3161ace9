//! [`RedisStore`]: the store protocol as Lua scripts on Redis or Redis Cluster.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use fred::clients::Client;
use fred::interfaces::{ClientLike, PubsubInterface};
use fred::types::config::{Config, ReconnectPolicy};
use fred::types::{Builder, Value};
use tenure_core::{Bytes, Change, Delta, Expect, OwnerId, SessionId, Snapshot};
use tenure_store::{
    AcquireReply, CommitReply, CreateReply, Expiry, Fence, Grant, Hint, HintReceiver,
    OptimisticReply, RenewOutcome, Renewal, RotateReply, Store, StoreError,
};

use crate::hints::HintHub;
use crate::keys::{hint_channel, valid_prefix, SessionKeys};
use crate::reply::{bad, client_error, Reply};
use crate::scripts::{run, Scripts};
use crate::{ConnectError, RedisConfig};

/// Durations beyond this many milliseconds (about 100 years) are clamped: they stay
/// exact in Lua's doubles when added to the clock.
const MAX_MS: u64 = 100 * 365 * 24 * 3600 * 1000;

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
pub(crate) struct Inner {
    pub(crate) client: Client,
    pub(crate) config: RedisConfig,
    fred_config: Config,
    scripts: Scripts,
    clustered: bool,
    hints: tokio::sync::Mutex<Option<HintHub>>,
    drop_hints: Arc<AtomicBool>,
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
            }),
        })
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

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    fn keys(&self, sid: &SessionId) -> SessionKeys {
        SessionKeys::new(&self.inner.config.prefix, sid)
    }

    async fn run(
        &self,
        script: &'static str,
        pick: fn(&Scripts) -> &fred::types::scripts::Script,
        keys: Vec<String>,
        args: Vec<Value>,
    ) -> Result<Reply, StoreError> {
        let value = run(&self.inner.client, pick(&self.inner.scripts), keys, args)
            .await
            .map_err(client_error)?;
        Reply::new(value, script)
    }

    /// Sends a hint a script asked for, without waiting: hints are best effort.
    fn send_hint(&self, to: &OwnerId, hint: &Hint) {
        let payload = match hint {
            Hint::Recall(sid) => format!("R{}", sid.as_str()),
            Hint::Grant(sid) => format!("G{}", sid.as_str()),
            _ => return,
        };
        let channel = hint_channel(&self.inner.config.prefix, to);
        let client = self.inner.client.clone();
        tokio::spawn(async move {
            if let Err(e) = client.spublish::<Value, _, _>(channel, payload).await {
                tracing::debug!(error = %e, "hint not published");
            }
        });
    }

    async fn renew_group(
        &self,
        owner: &OwnerId,
        lease: Duration,
        items: Vec<(usize, &Renewal)>,
    ) -> Result<Vec<(usize, RenewOutcome)>, StoreError> {
        let mut keys = Vec::with_capacity(items.len() * 3);
        let mut args = vec![text(owner.as_str()), ms(lease)];
        for (_, item) in &items {
            keys.extend(self.keys(&item.sid).three());
            args.push(Value::Integer(item.fence.0 as i64));
            args.push(text(if item.touch { "1" } else { "0" }));
        }
        let value = run(&self.inner.client, &self.inner.scripts.renew, keys, args)
            .await
            .map_err(client_error)?;
        let Value::Array(codes) = value else {
            return Err(bad("renew", "expected an array"));
        };
        if codes.len() != items.len() {
            return Err(bad("renew", "one outcome per session expected"));
        }
        items
            .iter()
            .zip(codes)
            .map(|((i, _), code)| {
                let outcome = match code {
                    Value::Integer(0) => RenewOutcome::Lost,
                    Value::Integer(1) => RenewOutcome::Renewed { recall: false },
                    Value::Integer(2) => RenewOutcome::Renewed { recall: true },
                    other => return Err(bad("renew", &format!("unknown outcome {other:?}"))),
                };
                Ok((*i, outcome))
            })
            .collect()
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

impl Inner {
    pub(crate) fn scripts(&self) -> &Scripts {
        &self.scripts
    }

    pub(crate) fn subscriber_builder(&self) -> Builder {
        builder(&self.fred_config, &self.config)
    }
}

fn text(s: &str) -> Value {
    Value::String(s.into())
}

fn ms(d: Duration) -> Value {
    Value::Integer(millis(d) as i64)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).min(MAX_MS)
}

/// A timeout in ms for the scripts, where 0 means none (so a zero timeout is 1 ms).
fn timeout_ms(d: Option<Duration>) -> Value {
    match d {
        None => Value::Integer(0),
        Some(d) => Value::Integer(millis(d).max(1) as i64),
    }
}

/// Appends a delta's ops as (name, kind, value[, expect kind, expect version]).
fn push_ops(args: &mut Vec<Value>, delta: &Delta, with_expect: bool) {
    args.push(Value::Integer(delta.ops.len() as i64));
    for op in &delta.ops {
        args.push(text(&op.name));
        match &op.change {
            Change::Set(value) => {
                args.push(text("s"));
                args.push(Value::Bytes(value.clone()));
            }
            Change::Remove => {
                args.push(text("r"));
                args.push(text(""));
            }
        }
        if with_expect {
            match op.expect {
                Expect::Any => args.extend([text("any"), text("0")]),
                Expect::Absent => args.extend([text("absent"), text("0")]),
                Expect::Version(v) => args.extend([text("ver"), Value::Integer(v as i64)]),
            }
        }
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn acquire(
        &self,
        sid: &SessionId,
        owner: &OwnerId,
        lease: Duration,
        wait: Duration,
    ) -> Result<AcquireReply, StoreError> {
        let args = vec![text(owner.as_str()), ms(lease), ms(wait)];
        let mut reply = self
            .run("acquire", |s| &s.acquire, self.keys(sid).three(), args)
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
                    lease: Duration::from_millis(millis(lease)),
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
        if items.is_empty() {
            return Ok(Vec::new());
        }
        // One script call per batch (per batch and slot on a cluster, where a script
        // may touch only one slot); all are sent at once, so the client pipelines them:
        // one round trip per server.
        let batch = self.inner.config.renew_batch;
        let mut groups: BTreeMap<u16, Vec<Vec<(usize, &Renewal)>>> = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            let slot = if self.inner.clustered {
                fred::util::redis_keyslot(self.keys(&item.sid).meta.as_bytes())
            } else {
                0
            };
            let group = groups.entry(slot).or_default();
            match group.last_mut() {
                Some(last) if last.len() < batch => last.push((i, item)),
                _ => group.push(vec![(i, item)]),
            }
        }
        let calls = groups
            .into_values()
            .flatten()
            .map(|group| self.renew_group(owner, lease, group));
        let mut outcomes = vec![RenewOutcome::Lost; items.len()];
        for result in futures::future::join_all(calls).await {
            for (i, outcome) in result? {
                outcomes[i] = outcome;
            }
        }
        Ok(outcomes)
    }

    async fn commit(
        &self,
        sid: &SessionId,
        owner: &OwnerId,
        fence: Fence,
        delta: Delta,
        release: bool,
    ) -> Result<CommitReply, StoreError> {
        let mut args = vec![
            text(owner.as_str()),
            Value::Integer(fence.0 as i64),
            text(if release { "1" } else { "0" }),
            text(if delta.replace_all { "1" } else { "0" }),
        ];
        push_ops(&mut args, &delta, false);
        let mut reply = self
            .run("commit", |s| &s.commit, self.keys(sid).three(), args)
            .await?;
        match reply.text("status")?.as_str() {
            "S" => Ok(CommitReply::Stale { delta }),
            "C" => {
                if let Some((to, hint)) = reply.hint(sid)? {
                    self.send_hint(&to, &hint);
                }
                let version = reply.int("version")?;
                Ok(CommitReply::Committed { version })
            }
            other => Err(bad("commit", &format!("unknown status {other:?}"))),
        }
    }

    async fn load(&self, sid: &SessionId) -> Result<Option<Snapshot>, StoreError> {
        let mut reply = self
            .run("load", |s| &s.load, self.keys(sid).three(), Vec::new())
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
        let mut args = vec![text(if delta.replace_all { "1" } else { "0" })];
        push_ops(&mut args, &delta, true);
        let mut reply = self
            .run(
                "optimistic",
                |s| &s.optimistic,
                self.keys(sid).three(),
                args,
            )
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
        let (owner, lease) = match tenure {
            Some((owner, lease)) => (owner.as_str(), lease),
            None => ("", Duration::ZERO),
        };
        let mut args = vec![
            timeout_ms(expiry.idle),
            timeout_ms(expiry.absolute),
            text(owner),
            ms(lease),
            Value::Integer(attrs.len() as i64),
        ];
        for (name, value) in attrs {
            args.push(text(&name));
            args.push(Value::Bytes(value));
        }
        let mut reply = self
            .run("create", |s| &s.create, self.keys(sid).four(), args)
            .await?;
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
        let args = vec![ms(self.inner.config.fence_linger)];
        let mut reply = self
            .run("delete", |s| &s.delete, self.keys(sid).four(), args)
            .await?;
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
        // Three steps, because the two ids live in different cluster slots: lock and
        // read the old id, create the new one, delete the old one if the lock held
        // throughout (else undo). See docs/ARCHITECTURE.md, "Redis".
        let rot = OwnerId::generate("rotate").map_err(|e| StoreError::Backend(Box::new(e)))?;
        let (h_owner, h_fence) = match holder {
            Some((o, f)) => (o.as_str(), f.0),
            None => ("", 0),
        };
        let args = vec![
            text(h_owner),
            Value::Integer(h_fence as i64),
            text(rot.as_str()),
            ms(self.inner.config.rotation_lease),
        ];
        let old_keys = self.keys(old);
        let mut out = self
            .run("rotate_out", |s| &s.rotate_out, old_keys.three(), args)
            .await?;
        match out.text("status")?.as_str() {
            "N" => return Ok(RotateReply::NotFound),
            "S" => return Ok(RotateReply::Stale),
            "O" => {}
            other => return Err(bad("rotate_out", &format!("unknown status {other:?}"))),
        }
        let lock_owner = out.text("lock owner")?;
        let lock_fence = out.int("lock fence")?;
        let lease_left = out.int("lease left")?;
        let version = out.int("version")?;
        let idle = out.int("idle")?;
        let absolute = out.int("absolute")?;
        let age = out.int("age")?;
        let snapshot = out.snapshot(version)?;
        let by_caller = lock_owner != rot.as_str();
        let end = |finish: bool| {
            let args = vec![
                text(&lock_owner),
                Value::Integer(lock_fence as i64),
                text(if finish { "1" } else { "0" }),
                ms(self.inner.config.fence_linger),
                text(rot.as_str()),
            ];
            self.run("rotate_end", |s| &s.rotate_end, old_keys.four(), args)
        };
        let abort = || async {
            let mut ended = end(false).await?;
            ended.int("finished")?;
            for waiter in ended.owners()? {
                self.send_hint(&waiter, &Hint::Grant(old.clone()));
            }
            Ok::<_, StoreError>(())
        };
        if old == new {
            abort().await?;
            return Ok(RotateReply::Exists);
        }
        let mut args = vec![
            text(if by_caller { &lock_owner } else { "" }),
            Value::Integer(lease_left as i64),
            Value::Integer(version as i64),
            Value::Integer(idle as i64),
            Value::Integer(absolute as i64),
            Value::Integer(age as i64),
            Value::Integer(snapshot.attrs.len() as i64),
        ];
        for (name, entry) in snapshot.attrs {
            args.push(text(&name));
            args.push(Value::Bytes(entry.value));
            args.push(Value::Integer(entry.version as i64));
        }
        let new_keys = self.keys(new);
        let mut created = self
            .run("rotate_in", |s| &s.rotate_in, new_keys.four(), args)
            .await?;
        let fence = match created.text("status")?.as_str() {
            "E" => {
                abort().await?;
                return Ok(RotateReply::Exists);
            }
            "R" => created.int("fence")?,
            other => return Err(bad("rotate_in", &format!("unknown status {other:?}"))),
        };
        let undo_new = || async {
            let args = vec![ms(self.inner.config.fence_linger)];
            self.run("delete", |s| &s.delete, new_keys.four(), args)
                .await
        };
        let mut ended = match end(true).await {
            Ok(ended) => ended,
            Err(e) => {
                // Unknown whether the old id was deleted. If it still exists under
                // this rotation's lock, take the copy back (and unlock it if the
                // rotation locked it); if it is gone, the copy is all there is.
                if let Ok(mut check) = end(false).await {
                    if check.int("finished").ok() == Some(1) {
                        let _ = undo_new().await;
                        for waiter in check.owners().unwrap_or_default() {
                            self.send_hint(&waiter, &Hint::Grant(old.clone()));
                        }
                    }
                }
                return Err(e);
            }
        };
        if ended.int("finished")? != 1 {
            // The old id's lock ran out meanwhile: someone else may have written it.
            // Take the copy back; the old id stays as it is.
            undo_new().await?;
            return Ok(RotateReply::Stale);
        }
        for waiter in ended.owners()? {
            self.send_hint(&waiter, &Hint::Grant(old.clone()));
        }
        Ok(RotateReply::Rotated {
            fence: (by_caller && fence != 0).then_some(Fence(fence)),
        })
    }

    async fn hints(&self, owner: &OwnerId) -> Result<HintReceiver, StoreError> {
        let mut hub = self.inner.hints.lock().await;
        if hub.is_none() {
            *hub = Some(HintHub::start(&self.inner, self.inner.drop_hints.clone()).await?);
        }
        let Some(hub) = hub.as_ref() else {
            return Err(StoreError::Unavailable(
                "hint subscriber not started".into(),
            ));
        };
        hub.subscribe(owner).await
    }
}
