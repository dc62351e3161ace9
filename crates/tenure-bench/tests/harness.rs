//! The harness end to end on a private Redis: every system runs the lost-update
//! workload (d), Tenure loses nothing while last-writer-wins peers lose increments,
//! and the report names every system.

use std::path::PathBuf;
use std::process::Command;

use tenure_bench::report::{self, Provenance};
use tenure_bench::{Options, Profile, System};

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
        nodes: 3,
        affinity: None,
        redis_server: binary,
        seed: 7,
    };
    let report = tenure_bench::run(&options, |_, _| {}).await.unwrap();
    assert_eq!(report.measurements.len(), System::ALL.len());
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
        assert!(
            m.bytes_per_request > 0.0,
            "{}: no Redis traffic counted",
            m.system
        );
        let system: System = m.system.parse().unwrap();
        match system {
            System::TenureExclusive | System::TenureInterval | System::TenureOptimistic => {
                assert_eq!(m.lost_updates, 0, "{}", m.system);
                assert_eq!(m.stale_reads, 0, "{}", m.system);
            }
            // Twenty concurrent read-modify-write requests on one session: a
            // last-writer-wins store cannot keep them all.
            System::TowerRedis | System::TowerMokaRedis | System::ActixRedis => {
                assert!(m.lost_updates > 0, "{}: no lost update seen", m.system);
            }
        }
        if system != System::TenureOptimistic {
            assert_eq!(m.errors, 0, "{}: {:?}", m.system, m.error_kinds);
        }
    }
    let provenance = Provenance {
        commit: "test".into(),
        command: "test".into(),
        date: "today".into(),
        machine: "here".into(),
    };
    let section = report::section(&report, &provenance, &[]);
    assert!(section.starts_with(report::BEGIN) && section.trim_end().ends_with(report::END));
    for s in System::ALL {
        assert!(section.contains(s.label()), "{} missing", s.label());
    }
}
