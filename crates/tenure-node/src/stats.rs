//! Counters a node keeps, readable as a [`NodeStats`] snapshot and exported through
//! the `metrics` facade (names `tenure_node_*`).

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// A snapshot of a node's counters.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct NodeStats {
            $($(#[$doc])* pub $name: u64,)*
        }

        #[derive(Debug, Default)]
        pub(crate) struct Counters {
            $(pub(crate) $name: AtomicU64,)*
        }

        impl NodeStats {
            /// Every counter with its name, in declaration order (for a metrics or
            /// status page).
            pub fn pairs(&self) -> Vec<(&'static str, u64)> {
                vec![$((stringify!($name), self.$name),)*]
            }
        }

        impl Counters {
            pub(crate) fn snapshot(&self) -> NodeStats {
                NodeStats { $($name: self.$name.load(Relaxed),)* }
            }
        }
    };
}

counters! {
    /// Requests served from a held session with no store call.
    cache_hits,
    /// Grants received (acquire or create with tenure).
    grants,
    /// Grants that carried only what changed since this node's copy of the session
    /// from its last release (conditional takeover).
    partial_grants,
    /// Bytes of attribute names and values the grants of `acquire` carried.
    grant_bytes,
    /// `acquire` answers of `Queued`.
    queued,
    /// Commits that applied (including the releasing ones).
    commits,
    /// Bytes of attribute names and values (or patches) the applied commits carried.
    commit_bytes,
    /// Attributes the applied commits carried as patches (structural comparison)
    /// instead of whole values.
    patches,
    /// Commits sent again with whole values because the store refused a patch.
    patches_refused,
    /// Sessions given back because another node asked.
    recalls,
    /// Sessions given back after idling.
    idle_releases,
    /// Sessions given back to respect `max_held`.
    evictions,
    /// Sessions given back at shutdown.
    shutdown_releases,
    /// Tenures lost (stale commit, renewal answered lost, lapsed lease).
    tenure_lost,
    /// Optimistic commits refused because an attribute changed.
    conflicts,
    /// Requests refused because waiting for an attribute lock would deadlock.
    deadlocks,
    /// Commits sent again because the store did not answer (they apply once).
    commit_retries,
    /// Commits whose outcome the store did not confirm in time (answered 504).
    outcomes_unknown,
    /// Commits in doubt whose outcome was learned later, by sending them again.
    doubts_resolved,
    /// Times the node's liveness lapsed at the store and it went on under a new id.
    liveness_lapses,
    /// Times the store was found to have lost data this node relied on (its liveness
    /// key gone before its TTL): the node's copies were dropped, not served.
    store_data_lost,
    /// `locate` calls: finding the holder of a session to forward a request to.
    locates,
    /// Requests this node forwarded to the holder and got an answer for.
    forwards,
    /// Forwards that failed before the holder got the request (unreachable): served
    /// here, by the store path, instead.
    forward_fallbacks,
    /// Forwards answered "not held here" (the location was stale) and routed again.
    forward_refusals,
    /// Requests other nodes forwarded to this one.
    forwarded_in,
    /// Sessions given up to the node that kept forwarding their requests (the move
    /// rule).
    moves,
}

/// Adds `n` to one counter, here and in the `metrics` registry.
macro_rules! count {
    ($counters:expr, $name:ident) => {
        count!($counters, $name, 1)
    };
    ($counters:expr, $name:ident, $n:expr) => {{
        let n: u64 = $n;
        $counters
            .$name
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        metrics::counter!(concat!("tenure_node_", stringify!($name))).increment(n);
    }};
}
pub(crate) use count;
