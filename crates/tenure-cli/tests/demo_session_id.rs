//! The demo shows a session id only for a live session: `GET /session` and the page
//! at `/` show no id for a cookie that names no session (never existed, or logged
//! out), and the live session's id when one of several cookies names it. Through the
//! front router, in the exclusive and the last-writer-wins mode.

use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tenure_cli::demo::{Demo, Plan, Setup};
use tenure_core::{Bytes, Consistency, SessionId, WritePolicy};

struct Reply {
    status: StatusCode,
    set_cookie: Option<String>,
    body: String,
}

struct Api {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
}

impl Api {
    /// Sends `cookie` (if any) as the whole `Cookie` header.
    async fn send(&self, method: Method, path: &str, cookie: Option<&str>) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("accept", "application/json");
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        let res = self
            .client
            .request(req.body(Full::new(Bytes::new())).unwrap())
            .await
            .unwrap();
        let (parts, body) = res.into_parts();
        Reply {
            status: parts.status,
            set_cookie: parts
                .headers
                .get("set-cookie")
                .map(|v| v.to_str().unwrap().to_string()),
            body: String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap(),
        }
    }

    /// `GET /session` as JSON.
    async fn session(&self, cookie: &str) -> serde_json::Value {
        let r = self.send(Method::GET, "/session", Some(cookie)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        serde_json::from_str(&r.body).unwrap()
    }

    /// The page at `/`.
    async fn page(&self, cookie: &str) -> String {
        let r = self.send(Method::GET, "/", Some(cookie)).await;
        assert_eq!(r.status, StatusCode::OK);
        r.body
    }
}

async fn demo(mode: Consistency) -> Demo {
    Demo::start(Setup {
        nodes: 3,
        affinity: 0.5,
        mode,
        policy: WritePolicy::end_of_request(),
        plan: Plan {
            users: 0,
            requests: 0,
            concurrency: 1,
            seed: 5,
        },
        port: 0,
        store: tenure_cli::stores::StoreUrl::Memory,
        prefix: "tenure".into(),
    })
    .await
    .unwrap()
}

/// What the demo shows for `id`: its first characters.
fn shown(id: &SessionId) -> String {
    format!("{}…", id.prefix())
}

#[tokio::test]
async fn only_a_live_session_has_its_id_shown() {
    for mode in [Consistency::Exclusive, Consistency::LastWriterWins] {
        let demo = demo(mode).await;
        let c = Api {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: format!("http://{}", demo.front),
        };

        // A well-formed id that names no session: no id, and the cookie is cleared.
        let unknown = SessionId::generate().unwrap();
        let cookie = format!("tenure={unknown}");
        let r = c.send(Method::GET, "/session", Some(&cookie)).await;
        let session: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(
            session["id"],
            serde_json::Value::Null,
            "{mode:?}: {session}"
        );
        assert_eq!(session["counter"], 0);
        let cleared = r.set_cookie.expect("the dead cookie is cleared");
        assert!(cleared.contains("Max-Age=0"), "{cleared}");
        let page = c.page(&cookie).await;
        assert!(page.contains("(none yet)"), "{mode:?}: {page}");
        assert!(
            !page.contains(unknown.prefix()),
            "{mode:?}: no id on the page"
        );

        // A live session shows its id's first characters.
        let r = c.send(Method::POST, "/counter", None).await;
        let set = r.set_cookie.expect("a new session's cookie");
        let live_pair = set.split(';').next().unwrap().to_string();
        let live = SessionId::parse(live_pair.split_once('=').unwrap().1).unwrap();
        let session = c.session(&live_pair).await;
        assert_eq!(session["id"], shown(&live), "{mode:?}");
        assert!(c.page(&live_pair).await.contains(&shown(&live)), "{mode:?}");

        // A dead cookie before the live one: the live one's id.
        let both = format!("{cookie}; {live_pair}");
        let session = c.session(&both).await;
        assert_eq!(session["id"], shown(&live), "{mode:?}: {session}");
        assert_eq!(session["counter"], 1, "{mode:?}");

        // Logged out: the old cookie names no session any more.
        let r = c.send(Method::POST, "/logout", Some(&live_pair)).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        let session = c.session(&live_pair).await;
        assert_eq!(
            session["id"],
            serde_json::Value::Null,
            "{mode:?}: {session}"
        );
        let page = c.page(&live_pair).await;
        assert!(page.contains("(none yet)") && !page.contains(live.prefix()));

        let mut report = demo.run_workload().await;
        demo.shutdown(&mut report).await;
    }
}
