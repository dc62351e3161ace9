//! `tenure-bench`: runs every system on every workload, the affinity sweep and the
//! cluster part, and prints (and optionally writes) the report.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tenure_bench::report::{self, Provenance};
use tenure_bench::{plot, Measurement, Options, Part, Profile, RunReport, System};

/// Side-by-side load harness: Tenure, tower-sessions and actix-session on one Redis
/// (and on a Redis Cluster), against the same app with no store.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Load time per system and workload: quick (2 s; 1 s per sweep point) or full
    /// (15 s; 2 s per sweep point).
    #[arg(long, value_enum, default_value_t = Profile::Full)]
    profile: Profile,
    /// Shorthand for `--profile quick`.
    #[arg(long)]
    quick: bool,
    /// Systems to run, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    systems: Vec<System>,
    /// Workloads to run by id (a to f), comma-separated (default: all). The sweep
    /// runs only with (a), the cluster part only with (a) or (d).
    #[arg(long, value_delimiter = ',')]
    workloads: Vec<String>,
    /// Parts to run, comma-separated: main (every workload on one server), sweep
    /// (workload (a) at affinities 0, 0.5, 0.9, 1.0), cluster ((a) and (d) on a
    /// 3-master Redis Cluster), postgres ((a), (c) and (d) on PostgreSQL). Default:
    /// all.
    #[arg(long, value_enum, value_delimiter = ',')]
    parts: Vec<Part>,
    /// Leaves the affinity sweep out.
    #[arg(long)]
    no_sweep: bool,
    /// Leaves the Redis Cluster part out.
    #[arg(long)]
    no_cluster: bool,
    /// App nodes per system.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=16))]
    nodes: u16,
    /// Overrides every workload's affinity (0 to 1), not the sweep's.
    #[arg(long, value_parser = parse_probability)]
    affinity: Option<f64>,
    /// The redis-server binary to start (a private server on a free port).
    #[arg(long, default_value = "redis-server")]
    redis_server: PathBuf,
    /// The redis-cli binary, which joins the private cluster's nodes.
    #[arg(long, default_value = "redis-cli")]
    redis_cli: PathBuf,
    /// Seed of the client's choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The PostgreSQL server of the postgres part, as a user that may create
    /// databases: the run creates a database of its own there and drops it after.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres_url: String,
    /// Markdown file whose generated section to replace, e.g. docs/BENCHMARKS.md;
    /// results.json and the plots go to a `bench/` folder beside it.
    #[arg(long)]
    report: Option<PathBuf>,
}

fn parse_probability(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("`{s}` is not a probability between 0 and 1")),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let workloads_known: Vec<&str> = tenure_bench::workload::all(Profile::Quick)
        .iter()
        .map(|w| w.id)
        .collect();
    if let Some(w) = cli
        .workloads
        .iter()
        .find(|w| !workloads_known.contains(&w.as_str()))
    {
        eprintln!(
            "unknown workload `{w}`; one of {}",
            workloads_known.join(", ")
        );
        return ExitCode::from(2);
    }
    let options = Options {
        profile: if cli.quick {
            Profile::Quick
        } else {
            cli.profile
        },
        systems: if cli.systems.is_empty() {
            System::ALL.to_vec()
        } else {
            cli.systems.clone()
        },
        workloads: cli.workloads.clone(),
        parts: parts(&cli),
        nodes: usize::from(cli.nodes),
        affinity: cli.affinity,
        redis_server: cli.redis_server.clone(),
        redis_cli: cli.redis_cli.clone(),
        seed: cli.seed,
        postgres_url: cli.postgres_url.clone(),
    };
    // Before the run: the commit that was built, not what the tree became meanwhile.
    let provenance = Provenance {
        commit: run(&["git", "describe", "--always", "--dirty"]),
        command: format!(
            "cargo run --release -p tenure-bench -- {}",
            std::env::args().skip(1).collect::<Vec<_>>().join(" ")
        ),
        date: run(&["date", "-u", "+%Y-%m-%d %H:%M UTC"]),
        machine: machine(),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(tenure_bench::run(&options, |part, w, m| {
        println!("{}", progress_line(part, w.id, m));
    }));
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tenure-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("whole run: {:.0} s", report.seconds);
    if let Some(path) = &cli.report {
        if let Err(e) = write_report(&report, &provenance, path) {
            eprintln!("tenure-bench: {e}");
            return ExitCode::FAILURE;
        }
        println!("report written to {}", path.display());
    }
    ExitCode::SUCCESS
}

/// The parts `cli` selects.
fn parts(cli: &Cli) -> Vec<Part> {
    let chosen = if cli.parts.is_empty() {
        Part::ALL.to_vec()
    } else {
        cli.parts.clone()
    };
    chosen
        .into_iter()
        .filter(|p| !(cli.no_sweep && *p == Part::Sweep || cli.no_cluster && *p == Part::Cluster))
        .collect()
}

/// One measurement, as printed while the run goes.
fn progress_line(part: Part, workload: &str, m: &Measurement) -> String {
    let part = match part {
        Part::Main => String::new(),
        Part::Sweep => format!("sweep {:.1} ", m.affinity),
        Part::Cluster => "cluster ".to_string(),
        Part::Postgres => "postgres ".to_string(),
    };
    let count =
        |x: Option<u64>, n: u64| x.map_or_else(|| "n/a".to_string(), |x| format!("{x}/{n}"));
    format!(
        "{part}({workload}) {:<18} {:>8.0} req/s  p50 {:>7.2} ms  p99 {:>8.2} ms  {:>6.3} cmds/req  {:>9.0} B/req  {:>5.0} µs CPU/req ({:>4.0} store)  errors {}  lost {}  stale {}",
        m.system,
        m.throughput,
        m.p50_ms,
        m.p99_ms,
        m.commands_per_request,
        m.bytes_per_request,
        m.cpu_us_per_request,
        m.redis_cpu_us_per_request,
        m.errors,
        count(m.lost_updates, m.acked_increments),
        count(m.stale_reads, m.reads),
    )
}

fn write_report(
    report: &RunReport,
    provenance: &Provenance,
    path: &std::path::Path,
) -> Result<(), tenure_bench::BenchError> {
    let dir = path
        .parent()
        .map(|p| p.join("bench"))
        .unwrap_or_else(|| PathBuf::from("bench"));
    std::fs::create_dir_all(&dir)?;
    if let Some(pg) = &report.postgres {
        std::fs::write(dir.join("postgres.json"), json(pg)? + "\n")?;
        let section = report::postgres::section(report, pg, provenance);
        report::write_between(
            path,
            &section,
            report::postgres::BEGIN,
            report::postgres::END,
        )?;
    }
    let redis_parts =
        !report.measurements.is_empty() || report.sweep.is_some() || report.cluster.is_some();
    if !redis_parts {
        return Ok(());
    }
    std::fs::write(dir.join("results.json"), json(report)? + "\n")?;
    let mut plots = Vec::new();
    if !report.measurements.is_empty() {
        plot::grouped_bars(
            report,
            &dir.join("throughput.svg"),
            "Throughput per workload (higher is better)",
            "requests/s",
            false,
            |m| m.throughput,
        )?;
        plot::grouped_bars(
            report,
            &dir.join("bytes.svg"),
            "Bytes to and from Redis per request (log scale, lower is better)",
            "bytes/request",
            true,
            |m| m.bytes_per_request,
        )?;
        plots.push(("bench/throughput.svg", "throughput per workload and system"));
        plots.push(("bench/bytes.svg", "bytes to and from Redis per request"));
    }
    let mut sweep_plot = None;
    if let Some(sweep) = &report.sweep {
        plot::sweep_lines(report, sweep, &dir.join("affinity.svg"))?;
        sweep_plot = Some("bench/affinity.svg");
    }
    let section = report::section(report, provenance, &plots, sweep_plot);
    report::write_into(path, &section)
}

/// Pretty JSON of a report or a part of one.
fn json<T: serde::Serialize>(value: &T) -> Result<String, tenure_bench::BenchError> {
    serde_json::to_string_pretty(value).map_err(|e| tenure_bench::BenchError::Report(e.to_string()))
}

/// A command's trimmed output, or `unknown`.
fn run(cmd: &[&str]) -> String {
    std::process::Command::new(cmd[0])
        .args(&cmd[1..])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU".to_string(), |(_, v)| v.trim().to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or("?".to_string(), |kb| format!("{:.0}", kb / 1024.0 / 1024.0));
    format!(
        "{cpu}, {cores} cores, {gib} GiB, Linux {}, {}",
        run(&["uname", "-r"]),
        run(&["rustc", "--version"]),
    )
}
