//! The `tenure` binary itself.

use std::process::Command;

fn tenure() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tenure"))
}

/// The cells of the summary row labelled `label` (columns are three spaces apart).
fn row<'a>(summary: &'a str, label: &str) -> Vec<&'a str> {
    let line = summary
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("summary lacks `{label}`:\n{summary}"));
    cells(&line.trim()[label.len()..])
}

fn cells(text: &str) -> Vec<&str> {
    text.split("   ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

/// The column titles: the line after the summary's first.
fn columns(summary: &str) -> Vec<&str> {
    let mut lines = summary
        .lines()
        .skip_while(|l| !l.starts_with("Tenure demo:"));
    cells(lines.nth(1).unwrap_or_default())
}

#[test]
fn demo_prints_both_modes_side_by_side() {
    let out = tenure()
        .args([
            "demo",
            "--requests",
            "300",
            "--users",
            "4",
            "--concurrency",
            "16",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("4 users × 4 tabs (16 requests in flight)"),
        "{stdout}"
    );
    assert_eq!(
        columns(&stdout),
        ["Exclusive", "LastWriterWins"],
        "{stdout}"
    );
    for label in [
        "requests/s",
        "200",
        "node-1",
        "acknowledged",
        "in the final counters",
        "in the store after shutdown",
        "store calls per request",
        "bytes committed per request",
    ] {
        assert_eq!(
            row(&stdout, label).len(),
            2,
            "`{label}` has both columns:\n{stdout}"
        );
    }
    let requests = row(&stdout, "requests");
    assert_eq!(requests, ["304", "304"], "{stdout}");
    let lost = row(&stdout, "lost");
    assert_eq!(
        lost[0], "0 lost",
        "the exclusive mode loses nothing:\n{stdout}"
    );
    assert!(lost[1].contains(" lost"), "{stdout}");
    // Counters a mode never uses show as `—`, not 0.
    assert_eq!(row(&stdout, "lock handoffs (recalls)")[1], "—", "{stdout}");
    assert_eq!(row(&stdout, "near-cache hits")[1], "—", "{stdout}");
    assert_eq!(row(&stdout, "whole-session writes")[0], "—", "{stdout}");
    assert_ne!(row(&stdout, "whole-session writes")[1], "—", "{stdout}");
}

#[test]
fn demo_with_a_mode_runs_that_mode_only() {
    let out = tenure()
        .args([
            "demo",
            "--requests",
            "100",
            "--users",
            "2",
            "--mode",
            "optimistic",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert_eq!(columns(&stdout), ["Optimistic"], "{stdout}");
    assert_eq!(row(&stdout, "lost"), ["0 lost"], "{stdout}");
    assert!(stdout.contains("conflicts (409)"), "{stdout}");
    assert!(!stdout.contains("lock handoffs"), "{stdout}");
}

#[test]
fn errors_print_their_message_and_causes_not_debug() {
    let out = tenure()
        .args(["demo", "--mode", "optimistic", "--policy", "manual"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: the nodes could not start\n  caused by: "),
        "{stderr}"
    );
    assert!(
        stderr.to_lowercase().contains("exclusive consistency mode"),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("caused by: ").count(),
        1,
        "a cause is printed once: {stderr}"
    );
    assert!(
        !stderr.contains("PolicyNeedsExclusive") && !stderr.contains("Config("),
        "no Debug output: {stderr}"
    );
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

#[test]
fn demo_serve_keeps_serving_until_interrupted() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::Stdio;
    use std::sync::mpsc;
    use std::time::Duration;

    let mut child = tenure()
        .args(["demo", "--serve", "--requests", "20", "--users", "2"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let url = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("the demo announces its URL within 120 s");
        if let Some(rest) = line.strip_prefix("Serving at http://") {
            break rest.split('/').next().unwrap().to_string();
        }
    };

    let mut conn = std::net::TcpStream::connect(&url).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        conn,
        "GET / HTTP/1.1\r\nHost: {url}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response
            .to_ascii_lowercase()
            .contains("x-tenure-node: node-"),
        "{response}"
    );
    assert!(response.contains("Tenure demo"));
    assert!(
        response.contains("Served by <b>node-"),
        "the page shows the serving node: {response}"
    );
    assert!(
        response.contains("Counter: <b>0</b>"),
        "the page shows the counter: {response}"
    );

    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) {
        rest.push(line);
    }
    assert!(child.wait().unwrap().success());
    assert!(
        rest.iter().any(|l| l.contains("after shutdown")),
        "{rest:?}"
    );
}

#[test]
fn policy_arguments_parse_or_explain() {
    for (arg, ok) in [
        ("every=2s+updates=20", true),
        ("requests=5+every=500ms", true),
        ("manual", true),
        ("every=2s+end-of-request", false),
        ("every=307445734561825861m", false),
        ("every=-1s", false),
    ] {
        let out = tenure()
            .args(["demo", "--requests", "0", "--users", "1", "--policy", arg])
            .output()
            .unwrap();
        assert_eq!(
            out.status.success(),
            ok,
            "{arg}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
