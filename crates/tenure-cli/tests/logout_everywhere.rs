//! "Log out everywhere" over HTTP (issue 15), with three `tenure serve` processes on
//! one Redis: a user logged in on each node (each node holding that session), with
//! `POST /counter` requests on all three sessions in flight, logs out everywhere from
//! a fifth session (a fourth is held by a node with no request on it). Afterwards every one of the old cookies starts a new session on
//! every node, none of the old sessions is at the store (also after the nodes stop
//! and write back what they hold), so no write from a request in flight reappears;
//! another user's session is untouched. `GET /devices` lists the sessions with their
//! devices before, and only what is left after.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use http::StatusCode;
use support::*;
use tenure_redis::Inspector;
use tenure_store::Inspect as _;

/// The stored counter of `sid`, read without touching the session.
async fn stored_counter(
    store: &tenure_redis::RedisStore,
    sid: &tenure_core::SessionId,
) -> Option<u64> {
    use tenure_core::Codec;
    let info = Inspector::new(store.clone()).show(sid).await.unwrap()?;
    let attr = info.attrs.iter().find(|a| a.name == "counter")?;
    tenure_core::MessagePack.decode(&attr.value).ok()
}

/// The session id in a `tenure=ID` cookie pair.
fn session_of(cookie: &str) -> tenure_core::SessionId {
    tenure_core::SessionId::parse(cookie.split_once('=').unwrap().1).unwrap()
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

async fn login(b: &mut Browser, node: &NodeProcess, user: &str, device: &str) {
    let body = serde_json::json!({ "user": user, "device": device }).to_string();
    let (status, text) = b.send_json("POST", node.addr, "/login", Some(&body)).await;
    assert_eq!(status, StatusCode::OK, "login: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_everywhere_ends_every_session_of_the_user_on_every_node() {
    let prefix = unique_prefix("logout-all");
    let Some(store) = redis(single_url(), &prefix).await else {
        return;
    };
    let url = single_url().unwrap();
    let mut nodes = Vec::new();
    for i in 0..3 {
        nodes.push(NodeProcess::start(&url, &prefix, &format!("node-{i}"), None).await);
    }

    // One session per node, each held by that node (it served the login and an
    // increment).
    let mut browsers = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let mut b = Browser::new();
        login(&mut b, node, "ada", &format!("device {i}")).await;
        let (status, n) = b.send("POST", node.addr, "/counter").await;
        assert_eq!((status, n.as_str()), (StatusCode::OK, "1"));
        browsers.push(b);
    }
    // A fourth, held by node 1 with no request on it: its holder must learn of the
    // logout from the store, not from a failed write.
    let mut idle = Browser::new();
    login(&mut idle, &nodes[1], "ada", "idle tablet").await;
    let (status, _) = idle.send("POST", nodes[1].addr, "/counter").await;
    assert_eq!(status, StatusCode::OK);
    let mut bob = Browser::new();
    login(&mut bob, &nodes[1], "bob", "bob's phone").await;
    let idle_cookie = idle.cookie.clone().unwrap();
    let old: Vec<String> = browsers.iter().map(|b| b.cookie.clone().unwrap()).collect();

    let (status, body) = browsers[0].send("GET", nodes[1].addr, "/devices").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed = json(&body);
    let mut devices: Vec<String> = listed["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["device"].as_str().unwrap().to_string())
        .collect();
    devices.sort();
    assert_eq!(devices, ["device 0", "device 1", "device 2", "idle tablet"]);
    let current: Vec<bool> = listed["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["current"].as_bool().unwrap())
        .collect();
    assert_eq!(current.iter().filter(|c| **c).count(), 1, "{body}");

    // Requests on the three sessions, in flight until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for (b, node) in browsers.iter().zip(&nodes) {
        let (mut b, addr, stop) = (b.clone(), node.addr, stop.clone());
        load.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                statuses.push(b.send("POST", addr, "/counter").await.0);
            }
            statuses
        }));
    }
    // Let each loop have at least one request in flight.
    tenure_test::wait_until(
        std::time::Duration::from_secs(10),
        "requests on every session",
        || {
            let store = store.clone();
            let cookies = old.clone();
            async move {
                for c in &cookies {
                    let sid = session_of(c);
                    if stored_counter(&store, &sid).await.unwrap_or(0) < 2 {
                        return false;
                    }
                }
                true
            }
        },
    )
    .await;

    let mut admin = Browser::new();
    login(&mut admin, &nodes[2], "ada", "admin").await;
    let (status, body) = admin
        .send("POST", nodes[2].addr, "/logout-everywhere")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["ended"], 5, "{body}");

    stop.store(true, Ordering::Relaxed);
    for task in load {
        for status in task.await.unwrap() {
            assert!(
                matches!(
                    status,
                    StatusCode::OK | StatusCode::CONFLICT | StatusCode::SERVICE_UNAVAILABLE
                ),
                "an in-flight request answered {status}"
            );
        }
    }

    // The idle session first, on its holder, before anything else touches it.
    let (status, body) = idle.send("GET", nodes[1].addr, "/session").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        json(&body)["counter"],
        0,
        "the holder served an ended session from its copy: {body}"
    );
    let mut old = old;
    old.push(idle_cookie);
    let inspector = Inspector::new(store.clone());
    for cookie in &old {
        let sid = session_of(cookie);
        assert!(
            inspector.show(&sid).await.unwrap().is_none(),
            "an ended session is at the store"
        );
        for node in &nodes {
            let mut b = Browser::new();
            b.cookie = Some(cookie.clone());
            let (status, body) = b.send("GET", node.addr, "/session").await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let shown = json(&body);
            assert_eq!(
                shown["counter"], 0,
                "{}: an old cookie found data: {body}",
                node.name
            );
            assert!(
                shown["id"].is_null(),
                "{}: an old cookie named a live session: {body}",
                node.name
            );
            assert!(shown["principal"].is_null(), "{body}");
        }
    }
    // The admin session went too; bob's did not.
    let (status, _) = admin.send("GET", nodes[0].addr, "/devices").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = bob.send("GET", nodes[0].addr, "/devices").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        json(&body)["sessions"].as_array().unwrap().len(),
        1,
        "{body}"
    );

    // Stopping writes back what the nodes hold: none of it is an old session.
    for node in nodes {
        node.stop().await;
    }
    for cookie in &old {
        let sid = session_of(cookie);
        assert!(
            inspector.show(&sid).await.unwrap().is_none(),
            "a write came back after the nodes stopped"
        );
    }
    for sid in inspector.list(usize::MAX).await.unwrap() {
        inspector.delete(&sid).await.unwrap();
    }
    store.quit().await;
}
