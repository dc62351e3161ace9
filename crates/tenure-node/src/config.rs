//! Node configuration.

use std::sync::Arc;
use std::time::Duration;

use tenure_core::{Comparison, Consistency, Limits, WritePolicy, WriteScope};
use tenure_store::{Expiry, Store};

use crate::ConfigError;

/// How a node behaves. Start from [`NodeConfig::default`] (or [`NodeConfig::new`])
/// and change what you need with the `with_*` builders (or the fields).
///
/// ```
/// use std::time::Duration;
/// use tenure_node::{Consistency, NodeConfig, WritePolicy};
/// let config = NodeConfig::new()
///     .with_consistency(Consistency::Exclusive)
///     .with_write_policy(WritePolicy::every(Duration::from_secs(5)).or_after_updates(50))
///     .with_lease(Duration::from_secs(20));
/// assert!(config.validate().is_ok());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NodeConfig {
    /// A readable prefix of the node's owner id (a random suffix makes it unique).
    pub label: String,
    /// How concurrent writers are reconciled. Default [`Consistency::Exclusive`].
    pub consistency: Consistency,
    /// When held sessions are written. Default end of request.
    pub write_policy: WritePolicy,
    /// What a request writes back. Default only what changed.
    pub write_scope: WriteScope,
    /// How changes to an attribute are found, for keys that do not choose
    /// ([`Key::structural`](tenure_core::Key::structural) and
    /// [`Key::binary`](tenure_core::Key::binary) do). Default
    /// [`Comparison::Binary`]: whole values.
    pub comparison: Comparison,
    /// Lease asked for on each grant and renewal. Default 30 s.
    pub lease: Duration,
    /// How often all held sessions are renewed, in one store call. This is also the
    /// longest a recall takes to reach the holder when every hint is lost. Default 5 s.
    pub renew_interval: Duration,
    /// The node treats a lease as ending this long before the store does (clock
    /// drift, time in flight). Default 3 s.
    pub lease_margin: Duration,
    /// After a grant, a recall waits this long before it stops admitting requests,
    /// so two busy nodes do not hand a session back and forth per request. Default 10 ms
    /// (a handoff costs about 1 ms of store round trips on loopback; docs/ARCHITECTURE.md,
    /// departure 15, has the measurements).
    pub min_hold: Duration,
    /// A held session unused for this long is written and released. Default 30 s.
    pub idle_release: Duration,
    /// Most sessions held at once; beyond it, the least recently used idle ones are
    /// written and released, in batches that free 1/32 of it (so that finding them
    /// is not paid on every new session). Default 10,000.
    pub max_held: usize,
    /// Longest a request waits for another node to give a session up. Must exceed
    /// `renew_interval + min_hold`, the slowest recall when hints are lost. Default 15 s.
    pub acquire_timeout: Duration,
    /// Longest wait between two `acquire` calls of a queued request when no grant
    /// hint arrives (hints may be lost). A queued node that falls silent for four of
    /// these (it crashed) loses its place at the store. Default 250 ms.
    pub max_poll: Duration,
    /// How long the store counts this node alive after each keep-alive (I15). A node
    /// that crashes costs this long, not its leases: another node may then take its
    /// sessions. The node stops serving from its copies a sixth of it before its
    /// liveness can run out at the store. Default 3 s.
    pub liveness_ttl: Duration,
    /// How often the node keeps itself alive at the store: one store call per
    /// interval, however many sessions it holds. Default 1 s.
    pub keep_alive_interval: Duration,
    /// How long a request whose commit the store did not confirm (a timeout, a dropped
    /// connection) keeps sending the same commit again, which applies at most once,
    /// before it answers [`SessionError::OutcomeUnknown`](crate::SessionError::OutcomeUnknown).
    /// Keep it below the time clients and proxies wait for an answer. Default 5 s.
    pub outcome_timeout: Duration,
    /// Idle and absolute timeouts given to new sessions. Default 30 min idle, 24 h absolute.
    pub expiry: Expiry,
    /// Attribute and session size limits.
    pub limits: Limits,
    /// Where this node takes requests forwarded by other nodes (`host:port` of its
    /// HTTP listener, as the other nodes reach it). With an address, a node that gets
    /// a request for a session another live node holds passes the request to that
    /// node instead of moving the session, and other nodes learn this address from
    /// the store. Default none: sessions move to the node that gets the request.
    pub advertise: Option<String>,
    /// The attribute [`Node::sessions_of`](crate::Node::sessions_of) reports as each
    /// session's label (a device name the application stored as a `String`, say).
    /// Default none.
    pub device_label: Option<String>,
    /// Most copies of given-back sessions kept, so that taking one back costs only the
    /// attributes changed since (conditional takeover): the least recently used go
    /// first. 0 keeps none (every takeover then carries the whole session). Default
    /// [`REMEMBERED_COPIES`] (1,000).
    pub remembered_copies: usize,
    /// Most bytes (attribute names and values) those copies may hold in all; a
    /// session larger than this is not kept. Default [`REMEMBERED_BYTES`] (64 MiB).
    pub remembered_bytes: usize,
    /// The move rule: after this many requests in a row forwarded here by the same
    /// node (none sent here directly), the balancer evidently sends the session
    /// there, and this node gives the session up to it. 0: never. Default
    /// [`MOVE_AFTER`](crate::MOVE_AFTER).
    pub move_after: u32,
    /// The store, for [`Node::from_config`](crate::Node::from_config).
    pub(crate) store: Option<Arc<dyn Store>>,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            label: "node".to_string(),
            consistency: Consistency::default(),
            write_policy: WritePolicy::default(),
            write_scope: WriteScope::default(),
            comparison: Comparison::default(),
            lease: Duration::from_secs(30),
            renew_interval: Duration::from_secs(5),
            lease_margin: Duration::from_secs(3),
            min_hold: Duration::from_millis(10),
            idle_release: Duration::from_secs(30),
            max_held: 10_000,
            acquire_timeout: Duration::from_secs(15),
            max_poll: Duration::from_millis(250),
            outcome_timeout: Duration::from_secs(5),
            liveness_ttl: Duration::from_secs(3),
            keep_alive_interval: Duration::from_secs(1),
            expiry: Expiry {
                idle: Some(Duration::from_secs(30 * 60)),
                absolute: Some(Duration::from_secs(24 * 3600)),
            },
            limits: Limits::default(),
            advertise: None,
            device_label: None,
            move_after: MOVE_AFTER,
            remembered_copies: REMEMBERED_COPIES,
            remembered_bytes: REMEMBERED_BYTES,
            store: None,
        }
    }
}

/// Forwarded requests in a row, from one node, after which the holder gives the
/// session to that node (the move rule; `NodeConfig::move_after`'s default).
pub const MOVE_AFTER: u32 = 32;

/// Default [`NodeConfig::remembered_copies`]: enough for the sessions a node hands
/// back and forth at a time, small beside the `max_held` it holds.
pub const REMEMBERED_COPIES: usize = 1_000;

/// Default [`NodeConfig::remembered_bytes`]: 64 MiB, so a few large sessions cannot
/// make the memory of released copies outgrow what the node holds.
pub const REMEMBERED_BYTES: usize = 64 << 20;

/// The longest any node timing may be: beyond it, deadlines would overflow the clock.
pub const MAX_TIMING: Duration = Duration::from_secs(7 * 24 * 3600);

impl NodeConfig {
    /// The defaults (the same as [`NodeConfig::default`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// The store the node keeps its sessions in, for
    /// [`Node::from_config`](crate::Node::from_config): every process of the app
    /// shares it (a `MemoryStore` only within one process).
    pub fn with_store(self, store: impl Store) -> Self {
        self.with_shared_store(Arc::new(store))
    }

    /// Like [`with_store`](Self::with_store), for a store already behind an `Arc`.
    pub fn with_shared_store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// The idle and absolute timeouts of new sessions.
    pub fn with_expiry(mut self, expiry: Expiry) -> Self {
        self.expiry = expiry;
        self
    }

    /// When held sessions are written ([`WritePolicy`]).
    pub fn with_write_policy(mut self, policy: WritePolicy) -> Self {
        self.write_policy = policy;
        self
    }

    /// How concurrent writers are reconciled ([`Consistency`]).
    pub fn with_consistency(mut self, consistency: Consistency) -> Self {
        self.consistency = consistency;
        self
    }

    /// The lease asked for on each grant and renewal.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// A readable prefix of the node's owner id (logs, `tenure inspect`).
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// What a request writes back ([`WriteScope`]).
    pub fn with_write_scope(mut self, scope: WriteScope) -> Self {
        self.write_scope = scope;
        self
    }

    /// How changes are found for keys that do not choose ([`Comparison`]).
    pub fn with_comparison(mut self, comparison: Comparison) -> Self {
        self.comparison = comparison;
        self
    }

    /// Attribute and session size limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Where this node takes forwarded requests ([`advertise`](Self::advertise)).
    pub fn with_advertise(mut self, address: impl Into<String>) -> Self {
        self.advertise = Some(address.into());
        self
    }

    /// The attribute [`Node::sessions_of`](crate::Node::sessions_of) reports as each
    /// session's label ([`device_label`](Self::device_label)).
    pub fn with_device_label(mut self, attr: impl Into<String>) -> Self {
        self.device_label = Some(attr.into());
        self
    }

    /// How long after sending a keep-alive the node may serve from its copies: the
    /// TTL less a sixth, for clock drift and time in flight.
    pub(crate) fn liveness_serving(&self) -> Duration {
        self.liveness_ttl - self.liveness_ttl / 6
    }

    /// How long the store keeps a queued node's place without hearing from it again.
    pub(crate) fn queue_wait(&self) -> Duration {
        (self.max_poll * 4).max(Duration::from_millis(100))
    }

    /// Checks that the settings can work together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.lease <= self.renew_interval + self.lease_margin {
            return Err(ConfigError::Lease {
                lease: self.lease,
                renew: self.renew_interval,
                margin: self.lease_margin,
            });
        }
        if self.consistency != tenure_core::Consistency::Exclusive
            && self.write_policy != WritePolicy::end_of_request()
        {
            return Err(ConfigError::PolicyNeedsExclusive);
        }
        if self.acquire_timeout <= self.renew_interval + self.min_hold {
            return Err(ConfigError::AcquireTimeout {
                acquire_timeout: self.acquire_timeout,
                renew: self.renew_interval,
                min_hold: self.min_hold,
            });
        }
        let timings = [
            ("lease", self.lease),
            ("renew_interval", self.renew_interval),
            ("lease_margin", self.lease_margin),
            ("min_hold", self.min_hold),
            ("idle_release", self.idle_release),
            ("acquire_timeout", self.acquire_timeout),
            ("max_poll", self.max_poll),
            ("outcome_timeout", self.outcome_timeout),
            ("liveness_ttl", self.liveness_ttl),
            ("keep_alive_interval", self.keep_alive_interval),
        ];
        for (field, value) in timings {
            if value > MAX_TIMING {
                return Err(ConfigError::OutOfRange { field, value });
            }
        }
        // One late keep-alive must not make the node stop serving.
        if self.keep_alive_interval * 2 >= self.liveness_serving() {
            return Err(ConfigError::Liveness {
                ttl: self.liveness_ttl,
                interval: self.keep_alive_interval,
            });
        }
        for (field, value) in [
            ("renew_interval", self.renew_interval),
            ("max_poll", self.max_poll),
            ("keep_alive_interval", self.keep_alive_interval),
        ] {
            if value < Duration::from_millis(1) {
                return Err(ConfigError::OutOfRange { field, value });
            }
        }
        // Reads served from the near cache reach the store only with the next renewal:
        // an idle timeout shorter than two renewals would expire sessions in use.
        if let Some(idle) = self.expiry.idle {
            if idle <= self.renew_interval * 2 {
                return Err(ConfigError::IdleTimeout {
                    idle,
                    renew: self.renew_interval,
                });
            }
        }
        if self.max_held == 0 {
            return Err(ConfigError::MaxHeld);
        }
        if let Some(address) = &self.advertise {
            if !valid_address(address) {
                return Err(ConfigError::Advertise(address.clone()));
            }
        }
        Ok(())
    }
}

/// `host:port`, printable, with a numeric port: what another node can dial.
fn valid_address(address: &str) -> bool {
    let Some((host, port)) = address.rsplit_once(':') else {
        return false;
    };
    !host.is_empty()
        && address.len() <= 255
        && address.bytes().all(|b| b.is_ascii_graphic())
        && port.parse::<u16>().is_ok_and(|p| p != 0)
}
