//! Errors of the node and of request sessions.

use std::time::Duration;

use tenure_core::{DecodeError, EncodeError, IdError, LimitError};
use tenure_store::StoreError;

/// A configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Leases must outlast the renewal interval plus the safety margin.
    #[error(
        "lease ({lease:?}) must exceed renew_interval ({renew:?}) plus lease_margin ({margin:?}): \
         raise the lease, or lower the renewal interval or the margin"
    )]
    Lease {
        /// The lease.
        lease: Duration,
        /// The renewal interval.
        renew: Duration,
        /// The margin.
        margin: Duration,
    },
    /// A waiter must be able to outwait the slowest recall (one renewal interval plus
    /// the minimum hold), or it gives up just before the holder hears of it.
    #[error(
        "acquire_timeout ({acquire_timeout:?}) must exceed renew_interval ({renew:?}) plus \
         min_hold ({min_hold:?}), the slowest recall: raise the acquire timeout, or lower \
         the renewal interval"
    )]
    AcquireTimeout {
        /// The acquire timeout.
        acquire_timeout: Duration,
        /// The renewal interval.
        renew: Duration,
        /// The minimum hold.
        min_hold: Duration,
    },
    /// Write-behind needs a held copy; only the exclusive mode has one.
    #[error(
        "write policies other than end-of-request need the Exclusive consistency mode: \
         use WritePolicy::end_of_request() or Consistency::Exclusive"
    )]
    PolicyNeedsExclusive,
    /// A timing is zero where it must not be, or longer than [`MAX_TIMING`](crate::MAX_TIMING).
    #[error("`{field}` of {value:?} is out of range (at least 1 ms where zero cannot work, at most 7 days)")]
    OutOfRange {
        /// The configuration field.
        field: &'static str,
        /// Its value.
        value: Duration,
    },
    /// Uses of a held session reach the store with the renewals; a shorter idle
    /// timeout would expire sessions that are in use.
    #[error(
        "the idle timeout ({idle:?}) must exceed twice renew_interval ({renew:?}), since \
         reads served from memory reach the store with the renewals: raise the idle \
         timeout (NodeConfig::with_expiry) or lower renew_interval"
    )]
    IdleTimeout {
        /// The idle timeout.
        idle: Duration,
        /// The renewal interval.
        renew: Duration,
    },
    /// The keep-alive interval is too long for the liveness TTL.
    #[error(
        "keep_alive_interval ({interval:?}) must be less than half of 5/6 of liveness_ttl ({ttl:?}), so one late keep-alive does not stop the node serving: shorten the interval or lengthen the TTL"
    )]
    Liveness {
        /// The liveness TTL.
        ttl: Duration,
        /// The keep-alive interval.
        interval: Duration,
    },
    /// A node must be able to hold at least one session.
    #[error("max_held must be at least 1")]
    MaxHeld,
    /// The owner label is not a valid owner id.
    #[error("invalid node label: {0}")]
    Label(String),
    /// The forwarding address is not a `host:port` the other nodes could dial.
    #[error("invalid advertised address {0:?}: expected host:port, at most 255 bytes, no spaces")]
    Advertise(String),
}

/// Why a request on a session failed.
///
/// Predicates answer the questions callers have: [`is_conflict`](Self::is_conflict)
/// (retry the request), [`is_transient`](Self::is_transient) (the store may be back
/// soon), [`is_tenure_lost`](Self::is_tenure_lost).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The store could not be asked or did not answer.
    #[error("store call failed: {0}")]
    Store(#[from] StoreError),
    /// The node no longer holds the session: its lease expired and another node may
    /// have written it. Nothing from this request was applied; the node dropped its
    /// copy.
    #[error(
        "tenure of the session was lost (lease expired or fence superseded); nothing was applied"
    )]
    TenureLost,
    /// The request's changes were sent to the store, which did not confirm whether it
    /// applied them, also after they were sent again (idempotently) for as long as
    /// [`NodeConfig::outcome_timeout`](crate::NodeConfig::outcome_timeout) allowed. They may
    /// or may not be stored; the node keeps sending them until the store answers, and
    /// serves the session again only once it knows. Answer the client so that it does
    /// not retry blindly (the axum layer answers 504 with `Tenure-Outcome: unknown`).
    #[error("the store did not confirm whether the request's changes were stored")]
    OutcomeUnknown,
    /// Optimistic mode: these attributes changed at the store since this request
    /// loaded them. Nothing was applied.
    #[error("optimistic commit conflict on: {}", attrs.join(", "))]
    Conflict {
        /// The attributes that changed.
        attrs: Vec<String>,
    },
    /// Optimistic mode: another node holds the session with exclusive tenure.
    #[error("session is held exclusively by a node; nothing was applied")]
    Locked,
    /// The session expired or was deleted while the request used it.
    #[error("session expired or was deleted during the request")]
    Gone,
    /// The stored bytes do not decode as the requested type.
    #[error("attribute `{attr}` does not decode as the requested type")]
    Decode {
        /// The attribute.
        attr: String,
        /// What the codec said.
        #[source]
        source: DecodeError,
    },
    /// The value could not be encoded.
    #[error("attribute `{attr}` could not be encoded")]
    Encode {
        /// The attribute.
        attr: String,
        /// What the codec said.
        #[source]
        source: EncodeError,
    },
    /// An attribute or the session would exceed a limit.
    #[error(transparent)]
    Limit(#[from] LimitError),
    /// Taking this attribute would deadlock with another request on this node that
    /// takes the same attributes mutably in the opposite order; this request fails
    /// (and may be retried), releasing its locks. Take attributes in one order to
    /// avoid it.
    #[error(
        "taking attribute `{}` would deadlock with another request (attributes on the cycle: {})",
        attrs.first().map_or("?", String::as_str),
        attrs.join(", ")
    )]
    Deadlock {
        /// The attributes on the cycle, the one this request asked for first.
        attrs: Vec<String>,
    },
    /// Another node held the session and did not give it up within the acquire
    /// timeout (it may be busy, stuck or dead; a dead holder's lease runs out).
    #[error("another node holds the session and did not give it up within {0:?}")]
    AcquireTimeout(Duration),
    /// The node is shutting down and takes no new work.
    #[error("node is shutting down")]
    ShuttingDown,
    /// The request was forwarded here by another node, and this node no longer holds
    /// the session (it moved): nothing was done; the sender routes the request again
    /// (I19). A forwarded request never makes its receiver acquire the session.
    #[error("session not held here (forwarded request)")]
    NotHere,
    /// This request still holds a guard on the attribute (from `get_mut`) and used
    /// the same attribute again, or ended with the guard alive (kept in a task or a
    /// response body). Other attributes are not affected.
    #[error("attribute `{attr}` is still borrowed by a get_mut guard of this request")]
    Borrowed {
        /// The attribute.
        attr: String,
    },
    /// No unused session id was found (the random number generator is broken).
    #[error("no unused session id found")]
    NoFreeId,
    /// The operating system's random number generator failed.
    #[error("could not generate a session id: {0}")]
    IdGeneration(#[source] IdError),
    /// The request already ended, or was deleted.
    #[error("the session was already ended or deleted in this request")]
    Ended,
}

impl SessionError {
    /// True for an optimistic conflict (or an exclusive lock met in optimistic mode):
    /// retrying the whole request may succeed.
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            Self::Conflict { .. } | Self::Locked | Self::Deadlock { .. }
        )
    }

    /// True if the node lost its tenure and applied nothing.
    pub fn is_tenure_lost(&self) -> bool {
        matches!(self, Self::TenureLost)
    }

    /// True if the request's changes may or may not have been stored.
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(self, Self::OutcomeUnknown)
    }

    /// True if the same request may succeed later without change.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Store(e) => e.is_transient(),
            Self::AcquireTimeout(_) | Self::TenureLost => true,
            _ => self.is_conflict(),
        }
    }
}
