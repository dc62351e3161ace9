//! The `tenure` binary itself.

use std::process::Command;

fn tenure() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tenure"))
}

#[test]
fn demo_runs_and_reports_no_lost_updates() {
    let out = tenure()
        .args([
            "demo",
            "--requests",
            "300",
            "--users",
            "4",
            "--concurrency",
            "8",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "requests",
        "responses",
        "served by",
        "increments",
        "store calls",
        "bytes committed",
        "lock handoffs",
    ] {
        assert!(stdout.contains(line), "summary lacks `{line}`:\n{stdout}");
    }
    assert!(stdout.contains(" 0 lost"), "{stdout}");
}

#[test]
fn bad_arguments_are_refused_with_a_message() {
    for args in [
        vec!["demo", "--affinity", "2"],
        vec!["demo", "--nodes", "0"],
        vec!["demo", "--policy", "sometimes"],
        vec!["demo", "--policy", "every=5parsecs"],
        vec!["demo", "--mode", "optimistic", "--policy", "manual"],
    ] {
        let out = tenure().args(&args).output().unwrap();
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(!out.stderr.is_empty(), "{args:?}: no message");
    }
}
