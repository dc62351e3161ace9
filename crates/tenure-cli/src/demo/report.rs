//! What one demo run measured, and the figures the summary derives from it.

use std::fmt;

use tenure_core::Consistency;
use tenure_node::NodeStats;
use tenure_redis::ServerStats;
use tenure_test::CallCounts;

use super::table::Summary;
use super::{Outcome, Setup};

/// What the demo measured.
#[derive(Debug)]
pub struct Report {
    /// What ran.
    pub setup: Setup,
    /// What the workload saw.
    pub outcome: Outcome,
    /// Store calls made by all nodes during the workload.
    pub store_calls: CallCounts,
    /// What the Redis servers counted during the workload, when the store is Redis.
    pub redis: Option<ServerStats>,
    /// Each node's counters after the workload.
    pub stats: Vec<NodeStats>,
    /// The counters' sum in the store after shutdown, if shut down.
    pub stored_after_shutdown: Option<u64>,
}

impl Report {
    /// The consistency mode that ran.
    pub fn mode(&self) -> Consistency {
        self.setup.mode
    }

    /// Acknowledged increments missing from the final counters.
    pub fn lost(&self) -> u64 {
        self.outcome.lost()
    }

    /// Acknowledged increments, over the users whose counter was read back.
    pub fn acknowledged(&self) -> u64 {
        self.outcome.totals().0
    }

    /// The lost increments as a percentage of the acknowledged ones.
    pub fn lost_percent(&self) -> f64 {
        100.0 * self.lost() as f64 / self.acknowledged().max(1) as f64
    }

    /// Responses with `status` (0: no response).
    pub fn responses(&self, status: u16) -> u64 {
        self.outcome.statuses.get(&status).copied().unwrap_or(0)
    }

    /// Requests per second over the workload's wall time.
    pub fn requests_per_second(&self) -> f64 {
        self.outcome.requests as f64 / self.outcome.elapsed.as_secs_f64().max(1e-9)
    }

    /// Store calls per workload request.
    pub fn store_calls_per_request(&self) -> f64 {
        self.store_calls.total() as f64 / self.per_request_divisor()
    }

    /// Attribute bytes the applied commits carried, per workload request.
    pub fn bytes_per_request(&self) -> f64 {
        self.sum(|n| n.commit_bytes) as f64 / self.per_request_divisor()
    }

    fn per_request_divisor(&self) -> f64 {
        self.outcome.requests.max(1) as f64
    }

    /// One node counter summed over the nodes.
    pub fn sum(&self, f: impl Fn(&NodeStats) -> u64) -> u64 {
        self.stats.iter().map(f).sum()
    }

    /// The mode's own counters, by what they count in that mode; the ones a mode
    /// never uses are absent (`None`), not zero.
    pub fn counter(&self, counter: Counter) -> Option<u64> {
        use Consistency::{Exclusive, LastWriterWins, Optimistic};
        let mode = self.mode();
        let value = match counter {
            Counter::Handoffs if mode == Exclusive => self.sum(|n| n.recalls),
            Counter::Grants if mode == Exclusive => self.sum(|n| n.grants),
            Counter::CacheHits if mode == Exclusive => self.sum(|n| n.cache_hits),
            Counter::Forwards if mode == Exclusive => self.sum(|n| n.forwards),
            Counter::Moves if mode == Exclusive => self.sum(|n| n.moves),
            Counter::TenuresLost if mode == Exclusive => self.sum(|n| n.tenure_lost),
            Counter::Deadlocks if mode == Exclusive => self.sum(|n| n.deadlocks),
            Counter::Loads if mode != Exclusive => self.store_calls.load,
            Counter::WholeWrites if mode == LastWriterWins => self.sum(|n| n.commits),
            Counter::AttributeWrites if mode == Optimistic => self.sum(|n| n.commits),
            Counter::Conflicts if mode == Optimistic => self.sum(|n| n.conflicts),
            _ => return None,
        };
        Some(value)
    }
}

/// A counter that means something in some modes only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// Exclusive: sessions given up because another node asked (recalls).
    Handoffs,
    /// Exclusive: tenures granted by the store.
    Grants,
    /// Exclusive: requests served from the held copy with no store call.
    CacheHits,
    /// Exclusive: requests passed to the node holding their session.
    Forwards,
    /// Exclusive: sessions given to the node that kept forwarding their requests.
    Moves,
    /// Exclusive: tenures lost (lease lapsed or fence superseded).
    TenuresLost,
    /// Exclusive: requests refused because an attribute lock wait would deadlock.
    Deadlocks,
    /// Optimistic and last-writer-wins: session loads, one per request.
    Loads,
    /// Last-writer-wins: whole-session writes.
    WholeWrites,
    /// Optimistic: compare-and-set writes of the changed attributes.
    AttributeWrites,
    /// Optimistic: writes refused because an attribute changed meanwhile (409).
    Conflicts,
}

impl Counter {
    /// Every counter, in the order the summary lists them.
    pub const ALL: [Self; 11] = [
        Self::Handoffs,
        Self::Grants,
        Self::CacheHits,
        Self::Forwards,
        Self::Moves,
        Self::TenuresLost,
        Self::Deadlocks,
        Self::Loads,
        Self::WholeWrites,
        Self::AttributeWrites,
        Self::Conflicts,
    ];

    /// The summary's label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Handoffs => "lock handoffs (recalls)",
            Self::Grants => "tenures granted",
            Self::CacheHits => "near-cache hits",
            Self::Forwards => "forwarded to the holder",
            Self::Moves => "moved by the move rule",
            Self::TenuresLost => "tenures lost",
            Self::Deadlocks => "deadlocks refused",
            Self::Loads => "session loads",
            Self::WholeWrites => "whole-session writes",
            Self::AttributeWrites => "attribute writes (CAS)",
            Self::Conflicts => "conflicts (409)",
        }
    }

    /// Listed only when some run counted one (rare events that would be noise).
    pub fn only_if_nonzero(self) -> bool {
        matches!(self, Self::Deadlocks)
    }
}

impl fmt::Display for Report {
    /// The summary table with this run as its one column.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Summary(std::slice::from_ref(self)).fmt(f)
    }
}
