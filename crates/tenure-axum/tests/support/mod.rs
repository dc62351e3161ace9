//! A loopback server and a tiny browser (one cookie) for the HTTP tests.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;

use axum::Router;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tenure_core::Bytes;

/// Serves `app` on a free loopback port.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    addr
}

/// One client with at most one session cookie, like a browser tab.
#[derive(Clone)]
pub struct Browser {
    pub client: Client<HttpConnector, Full<Bytes>>,
    pub addr: SocketAddr,
    /// The cookie pair it sends, `name=value`.
    pub cookie: Option<String>,
}

/// What came back.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn set_cookie(&self) -> Option<String> {
        self.headers
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().to_string())
    }
}

impl Browser {
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
            addr,
            cookie: None,
        }
    }

    pub async fn send(&mut self, method: Method, path: &str, body: &str) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr));
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        if !body.is_empty() {
            req = req.header("content-type", "application/json");
        }
        let res = self
            .client
            .request(req.body(Full::new(Bytes::from(body.to_string()))).unwrap())
            .await
            .expect("request");
        let (parts, body) = res.into_parts();
        let body = String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap();
        let reply = Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        };
        if let Some(set) = reply.set_cookie() {
            let pair = set.split(';').next().unwrap().trim().to_string();
            self.cookie = if set.contains("Max-Age=0") {
                None
            } else {
                Some(pair)
            };
        }
        reply
    }

    pub async fn post(&mut self, path: &str) -> Reply {
        self.send(Method::POST, path, "").await
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        self.send(Method::GET, path, "").await
    }
}
