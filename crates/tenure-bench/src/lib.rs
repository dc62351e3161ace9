//! Side-by-side load harness: the same small app, the same router and the same Redis
//! for Tenure and for the session libraries users would otherwise pick
//! (tower-sessions with its Redis store, with and without its moka cache, and
//! actix-session with its Redis store), and for the limit: the same app with a
//! process-local session and no store. One run measures every system on every
//! workload, sweeps workload (a) over affinities, runs (a) and (d) again on a
//! 3-master Redis Cluster, runs (a), (c) and (d) on PostgreSQL for Tenure's
//! PostgreSQL store and tower-sessions' sqlx one, and writes `docs/BENCHMARKS.md`'s
//! tables, `docs/bench/results.json` (`docs/bench/postgres.json`) and the plots.
//!
//! Run it with `cargo run --release -p tenure-bench -- [--quick]`.

pub mod app;
mod backend;
mod cpu;
pub mod load;
pub mod plot;
pub mod postgres;
pub mod redis_cluster;
pub mod redis_server;
pub mod report;
mod results;
pub mod systems;
mod wire;
pub mod workload;

use std::path::PathBuf;

pub use results::{
    ClusterReport, Measurement, PostgresReport, RunReport, SweepReport, Unsupported,
};
pub use systems::System;
pub use workload::{Profile, Workload};

use backend::{Backend, Cost};
use postgres::PostgresDb;
use redis_cluster::RedisCluster;
use redis_server::RedisServer;
use systems::{Backing, Env, RunningNode};

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
    /// The PostgreSQL part's database could not be set up or read.
    #[error("postgres: {0}")]
    Postgres(String),
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
    /// Workloads (a), (c) and (d) on PostgreSQL: the systems that keep sessions
    /// there, and the limit.
    Postgres,
}

impl Part {
    /// Every part, in run order.
    pub const ALL: [Part; 4] = [Part::Main, Part::Sweep, Part::Cluster, Part::Postgres];

    /// Whether `system` runs in this part: the PostgreSQL systems only in
    /// [`Part::Postgres`], which runs only them and the limit.
    pub fn runs(self, system: System) -> bool {
        match (self, system.backing()) {
            (Part::Postgres, Backing::Redis) => false,
            (Part::Postgres, _) => true,
            (_, Backing::Postgres) => false,
            _ => true,
        }
    }
}

/// The affinities of the sweep.
pub const SWEEP_AFFINITIES: [f64; 4] = [0.0, 0.5, 0.9, 1.0];
/// The workload the sweep varies.
pub const SWEEP_WORKLOAD: &str = "a";
/// The workloads run again on a Redis Cluster.
pub const CLUSTER_WORKLOADS: [&str; 2] = ["a", "d"];
/// The workloads of the PostgreSQL part.
pub const POSTGRES_WORKLOADS: [&str; 3] = ["a", "c", "d"];

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Workload sizes.
    pub profile: Profile,
    /// The systems, in order.
    pub systems: Vec<System>,
    /// The workloads' ids (`a` to `f`); empty: all. The sweep runs only if (a) is
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
    /// The PostgreSQL server of the PostgreSQL part (a user that may create
    /// databases): the run makes a database of its own there.
    pub postgres_url: String,
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

/// Runs one system on one workload on the emptied store of `backend`.
async fn measure(
    backend: Backend<'_>,
    system: System,
    workload: &Workload,
    options: &Options,
) -> Result<Measurement, BenchError> {
    let mut workload = workload.clone();
    if let Some(a) = system.fixed_affinity() {
        workload.affinity = a;
    }
    backend.flush().await?;
    let env = Env::new(backend.url());
    let nodes = start_nodes(system, &env, options.nodes).await?;
    let addrs = nodes.iter().map(|n| n.addr).collect();
    // The limit has no store: nothing of the store to count (the meter's own `INFO`
    // replies would be all there is).
    let counted = !system.is_limit();
    let before = if counted {
        Some(backend.counters(false).await?)
    } else {
        None
    };
    let cpu_before = cpu::process_micros();
    let outcome = load::run(&workload, addrs, system.cookie(), options.seed).await;
    // The stop is inside the measured window: write-behind systems write then.
    stop_all(nodes).await;
    let process_cpu = cpu::process_micros().saturating_sub(cpu_before);
    let cost = match &before {
        Some(before) => Cost::between(before, &backend.counters(true).await?),
        None => Cost::default(),
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
        commands_per_request: cost.sent as f64 / requests,
        script_commands_per_request: cost.scripted as f64 / requests,
        bytes_per_request: cost.bytes as f64 / requests,
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

    let postgres_workloads: Vec<Workload> = if wants(Part::Postgres) {
        selected_workloads(options)
            .into_iter()
            .filter(|w| POSTGRES_WORKLOADS.contains(&w.id))
            .collect()
    } else {
        Vec::new()
    };

    if !cluster_workloads.is_empty() {
        // Fail now, not after the main part and the sweep.
        RedisCluster::check_cli(&options.redis_cli).await?;
    }
    let db = if postgres_workloads.is_empty() {
        None
    } else {
        // Likewise: a server that does not answer fails the run before it starts.
        Some(PostgresDb::start(&options.postgres_url).await?)
    };

    let mut measurements = Vec::new();
    let mut sweep = None;
    let mut redis_version = String::new();
    if !workloads.is_empty() || sweep_workload.is_some() {
        let redis = RedisServer::start(&options.redis_server).await?;
        let (url, meter) = (redis.url(), redis.meter());
        let backend = Backend::Redis { url, meter };
        let result = async {
            for w in &workloads {
                for &system in &options.systems {
                    if !Part::Main.runs(system) || !system.runs_workload(w.id) {
                        continue;
                    }
                    let m = measure(backend, system, w, options).await?;
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
                        if done || !Part::Sweep.runs(system) || !system.runs_workload(w.id) {
                            continue;
                        }
                        let m = measure(backend, system, &w, options).await?;
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
        let backend = Backend::Redis { url, meter };
        let mut points = Vec::new();
        let mut unsupported = Vec::new();
        for &system in &options.systems {
            if !Part::Cluster.runs(system) {
                continue;
            }
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
                    if system.cluster_support().is_err() || !system.runs_workload(w.id) {
                        continue;
                    }
                    let m = measure(backend, system, w, options).await?;
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

    let mut postgres = None;
    if let Some(db) = db {
        let backend = Backend::Postgres(&db);
        let mut points = Vec::new();
        let result = async {
            for w in &postgres_workloads {
                for &system in &options.systems {
                    if !Part::Postgres.runs(system) {
                        continue;
                    }
                    let m = measure(backend, system, w, options).await?;
                    progress(Part::Postgres, w, &m);
                    points.push(m);
                }
            }
            Ok::<_, BenchError>(())
        }
        .await;
        let version = db.version().await;
        db.stop().await;
        result?;
        postgres = Some(PostgresReport {
            version,
            workloads: postgres_workloads,
            measurements: points,
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
        postgres,
        seconds: started.elapsed().as_secs_f64(),
    })
}
