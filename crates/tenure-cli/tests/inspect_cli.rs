//! `tenure inspect` against a live node on Redis, and on a private PostgreSQL: lists
//! the session, shows its attributes (decoded), holder, fence and queue, deletes it;
//! lists a user's sessions (`sessions-of`) with their device label; bad input fails
//! clearly.

mod support;

use std::process::Output;

use http::StatusCode;
use support::faults::postgres::PostgresServer;
use support::faults::procs::TempDir;
use support::*;

fn inspect(url: &str, prefix: &str, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tenure"))
        .args(["inspect", "--store", url, "--prefix", prefix])
        .args(args)
        .output()
        .expect("run tenure inspect")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "tenure inspect failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One node on the store at `url` under `prefix`, a session through it, and
/// `tenure inspect` on that store.
async fn lists_shows_and_deletes(url: &str, prefix: &str) {
    let (url, prefix) = (url.to_string(), prefix.to_string());
    let node = NodeProcess::start(&url, &prefix, "node-a", None).await;
    let mut browser = Browser::new();
    for _ in 0..3 {
        assert_eq!(
            browser.send("POST", node.addr, "/counter").await.0,
            StatusCode::OK
        );
    }
    let (status, _) = browser.send("POST", node.addr, "/cart?item=tea").await;
    assert!(status.is_success() || status.is_client_error());
    let cookie = browser.cookie.clone().unwrap();
    let sid = cookie.split_once('=').unwrap().1.to_string();

    let listed = stdout(&inspect(&url, &prefix, &["list"]));
    assert!(listed.contains(&sid), "list shows the session:\n{listed}");
    assert!(listed.contains("1 session(s)"), "{listed}");

    let shown = stdout(&inspect(&url, &prefix, &["show", &sid]));
    assert!(shown.contains(&format!("session   {sid}")), "{shown}");
    assert!(shown.contains("held by node-a"), "the holder:\n{shown}");
    assert!(shown.contains("with fence"), "{shown}");
    assert!(shown.contains("queue     empty"), "{shown}");
    let counter_line = shown
        .lines()
        .find(|l| l.trim_start().starts_with("counter"))
        .unwrap_or_else(|| panic!("no counter attribute:\n{shown}"));
    assert!(
        counter_line.trim_end().ends_with(" 3"),
        "decoded value: {counter_line}"
    );

    let bad = inspect(&url, &prefix, &["show", "not-a-session-id"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not a session id"));

    // A login sets the principal: `sessions-of` lists the session with its device.
    let mut user = Browser::new();
    let login = r#"{"user":"ada","device":"phone"}"#;
    let (status, _) = user
        .send_json("POST", node.addr, "/login", Some(login))
        .await;
    assert_eq!(status, StatusCode::OK);
    let user_sid = user
        .cookie
        .clone()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_string();
    let of = stdout(&inspect(
        &url,
        &prefix,
        &["sessions-of", "ada", "--label", "device"],
    ));
    assert!(of.contains(&user_sid), "{of}");
    assert!(of.contains("label phone"), "{of}");
    assert!(of.contains("1 live session(s) of ada"), "{of}");
    let shown = stdout(&inspect(&url, &prefix, &["show", &user_sid]));
    assert!(shown.contains("principal ada"), "{shown}");
    let none = stdout(&inspect(&url, &prefix, &["sessions-of", "bob"]));
    assert!(none.contains("0 live session(s) of bob"), "{none}");
    let bad = inspect(&url, &prefix, &["sessions-of", ""]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not a principal"));

    // The store's events: both sessions created, the login's principal; then, after
    // the position printed, the deletion.
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tenure"))
            .args(["events", "--store", &url, "--prefix", &prefix])
            .args(args)
            .output()
            .expect("run tenure events")
    };
    let out = run(&[]);
    let printed = stdout(&out);
    assert!(printed.contains(&format!("{sid} created")), "{printed}");
    assert!(
        printed.contains(&format!("{user_sid} created")),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("{user_sid} principal ada")),
        "{printed}"
    );
    let told = String::from_utf8_lossy(&out.stderr).into_owned();
    let last = told
        .split("--after ")
        .nth(1)
        .map(str::trim)
        .unwrap_or_else(|| panic!("no position printed: {told}"))
        .to_string();

    node.stop().await;
    stdout(&inspect(&url, &prefix, &["delete", &user_sid]));
    let later = stdout(&run(&["--after", &last]));
    assert_eq!(
        later.trim(),
        format!(
            "{} {user_sid} deleted",
            later.split(' ').next().unwrap_or("")
        ),
        "{later}"
    );
    let bad = run(&["--after", "yesterday"]);
    assert!(!bad.status.success());
    let deleted = stdout(&inspect(&url, &prefix, &["delete", &sid]));
    assert!(deleted.contains("deleted"), "{deleted}");
    let gone = stdout(&inspect(&url, &prefix, &["show", &sid]));
    assert!(gone.contains("no session"), "{gone}");
    let listed = stdout(&inspect(&url, &prefix, &["list"]));
    assert!(listed.contains("0 session(s)"), "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_lists_shows_and_deletes_a_live_session() {
    let prefix = unique_prefix("inspect");
    let Some(store) = redis(single_url(), &prefix).await else {
        return;
    };
    lists_shows_and_deletes(&single_url().unwrap(), &prefix).await;
    let memory = std::process::Command::new(env!("CARGO_BIN_EXE_tenure"))
        .args(["inspect", "list"])
        .output()
        .unwrap();
    assert!(
        !memory.status.success(),
        "inspect needs a store outside its process"
    );
    store.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_on_postgres() {
    let dir = TempDir::new("inspect-pg");
    let Some(server) = PostgresServer::start(dir.path()).await else {
        return;
    };
    lists_shows_and_deletes(&server.url(), &unique_prefix("inspect")).await;
}
