//! Side-by-side load harness: the same small app, the same router and the same Redis
//! for Tenure and for the session libraries users would otherwise pick
//! (tower-sessions with its Redis store, with and without its moka cache, and
//! actix-session with its Redis store), and for the limit: the same app with a
//! process-local session and no store. One run measures every system on every
//! workload, sweeps workload (a) over affinities, runs (a) and (d) again on a
//! 3-master Redis Cluster, and writes `docs/BENCHMARKS.md`'s tables,
//! `docs/bench/results.json` and the plots.
//!
//! Run it with `cargo run --release -p tenure-bench -- [--quick]`.

pub mod app;
mod cpu;
pub mod load;
pub mod plot;
pub mod redis_cluster;
pub mod redis_server;
pub mod report;
pub mod systems;
mod wire;
pub mod workload;

use std::path::PathBuf;

use serde::Serialize;

pub use systems::System;
pub use workload::{Profile, Workload};

use redis_cluster::RedisCluster;
use redis_server::{Meter, RedisServer};
use systems::{Env, RunningNode};

/// Why a harness run failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A socket, process or file operation failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The private Redis server did not start.
    #[error("redis-server: {0}")]
    RedisServer(String),
    /// Tenure's Redis store could not connect.
    #[error("tenure redis store: {0}")]
    Connect(#[from] tenure_redis::ConnectError),
    /// A Tenure node did not start.
    #[error("tenure node: {0}")]
    Node(#[from] tenure_node::StartError),
    /// Tenure's cookie settings were refused.
    #[error("tenure cookies: {0}")]
    Cookies(#[from] tenure_axum::CookieConfigError),
    /// Reading the server's counters failed.
    #[error("redis counters: {0}")]
    Store(#[from] tenure_store::StoreError),
    /// A peer library's setup failed.
    #[error("peer system: {0}")]
    Peer(String),
    /// The report could not be encoded.
    #[error("report: {0}")]
    Report(String),
}

/// A part of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Part {
    /// Every system on every workload, on one Redis server.
    Main,
    /// Workload (a) at every affinity of [`SWEEP_AFFINITIES`], shorter load per point.
    Sweep,
    /// Workloads (a) and (d) on a 3-master Redis Cluster.
    Cluster,
}

impl Part {
    /// Every part, in run order.
    pub const ALL: [Part; 3] = [Part::Main, Part::Sweep, Part::Cluster];
}

/// The affinities of the sweep.
pub const SWEEP_AFFINITIES: [f64; 4] = [0.0, 0.5, 0.9, 1.0];
/// The workload the sweep varies.
pub const SWEEP_WORKLOAD: &str = "a";
/// The workloads run again on a Redis Cluster.
pub const CLUSTER_WORKLOADS: [&str; 2] = ["a", "d"];

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Workload sizes.
    pub profile: Profile,
    /// The systems, in order.
    pub systems: Vec<System>,
    /// The workloads' ids (`a` to `e`); empty: all. The sweep runs only if (a) is
    /// selected, the cluster part only the selected ones of (a) and (d).
    pub workloads: Vec<String>,
    /// The parts of the run.
    pub parts: Vec<Part>,
    /// App nodes per system.
    pub nodes: usize,
    /// Overrides every workload's affinity (not the sweep's).
    pub affinity: Option<f64>,
    /// The `redis-server` binary.
    pub redis_server: PathBuf,
    /// The `redis-cli` binary, which joins the cluster's nodes.
    pub redis_cli: PathBuf,
    /// Seed of the client's choices.
    pub seed: u64,
}

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
    /// Commands clients sent to Redis, per request (a script call is one).
    pub commands_per_request: f64,
    /// Commands Redis ran inside scripts, per request.
    pub script_commands_per_request: f64,
    /// Bytes to and from Redis, per request.
    pub bytes_per_request: f64,
    /// CPU time per request, µs: the harness process (the client and every app node)
    /// plus Redis, over the same window as the Redis counters.
    pub cpu_us_per_request: f64,
    /// The part of it Redis used, µs.
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

/// Commands a client sent: everything counted, less what ran inside scripts (which
/// only Tenure uses; its client sends only script calls and pub/sub commands).
fn commands_sent(stats: &tenure_redis::ServerStats) -> (u64, u64) {
    let scripted = stats.commands.contains_key("evalsha") || stats.commands.contains_key("eval");
    if scripted {
        (stats.client_commands(), stats.script_commands())
    } else {
        (stats.all_commands(), 0)
    }
}

async fn start_nodes(system: System, env: &Env, n: usize) -> Result<Vec<RunningNode>, BenchError> {
    let mut nodes = Vec::with_capacity(n);
    for i in 0..n {
        match system.start_node(env, &format!("node-{i}")).await {
            Ok(node) => nodes.push(node),
            Err(e) => {
                stop_all(nodes).await;
                return Err(e);
            }
        }
    }
    Ok(nodes)
}

async fn stop_all(nodes: Vec<RunningNode>) {
    futures::future::join_all(nodes.into_iter().map(RunningNode::stop)).await;
}

/// Runs one system on one workload on a flushed server or cluster at `url`.
async fn measure(
    url: &str,
    meter: &Meter,
    system: System,
    workload: &Workload,
    options: &Options,
) -> Result<Measurement, BenchError> {
    let mut workload = workload.clone();
    if let Some(a) = system.fixed_affinity() {
        workload.affinity = a;
    }
    meter.flush().await?;
    let env = Env::new(url.to_string());
    let nodes = start_nodes(system, &env, options.nodes).await?;
    let addrs = nodes.iter().map(|n| n.addr).collect();
    // The limit has no store: nothing of Redis to count (the meter's own `INFO`
    // replies would be all there is).
    let counted = !system.is_limit();
    let before = if counted {
        Some(meter.stats().await?)
    } else {
        None
    };
    let cpu_before = cpu::process_micros();
    let outcome = load::run(&workload, addrs, system.cookie(), options.seed).await;
    // The stop is inside the measured window: write-behind systems write then.
    stop_all(nodes).await;
    let process_cpu = cpu::process_micros().saturating_sub(cpu_before);
    let cost = match &before {
        Some(before) => &meter.stats().await? - before,
        None => tenure_redis::ServerStats::default(),
    };
    let audit = if system.audited() {
        let auditor = system.start_node(&env, "auditor").await?;
        let audit = load::audit(auditor.addr, system.cookie(), &outcome.sessions).await;
        auditor.stop().await;
        Some(audit)
    } else {
        None
    };

    let requests = outcome.requests().max(1) as f64;
    let (sent, scripted) = commands_sent(&cost);
    let ms = |q: f64| outcome.latency.value_at_quantile(q) as f64 / 1000.0;
    Ok(Measurement {
        workload: workload.id.to_string(),
        system: system.slug().to_string(),
        affinity: workload.affinity,
        requests: outcome.requests(),
        errors: outcome.errors,
        error_kinds: outcome.error_kinds.clone(),
        throughput: outcome.ok as f64 / outcome.elapsed.as_secs_f64().max(1e-9),
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
        commands_per_request: sent as f64 / requests,
        script_commands_per_request: scripted as f64 / requests,
        bytes_per_request: cost.net_bytes() as f64 / requests,
        cpu_us_per_request: (process_cpu + cost.cpu_micros) as f64 / requests,
        redis_cpu_us_per_request: cost.cpu_micros as f64 / requests,
        acked_increments: audit.map_or_else(
            || outcome.sessions.iter().map(|s| s.acked()).sum(),
            |a| a.acked,
        ),
        lost_updates: audit.map(|a| a.lost),
        unreadable_sessions: audit.map_or(0, |a| a.unreadable),
        reads: outcome.reads,
        stale_reads: audit.map(|_| outcome.stale_reads),
        sessions: outcome.sessions.len() as u64,
        seconds: outcome.elapsed.as_secs_f64(),
    })
}

fn selected(options: &Options, id: &str) -> bool {
    options.workloads.is_empty() || options.workloads.iter().any(|w| w == id)
}

/// The workloads `options` selects, with its affinity override applied.
pub fn selected_workloads(options: &Options) -> Vec<Workload> {
    workload::all(options.profile)
        .into_iter()
        .filter(|w| selected(options, w.id))
        .map(|mut w| {
            if let Some(a) = options.affinity {
                w.affinity = a;
            }
            w
        })
        .collect()
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
    /// Wall time of the whole run, seconds.
    pub seconds: f64,
}

/// Runs the selected parts: every selected system on every selected workload, one
/// after another, on one private Redis server, then the sweep on the same server,
/// then the cluster workloads on a private cluster. `progress` sees each measurement
/// as it is made.
pub async fn run(
    options: &Options,
    mut progress: impl FnMut(Part, &Workload, &Measurement),
) -> Result<RunReport, BenchError> {
    let started = std::time::Instant::now();
    let wants = |p: Part| options.parts.contains(&p);
    let workloads = if wants(Part::Main) {
        selected_workloads(options)
    } else {
        Vec::new()
    };
    let sweep_workload = workload::all(options.profile)
        .into_iter()
        .find(|w| w.id == SWEEP_WORKLOAD && selected(options, w.id) && wants(Part::Sweep))
        .map(|mut w| {
            w.duration = options.profile.sweep_duration();
            w
        });
    let cluster_workloads: Vec<Workload> = if wants(Part::Cluster) {
        selected_workloads(options)
            .into_iter()
            .filter(|w| CLUSTER_WORKLOADS.contains(&w.id))
            .collect()
    } else {
        Vec::new()
    };

    if !cluster_workloads.is_empty() {
        // Fail now, not after the main part and the sweep.
        RedisCluster::check_cli(&options.redis_cli).await?;
    }

    let mut measurements = Vec::new();
    let mut sweep = None;
    let mut redis_version = String::new();
    if !workloads.is_empty() || sweep_workload.is_some() {
        let redis = RedisServer::start(&options.redis_server).await?;
        let (url, meter) = (redis.url(), redis.meter());
        let result = async {
            for w in &workloads {
                for &system in &options.systems {
                    let m = measure(url, meter, system, w, options).await?;
                    progress(Part::Main, w, &m);
                    measurements.push(m);
                }
            }
            if let Some(base) = &sweep_workload {
                let mut points = Vec::new();
                for a in SWEEP_AFFINITIES {
                    let mut w = base.clone();
                    w.affinity = a;
                    for &system in &options.systems {
                        // A fixed affinity is the same run at every point: once.
                        let done = system.fixed_affinity().is_some()
                            && points
                                .iter()
                                .any(|m: &Measurement| m.system == system.slug());
                        if done {
                            continue;
                        }
                        let m = measure(url, meter, system, &w, options).await?;
                        progress(Part::Sweep, &w, &m);
                        points.push(m);
                    }
                }
                sweep = Some(SweepReport {
                    workload: base.id.to_string(),
                    affinities: SWEEP_AFFINITIES.to_vec(),
                    seconds_per_point: base.duration.as_secs_f64(),
                    measurements: points,
                });
            }
            Ok::<_, BenchError>(())
        }
        .await;
        redis_version = meter.version().await;
        redis.stop().await;
        result?;
    }

    let mut cluster = None;
    if !cluster_workloads.is_empty() {
        let redis = RedisCluster::start(&options.redis_server, &options.redis_cli).await?;
        let (url, meter) = (redis.url(), redis.meter());
        let mut points = Vec::new();
        let mut unsupported = Vec::new();
        for &system in &options.systems {
            if let Err(reason) = system.cluster_support() {
                unsupported.push(Unsupported {
                    system: system.slug().to_string(),
                    reason: reason.to_string(),
                });
            }
        }
        let result = async {
            for w in &cluster_workloads {
                for &system in &options.systems {
                    if system.cluster_support().is_err() {
                        continue;
                    }
                    let m = measure(url, meter, system, w, options).await?;
                    progress(Part::Cluster, w, &m);
                    points.push(m);
                }
            }
            Ok::<_, BenchError>(())
        }
        .await;
        let version = meter.version().await;
        redis.stop().await;
        result?;
        if redis_version.is_empty() {
            redis_version = version.clone();
        }
        cluster = Some(ClusterReport {
            masters: redis_cluster::MASTERS,
            redis_version: version,
            workloads: cluster_workloads,
            measurements: points,
            unsupported,
        });
    }

    Ok(RunReport {
        workloads,
        systems: options
            .systems
            .iter()
            .map(|s| s.slug().to_string())
            .collect(),
        nodes: options.nodes,
        profile: format!("{:?}", options.profile).to_lowercase(),
        redis_version,
        measurements,
        sweep,
        cluster,
        seconds: started.elapsed().as_secs_f64(),
    })
}
