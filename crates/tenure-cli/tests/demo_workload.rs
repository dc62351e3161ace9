//! The demo end to end, in process: nodes, front router, workload, summary.

use std::time::Duration;

use tenure_cli::demo::{Demo, Plan, Report, Setup};
use tenure_core::{Consistency, WritePolicy};

async fn run(mode: Consistency, policy: WritePolicy) -> Report {
    let setup = Setup {
        nodes: 3,
        affinity: 0.5,
        mode,
        policy,
        plan: Plan {
            users: 6,
            requests: 400,
            concurrency: 16,
            seed: 7,
        },
        port: 0,
        store: tenure_cli::stores::StoreUrl::Memory,
        prefix: "tenure".into(),
    };
    let demo = Demo::start(setup).await.expect("demo starts");
    let mut report = demo.run_workload().await;
    demo.shutdown(&mut report).await;
    println!("{report}");
    report
}

fn acknowledged(report: &Report) -> u64 {
    report.outcome.acknowledged.iter().sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exclusive_mode_loses_nothing_and_hands_sessions_between_nodes() {
    for policy in [
        WritePolicy::end_of_request(),
        WritePolicy::every(Duration::from_millis(100)).or_after_updates(5),
    ] {
        let report = run(Consistency::Exclusive, policy).await;
        assert_eq!(report.outcome.requests, 406);
        assert_eq!(
            report.outcome.statuses.get(&200),
            Some(&406),
            "{policy}: {:?}",
            report.outcome.statuses
        );
        assert_eq!(report.lost(), 0, "{policy}");
        assert_eq!(
            report.stored_after_shutdown,
            Some(acknowledged(&report)),
            "{policy}: the store has every increment"
        );
        assert_eq!(report.outcome.per_node.len(), 3, "every node served");
        assert!(
            report
                .stats
                .iter()
                .map(|s| s.recalls + s.forwards)
                .sum::<u64>()
                > 0,
            "requests met sessions held on other nodes (moved, or forwarded to them)"
        );
        assert!(report.to_string().contains(" 0 lost"), "{report}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optimistic_mode_answers_conflicts_and_loses_nothing() {
    let report = run(Consistency::Optimistic, WritePolicy::end_of_request()).await;
    let ok = report.outcome.statuses.get(&200).copied().unwrap_or(0);
    let conflicts = report.outcome.statuses.get(&409).copied().unwrap_or(0);
    assert_eq!(ok + conflicts, 406, "{:?}", report.outcome.statuses);
    assert_eq!(report.lost(), 0);
    assert_eq!(report.stored_after_shutdown, Some(acknowledged(&report)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_writer_wins_reports_what_it_lost() {
    let report = run(Consistency::LastWriterWins, WritePolicy::end_of_request()).await;
    let stored = report.stored_after_shutdown.unwrap();
    assert_eq!(
        acknowledged(&report) - stored,
        report.lost(),
        "lost = acknowledged - stored"
    );
}

#[tokio::test]
async fn write_behind_needs_the_exclusive_mode() {
    let setup = Setup {
        nodes: 1,
        affinity: 1.0,
        mode: Consistency::Optimistic,
        policy: WritePolicy::manual(),
        plan: Plan {
            users: 1,
            requests: 1,
            concurrency: 1,
            seed: 1,
        },
        port: 0,
        store: tenure_cli::stores::StoreUrl::Memory,
        prefix: "tenure".into(),
    };
    let err = Demo::start(setup).await.unwrap_err();
    let text = tenure_cli::errors::describe(&err);
    assert!(
        text.contains("caused by: ") && text.to_lowercase().contains("exclusive"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_errors_are_named_with_their_reason() {
    // One user, 700 requests: about 140 cart additions, so the cart (100 items) fills.
    let setup = Setup {
        nodes: 2,
        affinity: 0.8,
        mode: Consistency::Exclusive,
        policy: WritePolicy::end_of_request(),
        plan: Plan {
            users: 1,
            requests: 700,
            concurrency: 4,
            seed: 5,
        },
        port: 0,
        store: tenure_cli::stores::StoreUrl::Memory,
        prefix: "tenure".into(),
    };
    let demo = Demo::start(setup).await.unwrap();
    let mut report = demo.run_workload().await;
    demo.shutdown(&mut report).await;
    let full = report.outcome.reasons[&400]["the cart is full"];
    assert!(full > 0 && full == report.responses(400), "{report}");
    let summary = report.to_string();
    let line = summary
        .lines()
        .find(|l| l.contains("400 the cart is full"))
        .unwrap_or_else(|| panic!("the 400s are named:\n{summary}"));
    assert!(line.trim_end().ends_with(&full.to_string()), "{line}");
    assert_eq!(report.lost(), 0, "{summary}");
}
