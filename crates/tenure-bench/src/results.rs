//! What a run measured: one [`Measurement`] per system and workload, grouped by the
//! part of the run that made it, in the [`RunReport`] the report and
//! `results.json` are made from.

use serde::Serialize;

use crate::{System, Workload};

/// One system's figures on one workload.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Measurement {
    /// Workload id.
    pub workload: String,
    /// System slug.
    pub system: String,
    /// The affinity the client routed with (the workload's, or the system's fixed
    /// one).
    pub affinity: f64,
    /// Requests sent.
    pub requests: u64,
    /// Requests not answered with a 2xx.
    pub errors: u64,
    /// Error kinds and counts.
    pub error_kinds: Vec<(String, u64)>,
    /// Answered requests per second.
    pub throughput: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
    /// Commands clients sent to Redis, per request (a script call is one); on
    /// PostgreSQL, statements (transactions) per request.
    pub commands_per_request: f64,
    /// Commands Redis ran inside scripts, per request.
    pub script_commands_per_request: f64,
    /// Bytes to and from Redis, per request.
    pub bytes_per_request: f64,
    /// CPU time per request, µs: the harness process (the client and every app node)
    /// plus Redis, over the same window as the Redis counters.
    pub cpu_us_per_request: f64,
    /// The part of it the store's server (Redis, PostgreSQL) used, µs.
    pub redis_cpu_us_per_request: f64,
    /// Increments acknowledged.
    pub acked_increments: u64,
    /// Acknowledged increments missing from the final counters; `None` where a
    /// fresh node cannot read them (the limit's per-node memory).
    pub lost_updates: Option<u64>,
    /// Sessions whose final counter could not be read back.
    pub unreadable_sessions: u64,
    /// Counter reads answered.
    pub reads: u64,
    /// Reads that missed an increment acknowledged before they were sent; `None`
    /// where not meaningful (the limit).
    pub stale_reads: Option<u64>,
    /// Sessions created.
    pub sessions: u64,
    /// Seconds of load.
    pub seconds: f64,
}

impl Measurement {
    /// The system measured, if its slug is known.
    pub fn system(&self) -> Option<System> {
        self.system.parse().ok()
    }
}

/// The sweep: one workload at several affinities.
#[derive(Debug, Clone, Serialize)]
pub struct SweepReport {
    /// The workload's id.
    pub workload: String,
    /// The affinities, in order.
    pub affinities: Vec<f64>,
    /// Load time per system and point, seconds.
    pub seconds_per_point: f64,
    /// Every measurement, by affinity then system (a system with a fixed affinity,
    /// the limit, once).
    pub measurements: Vec<Measurement>,
}

/// A system the cluster part could not run, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Unsupported {
    /// System slug.
    pub system: String,
    /// Why.
    pub reason: String,
}

/// The cluster part: some workloads again on a Redis Cluster.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterReport {
    /// Masters (no replicas).
    pub masters: usize,
    /// Redis version of the cluster's nodes.
    pub redis_version: String,
    /// The workloads run.
    pub workloads: Vec<Workload>,
    /// Every measurement, by workload then system; Redis figures summed over every
    /// master.
    pub measurements: Vec<Measurement>,
    /// Systems that cannot run on a cluster.
    pub unsupported: Vec<Unsupported>,
}

/// The PostgreSQL part: some workloads for the systems that keep sessions in
/// PostgreSQL, and the limit.
#[derive(Debug, Clone, Serialize)]
pub struct PostgresReport {
    /// `SHOW server_version`.
    pub version: String,
    /// The workloads run.
    pub workloads: Vec<Workload>,
    /// Every measurement, by workload then system; "commands" are statements
    /// (transactions) in the run's database, bytes those through the proxy.
    pub measurements: Vec<Measurement>,
}

/// A finished run: what was measured and on what.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The workloads run (empty when the main part did not run).
    pub workloads: Vec<Workload>,
    /// The systems, in order.
    pub systems: Vec<String>,
    /// App nodes per system.
    pub nodes: usize,
    /// `quick` or `full`.
    pub profile: String,
    /// Redis version.
    pub redis_version: String,
    /// Every measurement of the main part, by workload then system.
    pub measurements: Vec<Measurement>,
    /// The affinity sweep, if it ran.
    pub sweep: Option<SweepReport>,
    /// The cluster part, if it ran.
    pub cluster: Option<ClusterReport>,
    /// The PostgreSQL part, if it ran.
    pub postgres: Option<PostgresReport>,
    /// Wall time of the whole run, seconds.
    pub seconds: f64,
}
