//! The harness end to end on a private Redis: every system runs the lost-update
//! workload (d), Tenure loses nothing while last-writer-wins peers lose increments,
//! the limit runs at affinity 1.0 without an audit, and the report names every
//! system. The cluster part on a private cluster, with the peer that cannot use one
//! listed as such. The PostgreSQL part on a database of its own on the local server:
//! Tenure's PostgreSQL store loses nothing, tower-sessions' sqlx store loses
//! increments, statements and bytes are counted. Then the report's arithmetic on
//! made-up figures: the limit and the fastest peer are found, and the targets read
//! met or missed.

use std::path::PathBuf;
use std::process::Command;

use tenure_bench::report::{self, Provenance, Verdict};
use tenure_bench::{workload, Measurement, Options, Part, Profile, RunReport, SweepReport, System};

fn redis_server() -> Option<PathBuf> {
    let found = Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found && std::env::var("TENURE_REQUIRE_BACKENDS").is_ok_and(|v| v == "1") {
        panic!("redis-server is required (TENURE_REQUIRE_BACKENDS=1) but not found");
    }
    found.then(|| PathBuf::from("redis-server"))
}

fn redis_cli() -> Option<PathBuf> {
    let found = Command::new("redis-cli")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found && std::env::var("TENURE_REQUIRE_BACKENDS").is_ok_and(|v| v == "1") {
        panic!("redis-cli is required (TENURE_REQUIRE_BACKENDS=1) but not found");
    }
    found.then(|| PathBuf::from("redis-cli"))
}

/// The PostgreSQL server of the PostgreSQL part (`TENURE_POSTGRES_URL`, else the
/// local one); `None` (skip) if it does not answer and backends are not required.
async fn postgres_url() -> Option<String> {
    let url = std::env::var("TENURE_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let required = std::env::var("TENURE_REQUIRE_BACKENDS").is_ok_and(|v| v == "1");
    match tenure_postgres::tokio_postgres::connect(&url, tenure_postgres::tokio_postgres::NoTls)
        .await
    {
        Ok(_) => Some(url),
        Err(e) if required => panic!("PostgreSQL at {url} is required: {e}"),
        Err(_) => None,
    }
}

fn provenance() -> Provenance {
    Provenance {
        commit: "test".into(),
        command: "test".into(),
        date: "today".into(),
        machine: "here".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_system_runs_and_only_tenure_keeps_every_increment() {
    let Some(binary) = redis_server() else {
        eprintln!("skipped: no redis-server");
        return;
    };
    let options = Options {
        profile: Profile::Quick,
        systems: System::ALL.to_vec(),
        workloads: vec!["d".into()],
        parts: vec![Part::Main],
        nodes: 3,
        affinity: None,
        redis_server: binary,
        redis_cli: PathBuf::from("redis-cli"),
        seed: 7,
        postgres_url: String::new(),
    };
    let report = tenure_bench::run(&options, |_, _, _| {}).await.unwrap();
    let on_redis: Vec<System> = System::ALL
        .into_iter()
        .filter(|s| Part::Main.runs(*s) && s.runs_workload("d"))
        .collect();
    assert_eq!(report.measurements.len(), on_redis.len());
    assert!(report.sweep.is_none() && report.cluster.is_none());
    for m in &report.measurements {
        assert!(
            m.requests > 100,
            "{}: only {} requests",
            m.system,
            m.requests
        );
        assert!(
            m.acked_increments > 0,
            "{}: no increment acknowledged",
            m.system
        );
        assert_eq!(m.unreadable_sessions, 0, "{}: audit failed", m.system);
        let system: System = m.system.parse().unwrap();
        if system.is_limit() {
            assert_eq!(m.affinity, 1.0, "the limit runs at affinity 1.0");
            assert_eq!(m.lost_updates, None, "the limit is not audited");
            assert_eq!(m.stale_reads, None);
            assert_eq!(m.bytes_per_request, 0.0, "the limit has no store");
        } else {
            assert_eq!(m.affinity, 0.9);
            assert!(
                m.bytes_per_request > 0.0,
                "{}: no Redis traffic counted",
                m.system
            );
        }
        if system.is_tenure() {
            assert_eq!(m.lost_updates, Some(0), "{}", m.system);
            assert_eq!(m.stale_reads, Some(0), "{}", m.system);
        }
        // Twenty concurrent read-modify-write requests on one session: a
        // last-writer-wins store cannot keep them all.
        if system.is_peer() {
            assert!(
                m.lost_updates.is_some_and(|n| n > 0),
                "{}: no lost update seen",
                m.system
            );
        }
        if system != System::TenureOptimistic {
            assert_eq!(m.errors, 0, "{}: {:?}", m.system, m.error_kinds);
        }
    }
    let section = report::section(&report, &provenance(), &[], None);
    assert!(section.starts_with(report::BEGIN) && section.trim_end().ends_with(report::END));
    for s in on_redis {
        assert!(section.contains(s.label()), "{} missing", s.label());
    }
    assert!(
        section.contains("| n/a | n/a |"),
        "the limit's audit columns"
    );
}

/// Workload (f): structural comparison moves a small part of what binary
/// comparison moves, and every request of every system succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_large_cart_runs_and_structural_comparison_sends_patches() {
    let Some(binary) = redis_server() else {
        eprintln!("skipped: no redis-server");
        return;
    };
    let options = Options {
        profile: Profile::Quick,
        // tenure-routed does not run (f): it is skipped, not failed.
        systems: vec![
            System::TenureDefault,
            System::TenureStructural,
            System::TenureRouted,
            System::TowerRedis,
        ],
        workloads: vec!["f".into(), "d".into()],
        parts: vec![Part::Main],
        nodes: 3,
        affinity: None,
        redis_server: binary,
        redis_cli: PathBuf::from("redis-cli"),
        seed: 11,
        postgres_url: String::new(),
    };
    let report = tenure_bench::run(&options, |_, _, _| {}).await.unwrap();
    let f: Vec<&tenure_bench::Measurement> = report
        .measurements
        .iter()
        .filter(|m| m.workload == "f")
        .collect();
    let ran: Vec<&str> = f.iter().map(|m| m.system.as_str()).collect();
    assert_eq!(ran, ["tenure-default", "tenure-structural", "tower-redis"]);
    assert!(!report
        .measurements
        .iter()
        .any(|m| m.workload == "d" && m.system == "tenure-structural"));
    for m in &f {
        assert!(m.requests > 50, "{}: {} requests", m.system, m.requests);
        assert_eq!(m.errors, 0, "{}: {:?}", m.system, m.error_kinds);
    }
    let (binary, structural) = (f[0], f[1]);
    // A 500-item cart of about 50 KB: binary comparison writes it whole per request.
    assert!(
        binary.bytes_per_request > 40_000.0,
        "{}",
        binary.bytes_per_request
    );
    assert!(
        structural.bytes_per_request * 20.0 < binary.bytes_per_request,
        "structural {} B against binary {} B per request",
        structural.bytes_per_request,
        binary.bytes_per_request
    );
    let section = report::section(&report, &provenance(), &[], None);
    assert!(section.contains("Structural comparison (`tenure-structural`) on workload (f)"));
    assert!(section.contains("### (f) one session with a 500-item cart"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_part_runs_on_a_private_cluster() {
    let (Some(server), Some(cli)) = (redis_server(), redis_cli()) else {
        eprintln!("skipped: no redis-server or redis-cli");
        return;
    };
    let options = Options {
        profile: Profile::Quick,
        systems: vec![
            System::TenureDefault,
            System::TowerRedis,
            System::ActixRedis,
        ],
        // (b) is not a cluster workload.
        workloads: vec!["b".into(), "d".into()],
        parts: vec![Part::Cluster],
        nodes: 2,
        affinity: None,
        redis_server: server,
        redis_cli: cli,
        seed: 3,
        postgres_url: String::new(),
    };
    let report = tenure_bench::run(&options, |_, _, _| {}).await.unwrap();
    assert!(report.measurements.is_empty() && report.sweep.is_none());
    let cluster = report.cluster.as_ref().unwrap();
    assert_eq!(cluster.masters, 3);
    assert_eq!(cluster.workloads.len(), 1);
    let ran: Vec<&str> = cluster
        .measurements
        .iter()
        .map(|m| m.system.as_str())
        .collect();
    assert_eq!(ran, ["tenure-default", "tower-redis"]);
    assert_eq!(cluster.unsupported.len(), 1);
    assert_eq!(cluster.unsupported[0].system, "actix-redis");
    for m in &cluster.measurements {
        assert!(m.requests > 100, "{}: {} requests", m.system, m.requests);
        assert!(
            m.commands_per_request > 0.0,
            "{}: nothing counted",
            m.system
        );
        assert_eq!(m.unreadable_sessions, 0, "{}", m.system);
    }
    assert_eq!(cluster.measurements[0].lost_updates, Some(0));
    let section = report::section(&report, &provenance(), &[], None);
    assert!(section.contains("### On a Redis Cluster (3 masters)"));
    assert!(section.contains("| actix-session + Redis | not supported: "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_part_runs_on_a_database_of_its_own() {
    let Some(url) = postgres_url().await else {
        eprintln!("skipped: no PostgreSQL");
        return;
    };
    let options = Options {
        profile: Profile::Quick,
        // The Redis systems do not run in this part.
        systems: vec![
            System::TenurePostgres,
            System::TowerPostgres,
            System::TowerRedis,
        ],
        workloads: vec!["d".into()],
        parts: vec![Part::Postgres],
        nodes: 2,
        affinity: None,
        redis_server: PathBuf::from("redis-server"),
        redis_cli: PathBuf::from("redis-cli"),
        seed: 5,
        postgres_url: url,
    };
    let report = tenure_bench::run(&options, |_, _, _| {}).await.unwrap();
    assert!(report.measurements.is_empty() && report.cluster.is_none());
    let pg = report.postgres.as_ref().unwrap();
    let ran: Vec<&str> = pg.measurements.iter().map(|m| m.system.as_str()).collect();
    assert_eq!(ran, ["tenure-postgres", "tower-postgres"]);
    for m in &pg.measurements {
        assert!(m.requests > 100, "{}: {} requests", m.system, m.requests);
        assert!(
            m.commands_per_request > 0.0,
            "{}: no statement counted",
            m.system
        );
        assert!(m.bytes_per_request > 0.0, "{}: no byte counted", m.system);
        assert_eq!(m.unreadable_sessions, 0, "{}", m.system);
        assert_eq!(m.errors, 0, "{}: {:?}", m.system, m.error_kinds);
    }
    assert_eq!(
        pg.measurements[0].lost_updates,
        Some(0),
        "Tenure on PostgreSQL"
    );
    assert_eq!(pg.measurements[0].stale_reads, Some(0));
    assert!(
        pg.measurements[1].lost_updates.is_some_and(|n| n > 0),
        "tower-sessions' sqlx store, last writer wins: no lost update seen"
    );
    let section = report::postgres::section(&report, pg, &provenance());
    assert!(section.starts_with(report::postgres::BEGIN));
    assert!(section.contains("| Tenure default on PostgreSQL (forwarding on) |"));
    assert!(section.contains("statements/req"));
}

fn fake(w: &str, s: System, throughput: f64, p99_ms: f64) -> Measurement {
    Measurement {
        workload: w.into(),
        system: s.slug().into(),
        affinity: s.fixed_affinity().unwrap_or(0.9),
        throughput,
        p99_ms,
        commands_per_request: 1.0,
        bytes_per_request: 1000.0,
        lost_updates: s.audited().then_some(0),
        stale_reads: s.audited().then_some(0),
        ..Measurement::default()
    }
}

fn fake_report(measurements: Vec<Measurement>) -> RunReport {
    RunReport {
        workloads: workload::all(Profile::Quick),
        systems: System::ALL.iter().map(|s| s.slug().to_string()).collect(),
        nodes: 3,
        profile: "quick".into(),
        redis_version: "7".into(),
        measurements,
        sweep: None,
        cluster: None,
        postgres: None,
        seconds: 1.0,
    }
}

fn cell<'a>(rows: &'a [report::TargetRow], figure: &str, s: System) -> &'a Verdict {
    let row = rows.iter().find(|r| r.figure == figure).unwrap();
    &row.cells.iter().find(|(x, _)| *x == s).unwrap().1
}

#[test]
fn targets_compare_with_the_limit_and_the_fastest_peer() {
    let mut ms = vec![
        fake("a", System::TowerRedis, 20_000.0, 4.0),
        // The fastest peer, whatever its place in the list.
        fake("a", System::ActixRedis, 40_000.0, 3.0),
        fake("a", System::TowerMokaRedis, 30_000.0, 2.0),
        fake("a", System::LimitMemory, 60_000.0, 1.0),
        // 0.875× the limit, 1.31× the peer; p99 1.5× the peer's (3.0, not 2.0).
        fake("a", System::TenureDefault, 52_500.0, 4.5),
        // 0.5× the limit.
        fake("a", System::TenureExclusive, 30_000.0, 10.0),
        fake("a", System::TenureInterval, 52_500.0, 4.5),
    ];
    ms[4].commands_per_request = 0.4;
    ms[6].commands_per_request = 0.06;
    // (d): the interval variant's figure is shown, not judged.
    ms.push(fake("d", System::ActixRedis, 10_000.0, 1.0));
    ms.push(fake("d", System::TenureInterval, 5_000.0, 1.0));
    ms.push(fake("d", System::TenureDefault, 12_000.0, 1.0));
    // (c): a hundredth of tower-sessions' bytes.
    ms.push(Measurement {
        bytes_per_request: 100_000.0,
        ..fake("c", System::TowerRedis, 1.0, 1.0)
    });
    ms.push(Measurement {
        bytes_per_request: 1_000.0,
        ..fake("c", System::TenureDefault, 1.0, 1.0)
    });
    ms.push(Measurement {
        bytes_per_request: 1_001.0,
        ..fake("c", System::TenureExclusive, 1.0, 1.0)
    });
    // One stale read anywhere misses the correctness target.
    ms.push(Measurement {
        stale_reads: Some(1),
        ..fake("b", System::TenureExclusive, 1.0, 1.0)
    });

    assert_eq!(
        report::fastest_peer(&ms, "a").map(|m| m.system.as_str()),
        Some("actix-redis")
    );
    assert_eq!(
        report::limit(&ms, "a").map(|m| m.system.as_str()),
        Some("limit-memory")
    );
    assert!(report::fastest_peer(&ms, "e").is_none());

    let mut r = fake_report(ms);
    let rows = report::targets(&r);
    let met = |f: &str, s: System| cell(&rows, f, s).met();
    assert_eq!(met("(a) throughput", System::TenureDefault), Some(true));
    assert_eq!(met("(a) throughput", System::TenureExclusive), Some(false));
    assert_eq!(met("(a) p99 latency", System::TenureDefault), Some(true));
    assert_eq!(met("(a) p99 latency", System::TenureExclusive), Some(false));
    let cmds = "(a) Redis commands per request";
    assert_eq!(met(cmds, System::TenureDefault), Some(true), "≤ 0.45");
    assert_eq!(met(cmds, System::TenureInterval), Some(false), "≤ 0.05");
    let d = "(d) throughput, end-of-request writes";
    assert_eq!(met(d, System::TenureDefault), Some(true));
    assert!(matches!(
        cell(&rows, d, System::TenureInterval),
        Verdict::Figure(_)
    ));
    assert_eq!(
        met("(c) bytes per request", System::TenureDefault),
        Some(true)
    );
    assert_eq!(
        met("(c) bytes per request", System::TenureExclusive),
        Some(false)
    );
    assert!(matches!(
        cell(&rows, "(e) throughput", System::TenureDefault),
        Verdict::NotRun(_)
    ));
    let lost = "lost updates, stale reads";
    assert_eq!(met(lost, System::TenureDefault), Some(true));
    assert_eq!(met(lost, System::TenureExclusive), Some(false));

    // The sweep's runs count toward the correctness target too.
    r.sweep = Some(SweepReport {
        workload: "a".into(),
        affinities: vec![0.0, 1.0],
        seconds_per_point: 1.0,
        measurements: vec![Measurement {
            lost_updates: Some(2),
            ..fake("a", System::TenureDefault, 1.0, 1.0)
        }],
    });
    let rows = report::targets(&r);
    assert_eq!(cell(&rows, lost, System::TenureDefault).met(), Some(false));

    let section = report::section(&r, &provenance(), &[], Some("bench/affinity.svg"));
    assert!(section.contains("| vs limit | vs fastest peer | vs tower |"));
    assert!(section.contains("Fastest peer: actix-session + Redis, 40,000 req/s"));
    assert!(section.contains("### Affinity sweep"));
    assert!(section.contains("](bench/affinity.svg)"));
}
