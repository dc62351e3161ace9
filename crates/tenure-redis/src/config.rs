//! How to reach Redis, and the store's few settings.

use std::time::Duration;

/// Settings of a [`RedisStore`](crate::RedisStore).
///
/// ```
/// use std::time::Duration;
/// use tenure_redis::RedisConfig;
/// let config = RedisConfig::new("redis://127.0.0.1:6379")
///     .prefix("shop")
///     .command_timeout(Duration::from_secs(1));
/// assert_eq!(config.url(), "redis://127.0.0.1:6379");
/// ```
#[derive(Debug, Clone)]
pub struct RedisConfig {
    pub(crate) url: String,
    pub(crate) prefix: String,
    pub(crate) command_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) fence_linger: Duration,
    pub(crate) rotation_lease: Duration,
    pub(crate) renew_batch: usize,
    pub(crate) slot_pass: usize,
    pub(crate) directory_guard: Duration,
}

impl RedisConfig {
    /// Settings for the server or cluster at `url`: `redis://host:port[/db]` for one
    /// server, `redis-cluster://host:port[?node=host:port...]` for a cluster (any one
    /// node is enough; the rest are discovered). `rediss://` and `redis-cluster` with
    /// credentials work as the `fred` client documents.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: "tenure".to_string(),
            command_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(5),
            fence_linger: Duration::from_secs(3600),
            rotation_lease: Duration::from_secs(10),
            renew_batch: 64,
            slot_pass: 256,
            directory_guard: Duration::from_secs(60),
        }
    }

    /// The URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The key prefix, so several applications can share one Redis (default
    /// `tenure`). 1 to 64 printable ASCII characters, no braces or spaces.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The key prefix in use.
    pub fn key_prefix(&self) -> &str {
        &self.prefix
    }

    /// How long one command may take before the call fails as unavailable (default 2 s).
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// How long connecting may take (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a deleted or rotated-away session's last fence is kept (default 1 h,
    /// at least 1 ms).
    /// Fences also never fall below the server clock in microseconds, so this only
    /// guards against a server clock that steps back.
    pub fn fence_linger(mut self, linger: Duration) -> Self {
        self.fence_linger = linger.max(Duration::from_millis(1));
        self
    }

    /// How long `rotate_id` of an unlocked session may keep it locked while it copies
    /// the data, should the caller die midway (default 10 s, at least 100 ms).
    pub fn rotation_lease(mut self, lease: Duration) -> Self {
        self.rotation_lease = lease.max(Duration::from_millis(100));
        self
    }

    /// Sessions per renewal or release script call (default 64): bounds how long one
    /// call keeps Redis from every other command (about 6 ms of its time for 64 on a
    /// 2-core machine). Two calls of a batch are under way at a time.
    pub fn renew_batch(mut self, sessions: usize) -> Self {
        self.renew_batch = sessions.max(1);
        self
    }

    /// On a cluster, how many of the 16,384 slots each `Store::maintain` (every node,
    /// every 5 s) passes over (default 256): the pass moves the horizons of principal
    /// index shards whose sessions live long, so every slot must be passed within an
    /// hour (`scripts/index.lua`). At the default one node alone passes every slot in
    /// about 5 minutes, at 51 small scripts a second.
    pub fn slot_pass(mut self, slots: usize) -> Self {
        self.slot_pass = slots.clamp(1, 16_384);
        self
    }

    /// On a cluster, how long after a session of a slot was last given a principal the
    /// slot stays in the principal's directory even while its shard is found empty
    /// (default 60 s): it covers the time between the store's directory call and the
    /// session's script that adds the entry, at least the command timeout.
    pub fn directory_guard(mut self, guard: Duration) -> Self {
        self.directory_guard = guard;
        self
    }
}
