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
            .expect("the demo announces its URL");
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
