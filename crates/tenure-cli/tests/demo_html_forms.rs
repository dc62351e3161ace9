//! The `--serve` page in a browser's shoes: real HTTP through the front router to real
//! axum nodes. Each form post answers 303 See Other to `/`; the page it leads to shows
//! the change, the node that served the post and the nodes' handoffs.

use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tenure_cli::demo::{Demo, Plan, Setup};
use tenure_core::{Bytes, Consistency, WritePolicy};

/// What a browser sends with a form post.
const FORM: &str = "application/x-www-form-urlencoded";
const ACCEPT_HTML: &str = "text/html,application/xhtml+xml,*/*;q=0.8";

struct Browser {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    cookie: Option<String>,
}

struct Reply {
    status: StatusCode,
    node: String,
    location: Option<String>,
    body: String,
}

impl Browser {
    async fn send(&mut self, method: Method, path: &str, form: Option<&str>) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("accept", ACCEPT_HTML);
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        if form.is_some() {
            req = req.header("content-type", FORM);
        }
        let body = Full::new(Bytes::from(form.unwrap_or_default().to_string()));
        let res = self.client.request(req.body(body).unwrap()).await.unwrap();
        let (parts, body) = res.into_parts();
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
        };
        if let Some(set) = header("set-cookie") {
            let pair = set.split(';').next().unwrap().to_string();
            self.cookie = (!set.contains("Max-Age=0")).then_some(pair);
        }
        Reply {
            status: parts.status,
            node: header("x-tenure-node").expect("every response names its node"),
            location: header("location"),
            body: String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap(),
        }
    }

    /// Posts `form` to `path` as a browser does, checks the 303 to `/` and follows it.
    /// Answers the node that served the post and the page.
    async fn submit(&mut self, path: &str, form: &str) -> (String, Reply) {
        let posted = self.send(Method::POST, path, Some(form)).await;
        assert_eq!(
            posted.status,
            StatusCode::SEE_OTHER,
            "{path}: {}",
            posted.body
        );
        assert_eq!(posted.location.as_deref(), Some("/"), "{path}");
        let page = self.send(Method::GET, "/", None).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.body
                .contains(&format!("Served by <b>{}</b>", page.node)),
            "the page names its node: {}",
            page.body
        );
        (posted.node, page)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_redirect_back_to_the_page_which_shows_the_change_and_the_node() {
    let setup = Setup {
        nodes: 3,
        affinity: 0.0, // every request to a random node: forwarded to the holder
        mode: Consistency::Exclusive,
        policy: WritePolicy::end_of_request(),
        plan: Plan {
            users: 0,
            requests: 0,
            concurrency: 1,
            seed: 9,
        },
        port: 0,
        store: tenure_cli::stores::StoreUrl::Memory,
        prefix: "tenure".into(),
    };
    let demo = Demo::start(setup).await.unwrap();
    let mut browser = Browser {
        client: Client::builder(TokioExecutor::new()).build_http(),
        base: format!("http://{}", demo.front),
        cookie: None,
    };

    let first = browser.send(Method::GET, "/", None).await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(first.body.contains("<style>"), "styled inline");
    assert!(!first.body.contains("<link") && !first.body.contains("<script"));
    assert!(first.body.contains("Counter: <b>0</b>"));
    assert!(first.body.contains("method=post action=/counter"));

    let mut posted_by = std::collections::BTreeSet::new();
    for n in 1..=4 {
        let (node, page) = browser.submit("/counter", "").await;
        assert!(
            page.body.contains(&format!("Counter: <b>{n}</b>")),
            "{}",
            page.body
        );
        assert!(
            page.body
                .contains(&format!("counter → {n} — served by {node}")),
            "the page names the node that served the post: {}",
            page.body
        );
        posted_by.insert(node);
    }

    let (node, page) = browser.submit("/cart", "item=apple+pie").await;
    assert!(page.body.contains("<li>apple pie</li>"), "{}", page.body);
    assert!(page.body.contains(&format!(
        "cart + apple pie (1 in the cart) — served by {node}"
    )));

    let before = browser.cookie.clone();
    let (_, page) = browser.submit("/login", "user=ada").await;
    assert_ne!(browser.cookie, before, "login rotates the session id");
    assert!(page.body.contains("<b>ada</b>"), "{}", page.body);
    assert!(
        page.body.contains("Counter: <b>4</b>"),
        "kept across the rotation"
    );

    // The nodes table: every node, the handoffs of all of them.
    for i in 1..=3 {
        assert!(page.body.contains(&format!("node-{i}")), "{}", page.body);
    }
    assert!(page.body.contains("handoffs (recalls)") && page.body.contains("all nodes"));
    let handoffs: u64 = page
        .body
        .split("<tr><th>all nodes</th><td class=n><b>")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .and_then(|n| n.parse().ok())
        .expect("a total of handoffs");
    // Answers name the node that served them: the holder (the others forward to it),
    // or several nodes if the session moved between them.
    if posted_by.len() > 1 {
        assert!(
            handoffs > 0,
            "served by several nodes, so the session moved: {posted_by:?}"
        );
    }

    // A refused form post is a page saying why, not a redirect.
    let refused = browser.send(Method::POST, "/cart", Some("item=")).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused
        .body
        .contains("item must be 1 to 100 printable characters"));
    assert!(refused.body.contains("<a href=/>"));

    let (_, page) = browser.submit("/logout", "").await;
    assert_eq!(browser.cookie, None, "logout clears the cookie");
    assert!(page.body.contains("Counter: <b>0</b>"), "{}", page.body);
    assert!(page.body.contains("not logged in"));

    let mut report = demo.run_workload().await;
    demo.shutdown(&mut report).await;
}

#[tokio::test]
async fn api_clients_keep_their_plain_and_json_answers() {
    let setup = Setup {
        nodes: 1,
        affinity: 1.0,
        mode: Consistency::Exclusive,
        policy: WritePolicy::end_of_request(),
        plan: Plan {
            users: 0,
            requests: 0,
            concurrency: 1,
            seed: 9,
        },
        port: 0,
        store: tenure_cli::stores::StoreUrl::Memory,
        prefix: "tenure".into(),
    };
    let demo = Demo::start(setup).await.unwrap();
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let post = |accept: &'static str, content_type: &'static str, body: &'static str| {
        let req = Request::post(format!("http://{}/cart", demo.front))
            .header("accept", accept)
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        client.request(req)
    };
    let json = post("application/json", FORM, "item=pear").await.unwrap();
    assert_eq!(json.status(), StatusCode::OK);
    let json = post("*/*", "application/json", r#"{"item":"fig"}"#)
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::OK);
    let body = json.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], br#"["fig"]"#);
    let html = post("*/*", FORM, "item=plum").await.unwrap();
    assert_eq!(
        html.status(),
        StatusCode::SEE_OTHER,
        "a bare form post is a browser's"
    );
    let mut report = demo.run_workload().await;
    demo.shutdown(&mut report).await;
}
