//! The demo app's HTTP API, as documented in README.md, through the front router.

use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tenure_cli::demo::{Demo, Plan, Setup};
use tenure_core::{Bytes, Consistency, WritePolicy};

struct Tab {
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    base: String,
    cookie: Option<String>,
}

struct Reply {
    status: StatusCode,
    node: String,
    set_cookie: Option<String>,
    body: String,
}

impl Tab {
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: &str,
    ) -> Reply {
        self.send_with(method, path, content_type, None, body).await
    }

    async fn send_with(
        &mut self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        accept: Option<&str>,
        body: &str,
    ) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(a) = accept {
            req = req.header("accept", a);
        }
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        if let Some(t) = content_type {
            req = req.header("content-type", t);
        }
        let res = self
            .client
            .request(req.body(Full::new(Bytes::from(body.to_string()))).unwrap())
            .await
            .unwrap();
        let (parts, body) = res.into_parts();
        let set_cookie = parts
            .headers
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().to_string());
        if let Some(set) = &set_cookie {
            let pair = set.split(';').next().unwrap().to_string();
            self.cookie = if set.contains("Max-Age=0") {
                None
            } else {
                Some(pair)
            };
        }
        Reply {
            status: parts.status,
            node: parts
                .headers
                .get("x-tenure-node")
                .expect("every response names its node")
                .to_str()
                .unwrap()
                .into(),
            set_cookie,
            body: String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap(),
        }
    }
}

#[tokio::test]
async fn the_demo_api_works_through_the_router() {
    let setup = Setup {
        nodes: 3,
        affinity: 0.0, // every request to a random node: forwarded to the holder
        mode: Consistency::Exclusive,
        policy: WritePolicy::end_of_request(),
        plan: Plan {
            users: 1,
            requests: 0,
            concurrency: 1,
            seed: 3,
        },
        port: 0,
        store: tenure_cli::stores::StoreUrl::Memory,
        prefix: "tenure".into(),
    };
    let demo = Demo::start(setup).await.unwrap();
    let mut tab = Tab {
        client: Client::builder(TokioExecutor::new()).build_http(),
        base: format!("http://{}", demo.front),
        cookie: None,
    };

    let mut nodes = std::collections::BTreeSet::new();
    for n in 1..=6 {
        let r = tab.send(Method::POST, "/counter", None, "").await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (StatusCode::OK, n.to_string().as_str())
        );
        nodes.insert(r.node);
    }
    // The router spread them; the nodes that got them forwarded them to the holder,
    // which served them all (its name is on every answer).
    assert_eq!(nodes.len(), 1, "served by the holder: {nodes:?}");
    let forwards: u64 = demo.node_stats().iter().map(|s| s.forwards).sum();
    assert!(
        forwards > 0,
        "some requests reached another node and were forwarded"
    );
    assert_eq!(tab.send(Method::GET, "/counter", None, "").await.body, "6");

    // A form body from an API client that asks for JSON gets JSON (a browser's form
    // post gets 303 back to the page: tests/demo_html_forms.rs).
    let r = tab
        .send_with(
            Method::POST,
            "/cart",
            Some("application/x-www-form-urlencoded"),
            Some("application/json"),
            "item=apple",
        )
        .await;
    assert_eq!(r.body, r#"["apple"]"#);
    let r = tab
        .send(
            Method::POST,
            "/cart",
            Some("application/json"),
            r#"{"item":"pear"}"#,
        )
        .await;
    assert_eq!(r.body, r#"["apple","pear"]"#);
    assert_eq!(
        tab.send(Method::GET, "/cart", None, "").await.body,
        r#"["apple","pear"]"#
    );
    let r = tab
        .send(
            Method::POST,
            "/cart",
            Some("application/json"),
            r#"{"item":""}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = tab
        .send(Method::POST, "/cart", Some("application/json"), "not json")
        .await;
    assert!(r.status.is_client_error());

    let page = tab.send(Method::GET, "/", None, "").await;
    assert!(
        page.body
            .contains(&format!("Served by <b>{}</b>", page.node)),
        "{}",
        page.body
    );
    assert!(page.body.contains("Counter: <b>6</b>") && page.body.contains("<li>pear</li>"));

    let before = tab.cookie.clone();
    let r = tab
        .send(
            Method::POST,
            "/login",
            Some("application/json"),
            r#"{"user":"ada"}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.set_cookie.is_some() && tab.cookie != before,
        "login rotates the id"
    );
    let session: serde_json::Value =
        serde_json::from_str(&tab.send(Method::GET, "/session", None, "").await.body).unwrap();
    assert_eq!(session["user"], "ada");
    assert_eq!(session["principal"], "ada", "login sets the principal");
    assert_eq!(session["counter"], 6);
    assert_eq!(session["cart"], serde_json::json!(["apple", "pear"]));
    assert!(
        session["id"].as_str().unwrap().ends_with('…'),
        "only the id's first characters are shown"
    );

    let r = tab.send(Method::POST, "/logout", None, "").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(tab.cookie, None);
    assert_eq!(tab.send(Method::GET, "/counter", None, "").await.body, "0");

    // Two devices of one user: listed, then logged out everywhere from one of them.
    let r = tab.send(Method::GET, "/devices", None, "").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "not logged in");
    let mut other = Tab {
        client: Client::builder(TokioExecutor::new()).build_http(),
        base: format!("http://{}", demo.front),
        cookie: None,
    };
    for (t, device) in [(&mut tab, "phone <1>"), (&mut other, "tablet")] {
        let body = serde_json::json!({ "user": "bea", "device": device }).to_string();
        let r = t
            .send(Method::POST, "/login", Some("application/json"), &body)
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(t.send(Method::POST, "/counter", None, "").await.body, "1");
    }
    let listed: serde_json::Value =
        serde_json::from_str(&tab.send(Method::GET, "/devices", None, "").await.body).unwrap();
    assert_eq!(listed["user"], "bea");
    let sessions = listed["sessions"].as_array().unwrap();
    let mut devices: Vec<&str> = sessions
        .iter()
        .map(|s| s["device"].as_str().unwrap())
        .collect();
    devices.sort();
    assert_eq!(devices, ["phone <1>", "tablet"]);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let page = tab
        .send_with(Method::GET, "/devices", None, Some("text/html"), "")
        .await;
    assert!(page.body.contains("phone &lt;1&gt;") && page.body.contains("Log out everywhere"));
    let r = other
        .send(Method::POST, "/logout-everywhere", None, "")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let ended: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(ended["ended"], 2);
    for t in [&mut tab, &mut other] {
        let session: serde_json::Value =
            serde_json::from_str(&t.send(Method::GET, "/session", None, "").await.body).unwrap();
        assert_eq!(session["counter"], 0, "a logged-out device found its data");
        assert!(session["principal"].is_null());
    }
    let mut report = demo.run_workload().await;
    demo.shutdown(&mut report).await;
}
