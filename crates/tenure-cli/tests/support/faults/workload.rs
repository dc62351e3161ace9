//! The workload of the fault tests: several sessions, each with a few clients that send
//! `POST /counter` one after another (through the router, or straight to chosen
//! nodes), every request recorded with its start, end and outcome.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tenure_core::{Bytes, SessionId};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// No request waits longer than this; one that would is recorded as
/// [`Outcome::TimedOut`] (and fails the wait bound of the history check).
pub const HARD_TIMEOUT: Duration = Duration::from_secs(60);
/// A client pauses this long after an answer other than 2xx, as a client honouring
/// `Retry-After` would, so a fast failure does not spin.
const BACK_OFF: Duration = Duration::from_millis(20);

/// How one request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// An HTTP answer: its status, the counter it reported (2xx only), the node
    /// that served it (`X-Tenure-Node`) and, for any other status, the start of the
    /// body.
    Answer {
        status: u16,
        value: Option<u64>,
        node: Option<String>,
        /// The node that received it (`X-Tenure-Via`): `node`, or one that
        /// forwarded it there.
        via: Option<String>,
        note: String,
    },
    /// No answer: the connection failed (the error, as text).
    Failed(String),
    /// No answer within [`HARD_TIMEOUT`].
    TimedOut,
}

/// One request of the history.
#[derive(Debug, Clone)]
pub struct Record {
    /// The session's index in [`Workload::sessions`].
    pub session: usize,
    pub start: Instant,
    pub end: Instant,
    pub outcome: Outcome,
}

impl Record {
    /// The counter value of a 2xx answer.
    pub fn acknowledged(&self) -> Option<u64> {
        match &self.outcome {
            Outcome::Answer { status, value, .. } if (200..300).contains(status) => *value,
            _ => None,
        }
    }

    /// The node that answered, if any.
    pub fn node(&self) -> Option<&str> {
        match &self.outcome {
            Outcome::Answer { node, .. } => node.as_deref(),
            _ => None,
        }
    }

    /// The node that received the request from the router, if it answered.
    pub fn via(&self) -> Option<&str> {
        match &self.outcome {
            Outcome::Answer { via, .. } => via.as_deref(),
            _ => None,
        }
    }
}

type Http = Client<HttpConnector, Full<Bytes>>;

/// Sessions under load; [`Workload::stop`] ends it and answers the history.
pub struct Workload {
    /// Each session's cookie (`tenure=ID`) and id.
    pub sessions: Vec<(String, SessionId)>,
    records: Arc<Mutex<Vec<Record>>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
    http: Http,
}

async fn post_counter(
    http: &Http,
    addr: SocketAddr,
    cookie: Option<&str>,
) -> (Outcome, Option<String>) {
    let mut req = Request::post(format!("http://{addr}/counter"));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let req = req.body(Full::new(Bytes::new())).unwrap();
    let call = async {
        let res = http.request(req).await.map_err(|e| format!("{e:?}"))?;
        let status = res.status().as_u16();
        let header = |name: &str| {
            res.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let node = header("x-tenure-node");
        let via = header("x-tenure-via");
        let set_cookie = header("set-cookie").and_then(|c| c.split(';').next().map(str::to_string));
        let body = res
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("{e:?}"))?;
        let body = String::from_utf8_lossy(&body.to_bytes()).into_owned();
        let ok = (200..300).contains(&status);
        let value = ok.then(|| body.trim().parse().ok()).flatten();
        let note = if ok {
            String::new()
        } else {
            body.chars().take(120).collect()
        };
        Ok::<_, String>((
            Outcome::Answer {
                status,
                value,
                node,
                via,
                note,
            },
            set_cookie,
        ))
    };
    match tokio::time::timeout(HARD_TIMEOUT, call).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => (Outcome::Failed(e), None),
        Err(_) => (Outcome::TimedOut, None),
    }
}

impl Workload {
    /// Creates `sessions` sessions through `router` (one increment each, answered
    /// 1), then starts `clients` clients per session sending increments through it.
    pub async fn start(router: SocketAddr, sessions: usize, clients: usize) -> Self {
        let http: Http = Client::builder(TokioExecutor::new()).build_http();
        let records = Arc::new(Mutex::new(Vec::new()));
        let mut created = Vec::new();
        for session in 0..sessions {
            let start = Instant::now();
            let (outcome, cookie) = post_counter(&http, router, None).await;
            let cookie = cookie.unwrap_or_else(|| panic!("a new session: {outcome:?}"));
            let record = Record {
                session,
                start,
                end: Instant::now(),
                outcome,
            };
            assert_eq!(
                record.acknowledged(),
                Some(1),
                "the first increment: {record:?}"
            );
            records.lock().unwrap().push(record);
            let id = SessionId::parse(cookie.split_once('=').unwrap().1).unwrap();
            created.push((cookie, id));
        }
        let mut workload = Self {
            sessions: created,
            records,
            stop: Arc::new(AtomicBool::new(false)),
            tasks: Vec::new(),
            http,
        };
        for _ in 0..clients {
            workload.add_clients(&[router]);
        }
        workload
    }

    /// Adds one client per session that sends its increments to `targets` in turn
    /// (straight to nodes, say, bypassing the router).
    pub fn add_clients(&mut self, targets: &[SocketAddr]) {
        for (session, (cookie, _)) in self.sessions.iter().enumerate() {
            let (http, records, stop) =
                (self.http.clone(), self.records.clone(), self.stop.clone());
            let (cookie, targets) = (cookie.clone(), targets.to_vec());
            self.tasks.push(tokio::spawn(async move {
                for target in targets.iter().cycle() {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let start = Instant::now();
                    let (outcome, _) = post_counter(&http, *target, Some(&cookie)).await;
                    let record = Record {
                        session,
                        start,
                        end: Instant::now(),
                        outcome,
                    };
                    let failed = record.acknowledged().is_none();
                    records.lock().unwrap().push(record);
                    if failed {
                        tokio::time::sleep(BACK_OFF).await;
                    }
                }
            }));
        }
    }

    /// The history so far.
    pub fn records(&self) -> Vec<Record> {
        self.records.lock().unwrap().clone()
    }

    /// Waits (at most `timeout`, panicking after it) until `check` passes on the
    /// history so far.
    pub async fn wait_history(
        &self,
        timeout: Duration,
        what: &str,
        check: impl Fn(&[Record]) -> bool,
    ) {
        let poll = tenure_test::Poll::new(timeout, what);
        loop {
            let done = check(&self.records.lock().unwrap());
            if done {
                return;
            }
            poll.tick().await;
        }
    }

    /// Waits (at most `timeout`) until every session has at least `n` acknowledged
    /// increments that started at or after `since`.
    pub async fn wait_acked(&self, since: Instant, n: usize, timeout: Duration, what: &str) {
        let sessions = self.sessions.len();
        self.wait_history(timeout, what, |records| {
            let mut counts = vec![0usize; sessions];
            for r in records {
                if r.start >= since && r.acknowledged().is_some() {
                    counts[r.session] += 1;
                }
            }
            counts.iter().all(|&c| c >= n)
        })
        .await;
    }

    /// Stops the clients, waits for the requests in flight (each is bounded by
    /// [`HARD_TIMEOUT`]) and answers the whole history.
    pub async fn stop(self) -> Vec<Record> {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.unwrap();
        }
        let records = self.records.lock().unwrap().clone();
        records
    }
}
