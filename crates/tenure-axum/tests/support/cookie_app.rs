//! A counter app for the tests of several same-name cookies: a session layer with the
//! chosen cookie protection and consistency mode, on a store that counts its calls.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::routing::post;
use axum::Router;
use tenure_axum::{CookieConfig, Key, Protection, Session, SessionFailure, SessionLayer};
use tenure_core::SessionId;
use tenure_node::{Consistency, Node, NodeConfig, SessionExpiry};
use tenure_store::MemoryStore;
use tenure_test::CountingStore;

use crate::support::{serve, Browser, Reply};

async fn bump(session: Session) -> Result<String, SessionFailure> {
    let mut n = session.get_mut_or_insert_with("n", || 0u64).await?;
    *n += 1;
    Ok(n.to_string())
}

async fn read(session: Session) -> Result<String, SessionFailure> {
    Ok(session.get::<u64>("n").await?.unwrap_or(0).to_string())
}

async fn logout(session: Session) -> Result<&'static str, SessionFailure> {
    session.delete().await?;
    Ok("bye")
}

/// Makes the session end at a time already past: it is expired from then on.
async fn expire(session: Session) -> Result<&'static str, SessionFailure> {
    let past = SystemTime::now() - Duration::from_secs(60);
    session.set_expiry(SessionExpiry::AtDateTime(past)).await?;
    Ok("expired")
}

/// The plain, signed and private protections, each with a fresh key.
pub fn protections() -> Vec<Protection> {
    let key = Key::generate();
    vec![
        Protection::Plain,
        Protection::Signed(vec![key.clone()]),
        Protection::Private(vec![key]),
    ]
}

/// The app on a loopback port.
pub struct CookieApp {
    pub addr: SocketAddr,
    pub store: CountingStore<MemoryStore>,
    /// The layer's cookie settings (name `tenure`, not secure), to seal ids with.
    pub cookies: CookieConfig,
}

impl CookieApp {
    pub async fn start(protection: Protection, consistency: Consistency) -> Self {
        let store = CountingStore::new(MemoryStore::new());
        let config = NodeConfig::new().with_consistency(consistency);
        let node = Node::start(Arc::new(store.clone()), config).await.unwrap();
        let mut cookies = CookieConfig::default();
        cookies.secure = false;
        cookies.protection = protection;
        let app = Router::new()
            .route("/n", post(bump).get(read))
            .route("/logout", post(logout))
            .route("/expire", post(expire))
            .layer(
                SessionLayer::new(node)
                    .with_cookies(cookies.clone())
                    .unwrap(),
            );
        Self {
            addr: serve(app).await,
            store,
            cookies,
        }
    }

    /// A browser whose session's counter is at `n` (its cookie pair in `cookie`).
    pub async fn session_at(&self, n: u64) -> Browser {
        let mut b = Browser::new(self.addr);
        for i in 1..=n {
            assert_eq!(b.post("/n").await.body, i.to_string());
        }
        b
    }

    /// The cookie pair the layer would hand out for `id` (signed or sealed as
    /// configured): for ids that name no session.
    pub fn pair_for(&self, id: &SessionId) -> String {
        let c = self.cookies.cookie_for(id);
        format!("{}={}", c.name(), c.value())
    }

    /// A pair for a well-formed (verifying) id that names no session.
    pub fn unknown_pair(&self) -> String {
        self.pair_for(&SessionId::generate().unwrap())
    }

    /// Sends `cookie` as the whole `Cookie` header.
    pub async fn send(&self, cookie: &str, method: http::Method, path: &str) -> Reply {
        let mut b = Browser::new(self.addr);
        b.cookie = Some(cookie.to_string());
        b.send(method, path, "").await
    }

    pub async fn post(&self, cookie: &str, path: &str) -> Reply {
        self.send(cookie, http::Method::POST, path).await
    }

    pub async fn get(&self, cookie: &str, path: &str) -> Reply {
        self.send(cookie, http::Method::GET, path).await
    }

    /// Store calls so far that requests cause (renewals and hints, which run on the
    /// node's own clock, left out).
    pub fn request_calls(&self) -> u64 {
        let c = self.store.counts();
        c.total() - c.renew - c.hints
    }

    /// The store calls `f` causes.
    pub async fn calls_of<F: std::future::Future<Output = Reply>>(&self, f: F) -> (Reply, u64) {
        let before = self.request_calls();
        let reply = f.await;
        (reply, self.request_calls() - before)
    }
}

/// The cookie pair a `Set-Cookie` value sets.
pub fn pair_of(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().trim().to_string()
}

/// `value` with its first character changed: a forged signature or ciphertext.
pub fn forged(pair: &str) -> String {
    let (name, value) = pair.split_once('=').unwrap();
    let mut bytes = value.as_bytes().to_vec();
    bytes[0] = if bytes[0] == b'A' { b'B' } else { b'A' };
    format!("{name}={}", String::from_utf8(bytes).unwrap())
}
