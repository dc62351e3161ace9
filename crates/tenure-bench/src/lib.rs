//! Side-by-side load harness: the same small app, the same router and the same Redis
//! for Tenure and for the session libraries users would otherwise pick
//! (tower-sessions with its Redis store, with and without its moka cache, and
//! actix-session with its Redis store). One run measures every system on every
//! workload and writes `docs/BENCHMARKS.md`'s tables, `docs/bench/results.json` and
//! the plots.
//!
//! Run it with `cargo run --release -p tenure-bench -- [--quick]`.

pub mod app;
pub mod load;
pub mod plot;
pub mod redis_server;
pub mod report;
pub mod systems;
pub mod workload;

use std::path::PathBuf;

use serde::Serialize;

pub use systems::System;
pub use workload::{Profile, Workload};

use redis_server::RedisServer;
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

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Workload sizes.
    pub profile: Profile,
    /// The systems, in order.
    pub systems: Vec<System>,
    /// The workloads' ids (`a` to `e`); empty: all.
    pub workloads: Vec<String>,
    /// App nodes per system.
    pub nodes: usize,
    /// Overrides every workload's affinity.
    pub affinity: Option<f64>,
    /// The `redis-server` binary.
    pub redis_server: PathBuf,
    /// Seed of the client's choices.
    pub seed: u64,
}

/// One system's figures on one workload.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    /// Workload id.
    pub workload: String,
    /// System slug.
    pub system: String,
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
    /// Increments acknowledged.
    pub acked_increments: u64,
    /// Acknowledged increments missing from the final counters.
    pub lost_updates: u64,
    /// Sessions whose final counter could not be read back.
    pub unreadable_sessions: u64,
    /// Counter reads answered.
    pub reads: u64,
    /// Reads that missed an increment acknowledged before they were sent.
    pub stale_reads: u64,
    /// Sessions created.
    pub sessions: u64,
    /// Seconds of load.
    pub seconds: f64,
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

/// Runs one system on one workload on a flushed server.
async fn measure(
    redis: &RedisServer,
    system: System,
    workload: &Workload,
    options: &Options,
) -> Result<Measurement, BenchError> {
    redis.flush().await?;
    let env = Env::new(redis.url().to_string());
    let nodes = start_nodes(system, &env, options.nodes).await?;
    let addrs = nodes.iter().map(|n| n.addr).collect();
    let before = redis.stats().await?;
    let outcome = load::run(workload, addrs, system.cookie(), options.seed).await;
    // The stop is inside the measured window: write-behind systems write then.
    stop_all(nodes).await;
    let cost = &redis.stats().await? - &before;
    let auditor = system.start_node(&env, "auditor").await?;
    let audit = load::audit(auditor.addr, system.cookie(), &outcome.sessions).await;
    auditor.stop().await;

    let requests = outcome.requests().max(1) as f64;
    let (sent, scripted) = commands_sent(&cost);
    let ms = |q: f64| outcome.latency.value_at_quantile(q) as f64 / 1000.0;
    Ok(Measurement {
        workload: workload.id.to_string(),
        system: system.slug().to_string(),
        requests: outcome.requests(),
        errors: outcome.errors,
        error_kinds: outcome.error_kinds.clone(),
        throughput: outcome.ok as f64 / outcome.elapsed.as_secs_f64().max(1e-9),
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
        commands_per_request: sent as f64 / requests,
        script_commands_per_request: scripted as f64 / requests,
        bytes_per_request: cost.net_bytes() as f64 / requests,
        acked_increments: audit.acked,
        lost_updates: audit.lost,
        unreadable_sessions: audit.unreadable,
        reads: outcome.reads,
        stale_reads: outcome.stale_reads,
        sessions: outcome.sessions.len() as u64,
        seconds: outcome.elapsed.as_secs_f64(),
    })
}

/// The workloads `options` selects, with its affinity override applied.
pub fn selected_workloads(options: &Options) -> Vec<Workload> {
    workload::all(options.profile)
        .into_iter()
        .filter(|w| options.workloads.is_empty() || options.workloads.iter().any(|id| id == w.id))
        .map(|mut w| {
            if let Some(a) = options.affinity {
                w.affinity = a;
            }
            w
        })
        .collect()
}

/// A finished run: what was measured and on what.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The workloads run.
    pub workloads: Vec<Workload>,
    /// The systems, in order.
    pub systems: Vec<String>,
    /// App nodes per system.
    pub nodes: usize,
    /// `quick` or `full`.
    pub profile: String,
    /// Redis version.
    pub redis_version: String,
    /// Every measurement, by workload then system.
    pub measurements: Vec<Measurement>,
    /// Wall time of the whole run, seconds.
    pub seconds: f64,
}

/// Runs every selected system on every selected workload, one after another, on one
/// private Redis server. `progress` sees each measurement as it is made.
pub async fn run(
    options: &Options,
    mut progress: impl FnMut(&Workload, &Measurement),
) -> Result<RunReport, BenchError> {
    let started = std::time::Instant::now();
    let redis = RedisServer::start(&options.redis_server).await?;
    let workloads = selected_workloads(options);
    let mut measurements = Vec::new();
    let result = async {
        for w in &workloads {
            for &system in &options.systems {
                let m = measure(&redis, system, w, options).await?;
                progress(w, &m);
                measurements.push(m);
            }
        }
        Ok::<_, BenchError>(())
    }
    .await;
    let redis_version = redis.version().await;
    redis.stop().await;
    result?;
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
        seconds: started.elapsed().as_secs_f64(),
    })
}
