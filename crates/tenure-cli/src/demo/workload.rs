//! The built-in workload: simulated users, each with several requests in flight at
//! once (tabs), every request through the front router, no delays between them.
//!
//! The `concurrency` workers are spread evenly over the users: with 16 users and 64
//! workers, each user has 4 tabs that send one request after another. With fewer
//! workers than users, a worker serves a fixed group of users, picking one at random
//! for each request.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tenure_core::sync::lock;

use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tenure_core::Bytes;

use super::app::NODE_HEADER;

/// How much work to do.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Simulated users, each with one session.
    pub users: usize,
    /// Requests after each user's first.
    pub requests: usize,
    /// Requests in flight at once, spread evenly over the users (tabs).
    pub concurrency: usize,
    /// Seed of the random choices.
    pub seed: u64,
}

/// What the workload saw.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Requests sent, the users' first ones included.
    pub requests: u64,
    /// Wall time of the whole run.
    pub elapsed: Duration,
    /// Responses per status code (0: no response).
    pub statuses: BTreeMap<u16, u64>,
    /// Client errors (4xx) per status code and reason (the body's first line).
    pub reasons: BTreeMap<u16, BTreeMap<String, u64>>,
    /// Responses per serving node.
    pub per_node: BTreeMap<String, u64>,
    /// Increments answered 200, per user.
    pub acknowledged: Vec<u64>,
    /// Each user's counter read back at the end; `None` if it could not be read (or
    /// the user's session was never created), so it counts neither as lost nor kept.
    pub final_counters: Vec<Option<u64>>,
    /// Each user's session cookie, if its first request created one.
    cookies: Vec<Option<String>>,
}

impl Outcome {
    fn known(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.acknowledged
            .iter()
            .zip(&self.final_counters)
            .filter_map(|(a, f)| f.map(|f| (*a, f)))
    }

    /// Acknowledged increments that the final counters do not show.
    pub fn lost(&self) -> u64 {
        self.known().map(|(a, f)| a.saturating_sub(f)).sum()
    }

    /// Increments in the final counters that were never acknowledged (stored, but
    /// their response failed); reported apart, never netted against losses.
    pub fn unacknowledged_stored(&self) -> u64 {
        self.known().map(|(a, f)| f.saturating_sub(a)).sum()
    }

    /// Users whose final counter could not be read.
    pub fn unknown(&self) -> usize {
        self.final_counters.iter().filter(|f| f.is_none()).count()
    }

    /// Acknowledged increments and final counters, summed over the users whose
    /// counter was read.
    pub fn totals(&self) -> (u64, u64) {
        self.known().fold((0, 0), |(a, f), (x, y)| (a + x, f + y))
    }
}

struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    front: SocketAddr,
}

struct Reply {
    status: StatusCode,
    node: Option<String>,
    cookie: Option<String>,
    body: String,
}

impl Http {
    async fn send(
        &self,
        method: Method,
        path: &str,
        cookie: Option<&str>,
        json: Option<String>,
    ) -> Option<Reply> {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.front));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        if json.is_some() {
            req = req.header("content-type", "application/json");
        }
        let body = Full::new(Bytes::from(json.unwrap_or_default()));
        let res = self.client.request(req.body(body).ok()?).await.ok()?;
        let (parts, body) = res.into_parts();
        let body = body.collect().await.ok()?.to_bytes();
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        Some(Reply {
            status: parts.status,
            node: header(NODE_HEADER),
            cookie: header("set-cookie").and_then(|c| c.split(';').next().map(str::to_string)),
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

/// Longest reason text kept for a 4xx answer.
const MAX_REASON: usize = 60;

/// What a client error says: its body's first line, shortened.
fn reason(body: &str) -> String {
    let line = body.lines().map(str::trim).find(|l| !l.is_empty());
    let line = line.unwrap_or("(no reason given)");
    match line.char_indices().nth(MAX_REASON) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_string(),
    }
}

#[derive(Default)]
struct Tally {
    sent: AtomicU64,
    statuses: Mutex<BTreeMap<u16, u64>>,
    reasons: Mutex<BTreeMap<u16, BTreeMap<String, u64>>>,
    per_node: Mutex<BTreeMap<String, u64>>,
}

impl Tally {
    fn record(&self, reply: &Option<Reply>) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        let status = reply.as_ref().map_or(0, |r| r.status.as_u16());
        *lock(&self.statuses).entry(status).or_default() += 1;
        if let Some(r) = reply.as_ref().filter(|r| r.status.is_client_error()) {
            *lock(&self.reasons)
                .entry(status)
                .or_default()
                .entry(reason(&r.body))
                .or_default() += 1;
        }
        if let Some(node) = reply.as_ref().and_then(|r| r.node.clone()) {
            *lock(&self.per_node).entry(node).or_default() += 1;
        }
    }
}

/// The users worker `w` of `workers` sends requests for: the workers are spread
/// evenly over the users, so each user has `workers / users` tabs (at least one).
fn users_of(w: usize, workers: usize, users: usize) -> (usize, usize, usize) {
    let groups = users.min(workers).max(1);
    let group = w % groups;
    // Users group, group + groups, group + 2 groups, ...
    let count = users.saturating_sub(group).div_ceil(groups);
    (group, groups, count)
}

/// Runs `plan` against the front router at `front`.
pub async fn run(front: SocketAddr, plan: Plan) -> Outcome {
    let http = Arc::new(Http {
        client: Client::builder(TokioExecutor::new()).build_http(),
        front,
    });
    let tally = Arc::new(Tally::default());
    let started = Instant::now();

    // Each user's first request creates its session.
    let mut cookies = Vec::new();
    let acknowledged: Arc<Vec<AtomicU64>> =
        Arc::new((0..plan.users).map(|_| AtomicU64::new(0)).collect());
    for user in 0..plan.users {
        let reply = http.send(Method::POST, "/counter", None, None).await;
        tally.record(&reply);
        if reply.as_ref().is_some_and(|r| r.status == StatusCode::OK) {
            acknowledged[user].fetch_add(1, Ordering::Relaxed);
        }
        cookies.push(reply.and_then(|r| r.cookie));
    }
    let cookies = Arc::new(cookies);

    let remaining = Arc::new(AtomicUsize::new(plan.requests));
    let workers_n = plan.concurrency.max(1);
    let mut workers = Vec::new();
    for w in 0..workers_n {
        let (http, tally, cookies, acknowledged, remaining) = (
            http.clone(),
            tally.clone(),
            cookies.clone(),
            acknowledged.clone(),
            remaining.clone(),
        );
        let (first, step, count) = users_of(w, workers_n, cookies.len());
        let mut rng = StdRng::seed_from_u64(plan.seed.wrapping_add(w as u64));
        workers.push(tokio::spawn(async move {
            while remaining
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok()
            {
                let user = first + step * rng.random_range(0..count.max(1));
                let Some(cookie) = cookies.get(user).and_then(|c| c.as_deref()) else {
                    // Its session was never created: every request would start anew.
                    tally.record(&None);
                    continue;
                };
                let cookie = Some(cookie);
                let roll: f64 = rng.random();
                let reply = if roll < 0.7 {
                    let reply = http.send(Method::POST, "/counter", cookie, None).await;
                    if reply.as_ref().is_some_and(|r| r.status == StatusCode::OK) {
                        acknowledged[user].fetch_add(1, Ordering::Relaxed);
                    }
                    reply
                } else if roll < 0.9 {
                    let item = format!("{{\"item\":\"item-{}\"}}", rng.random_range(0..1000));
                    http.send(Method::POST, "/cart", cookie, Some(item)).await
                } else {
                    http.send(Method::GET, "/counter", cookie, None).await
                };
                tally.record(&reply);
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
    let elapsed = started.elapsed();

    let tally = Arc::try_unwrap(tally).unwrap_or_default();
    Outcome {
        requests: tally.sent.into_inner(),
        elapsed,
        statuses: tally.statuses.into_inner().unwrap_or_default(),
        reasons: tally.reasons.into_inner().unwrap_or_default(),
        per_node: tally.per_node.into_inner().unwrap_or_default(),
        acknowledged: acknowledged
            .iter()
            .map(|a| a.load(Ordering::Relaxed))
            .collect(),
        final_counters: Vec::new(),
        cookies: Arc::try_unwrap(cookies).unwrap_or_default(),
    }
}

/// Reads every user's counter back through the router (a few tries each).
pub async fn read_back(front: SocketAddr, outcome: &mut Outcome) {
    let http = Http {
        client: Client::builder(TokioExecutor::new()).build_http(),
        front,
    };
    let mut finals = Vec::new();
    for cookie in &outcome.cookies {
        let mut value = None;
        if let Some(cookie) = cookie {
            for _ in 0..3 {
                let reply = http.send(Method::GET, "/counter", Some(cookie), None).await;
                value = reply
                    .filter(|r| r.status == StatusCode::OK)
                    .and_then(|r| r.body.trim().parse().ok());
                if value.is_some() {
                    break;
                }
            }
        }
        finals.push(value);
    }
    outcome.final_counters = finals;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_spread_evenly_over_users() {
        // 16 users, 64 workers: each user has exactly 4 tabs.
        let mut tabs = [0; 16];
        for w in 0..64 {
            let (first, step, count) = users_of(w, 64, 16);
            assert_eq!((step, count), (16, 1));
            tabs[first] += 1;
        }
        assert_eq!(tabs, [4; 16]);
        // 10 users, 4 workers: worker 1 serves users 1, 5 and 9.
        assert_eq!(users_of(1, 4, 10), (1, 4, 3));
        assert_eq!(users_of(3, 4, 10), (3, 4, 2));
        assert_eq!(users_of(0, 4, 0).2, 0);
    }

    #[test]
    fn reasons_are_the_first_line_shortened() {
        assert_eq!(reason("the cart is full"), "the cart is full");
        assert_eq!(reason("\n  conflict on: cart\nmore"), "conflict on: cart");
        assert_eq!(reason(""), "(no reason given)");
        assert_eq!(reason(&"x".repeat(100)).chars().count(), MAX_REASON + 1);
    }
}
