//! The load generator: an async HTTP client with many sessions and several requests
//! in flight per session, which also plays the load balancer.
//!
//! Routing is the same sticky rule for every system: with probability `affinity` a
//! request goes to the session's sticky node, otherwise to a node picked at random.
//! The sticky node is the one the session's route cookie names, if the app set one
//! ([`ROUTE_COOKIE`](crate::systems::ROUTE_COOKIE), as balancers with app-controlled
//! stickiness honour; only `tenure-routed` sets it), and otherwise the node that
//! answered the session's previous request. The client keeps the books needed to find lost
//! updates (acknowledged increments against the final counter) and stale reads (a
//! read answering less than an increment acknowledged before the read was sent).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tenure_core::sync::lock;

use futures::StreamExt;
use hdrhistogram::Histogram;
use http::Method;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::wire::{http_client, Wire};
use crate::workload::{Op, Workload};

/// Latencies are recorded in microseconds up to this.
const MAX_LATENCY_US: u64 = 60_000_000;
/// Audit reads in flight at once.
const AUDIT_CONCURRENCY: usize = 32;

/// What the client knows about one session.
#[derive(Debug, Default)]
pub struct SessionBook {
    cookie: Mutex<Option<String>>,
    /// The node that answered the previous request, `usize::MAX` before the first.
    home: AtomicUsize,
    /// The node the route cookie names, `usize::MAX` while there is none.
    route: AtomicUsize,
    /// Increments answered with success.
    acked: AtomicU64,
    /// Highest counter value an increment answered.
    max_acked: AtomicU64,
}

impl SessionBook {
    fn new() -> Self {
        Self {
            home: AtomicUsize::new(usize::MAX),
            route: AtomicUsize::new(usize::MAX),
            ..Self::default()
        }
    }

    fn cookie(&self) -> Option<String> {
        lock(&self.cookie).clone()
    }

    /// Increments the system acknowledged on this session.
    pub fn acked(&self) -> u64 {
        self.acked.load(Ordering::Relaxed)
    }
}

/// Counts from one load run.
#[derive(Debug)]
pub struct LoadOutcome {
    /// Requests answered with a 2xx.
    pub ok: u64,
    /// Requests answered otherwise, or not at all.
    pub errors: u64,
    /// `(status or "timeout"/"transport", count)`, most frequent first.
    pub error_kinds: Vec<(String, u64)>,
    /// Wall time of the load.
    pub elapsed: Duration,
    /// Latency of answered requests, microseconds.
    pub latency: Histogram<u64>,
    /// Counter reads answered.
    pub reads: u64,
    /// Reads that missed an increment acknowledged before they were sent.
    pub stale_reads: u64,
    /// Every session the run created.
    pub sessions: Vec<Arc<SessionBook>>,
}

impl LoadOutcome {
    /// Requests sent.
    pub fn requests(&self) -> u64 {
        self.ok + self.errors
    }
}

struct Tally {
    ok: u64,
    errors: Vec<(String, u64)>,
    latency: Histogram<u64>,
    reads: u64,
    stale_reads: u64,
}

impl Tally {
    fn new() -> Self {
        Self {
            ok: 0,
            errors: Vec::new(),
            // Constant bounds within hdrhistogram's limits: this cannot fail.
            latency: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid bounds"),
            reads: 0,
            stale_reads: 0,
        }
    }

    fn error(&mut self, kind: String) {
        self.errors_of(kind, 1);
    }

    fn errors_of(&mut self, kind: String, n: u64) {
        match self.errors.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, m)) => *m += n,
            None => self.errors.push((kind, n)),
        }
    }

    fn absorb(&mut self, other: Tally) {
        self.ok += other.ok;
        self.reads += other.reads;
        self.stale_reads += other.stale_reads;
        let _ = self.latency.add(&other.latency);
        for (kind, n) in other.errors {
            self.errors_of(kind, n);
        }
    }
}

struct Ctx {
    workload: Workload,
    nodes: Vec<SocketAddr>,
    wire: Wire,
    deadline: Instant,
    /// Distinguishes the cart items and notes of different requests.
    serial: AtomicU64,
    sessions: Mutex<Vec<Arc<SessionBook>>>,
}

impl Ctx {
    fn path(&self, op: Op) -> (Method, String) {
        let n = self.serial.fetch_add(1, Ordering::Relaxed);
        match op {
            Op::Read => (Method::GET, "/counter".into()),
            Op::Increment => (Method::POST, "/counter".into()),
            Op::Cart => (Method::POST, format!("/cart?item=item-{n}")),
            // Ten bytes.
            Op::Note => (Method::POST, format!("/note?v={:010}", n % 10_000_000_000)),
            Op::Blob => (Method::POST, format!("/blob?size={}", self.workload.blob)),
            Op::Fill => (
                Method::POST,
                format!("/items/fill?n={}", self.workload.cart_items),
            ),
            // An item spread over the cart by the serial, a quantity that changes.
            Op::Quantity => (
                Method::POST,
                format!("/items/set?i={}&q={}", self.item(n), 2 + n % 1000),
            ),
            Op::Replace => (
                Method::POST,
                format!("/items/replace?i={}&sku=new-{}", self.item(n), n % 100_000),
            ),
        }
    }

    fn item(&self, n: u64) -> u64 {
        n.wrapping_mul(7919) % self.workload.cart_items.max(1) as u64
    }

    fn pick_node(&self, book: &SessionBook, rng: &mut StdRng) -> usize {
        let home = match book.route.load(Ordering::Relaxed) {
            r if r < self.nodes.len() => r,
            _ => book.home.load(Ordering::Relaxed),
        };
        if home < self.nodes.len() && rng.random_bool(self.workload.affinity) {
            home
        } else {
            rng.random_range(0..self.nodes.len())
        }
    }

    /// Sends `op` on `book`'s session and books the answer.
    async fn request(&self, book: &SessionBook, op: Op, rng: &mut StdRng, tally: &mut Tally) {
        let i = self.pick_node(book, rng);
        let (method, path) = self.path(op);
        let floor = book.max_acked.load(Ordering::SeqCst);
        let cookie = book.cookie();
        let route = Some(book.route.load(Ordering::Relaxed)).filter(|r| *r < self.nodes.len());
        let started = Instant::now();
        let answer = self
            .wire
            .send(self.nodes[i], method, &path, cookie.as_deref(), route)
            .await;
        let took = started.elapsed();
        book.home.store(i, Ordering::Relaxed);
        let answer = match answer {
            Ok(a) => a,
            Err(e) => {
                tally.error(format!("{e:?}").to_lowercase());
                return;
            }
        };
        if let Some(c) = answer.cookie {
            *lock(&book.cookie) = Some(c);
        }
        if let Some(r) = answer.route {
            book.route.store(r, Ordering::Relaxed);
        }
        if !answer.status.is_success() {
            tally.error(answer.status.as_u16().to_string());
            return;
        }
        tally.ok += 1;
        let _ = tally
            .latency
            .record((took.as_micros() as u64).clamp(1, MAX_LATENCY_US));
        let value = std::str::from_utf8(&answer.body)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok());
        match (op, value) {
            (Op::Read, Some(v)) => {
                tally.reads += 1;
                if v < floor {
                    tally.stale_reads += 1;
                }
            }
            (Op::Increment, Some(n)) => {
                book.acked.fetch_add(1, Ordering::SeqCst);
                book.max_acked.fetch_max(n, Ordering::SeqCst);
            }
            _ => {}
        }
    }
}

/// Runs `workload` against `nodes` until its duration is over.
pub async fn run(
    workload: &Workload,
    nodes: Vec<SocketAddr>,
    cookie_name: &str,
    seed: u64,
) -> LoadOutcome {
    let started = Instant::now();
    let ctx = Arc::new(Ctx {
        workload: workload.clone(),
        nodes,
        wire: Wire {
            client: http_client(),
            cookie_name: cookie_name.to_string(),
        },
        deadline: started + workload.duration,
        serial: AtomicU64::new(0),
        sessions: Mutex::default(),
    });
    let slots: Vec<_> = (0..workload.sessions)
        .map(|slot| tokio::spawn(run_slot(ctx.clone(), seed ^ (slot as u64) << 20)))
        .collect();
    let mut tally = Tally::new();
    for slot in slots {
        match slot.await {
            Ok(t) => tally.absorb(t),
            Err(_) => tally.error("client task failed".into()),
        }
    }
    let elapsed = started.elapsed();
    let sessions = std::mem::take(&mut *lock(&ctx.sessions));
    let mut error_kinds = tally.errors;
    error_kinds.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    LoadOutcome {
        ok: tally.ok,
        errors: error_kinds.iter().map(|(_, n)| n).sum(),
        error_kinds,
        elapsed,
        latency: tally.latency,
        reads: tally.reads,
        stale_reads: tally.stale_reads,
        sessions,
    }
}

/// One session slot: creates a session, drives it with `in_flight` concurrent
/// request loops, and (with a per-session budget) moves on to a new one.
async fn run_slot(ctx: Arc<Ctx>, seed: u64) -> Tally {
    let mut tally = Tally::new();
    let mut rng = StdRng::seed_from_u64(seed);
    while Instant::now() < ctx.deadline {
        let book = Arc::new(SessionBook::new());
        // The first request creates the session, alone: concurrent first requests
        // would each create one.
        let first = if ctx.workload.blob > 0 {
            Op::Blob
        } else if ctx.workload.cart_items > 0 {
            Op::Fill
        } else {
            Op::Increment
        };
        ctx.request(&book, first, &mut rng, &mut tally).await;
        if book.cookie().is_none() {
            continue;
        }
        lock(&ctx.sessions).push(book.clone());
        let budget = Arc::new(AtomicU64::new(
            ctx.workload
                .requests_per_session
                .map_or(u64::MAX, |n| n.saturating_sub(1)),
        ));
        if ctx.workload.in_flight <= 1 {
            // One loop: run it here, into this slot's tally. A task and a tally (a
            // histogram of a few hundred KB to clear and merge) per session would
            // cost the client more than a short session's requests.
            let seed = rng.random::<u64>();
            drive(&ctx, &book, &budget, seed, &mut tally).await;
        } else {
            let loops: Vec<_> = (0..ctx.workload.in_flight)
                .map(|k| {
                    let seed = rng.random::<u64>() ^ k as u64;
                    let (ctx, book, budget) = (ctx.clone(), book.clone(), budget.clone());
                    tokio::spawn(async move {
                        let mut tally = Tally::new();
                        drive(&ctx, &book, &budget, seed, &mut tally).await;
                        tally
                    })
                })
                .collect();
            for l in loops {
                match l.await {
                    Ok(t) => tally.absorb(t),
                    Err(_) => tally.error("client task failed".into()),
                }
            }
        }
        if ctx.workload.requests_per_session.is_none() {
            break;
        }
    }
    tally
}

async fn drive(ctx: &Ctx, book: &SessionBook, budget: &AtomicU64, seed: u64, tally: &mut Tally) {
    let mut rng = StdRng::seed_from_u64(seed);
    let total = ctx.workload.mix.total().max(1);
    while Instant::now() < ctx.deadline
        && budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    {
        let op = ctx.workload.mix.pick(rng.random_range(0..total));
        ctx.request(book, op, &mut rng, tally).await;
    }
}

/// What the store holds after the run, read through a fresh node.
#[derive(Debug, Default, Clone, Copy)]
pub struct Audit {
    /// Increments acknowledged over all sessions.
    pub acked: u64,
    /// Acknowledged increments missing from the final counters.
    pub lost: u64,
    /// Sessions whose final counter could not be read.
    pub unreadable: u64,
}

/// Reads every session's counter through `node` (a node started after the others
/// stopped, so it has nothing cached) and counts the increments that went missing.
pub async fn audit(node: SocketAddr, cookie_name: &str, sessions: &[Arc<SessionBook>]) -> Audit {
    let wire = &Wire {
        client: http_client(),
        cookie_name: cookie_name.to_string(),
    };
    let counted = futures::stream::iter(sessions.iter().filter(|s| s.acked() > 0))
        .map(|book| async move {
            let cookie = book.cookie();
            for _ in 0..3 {
                if let Ok(a) = wire
                    .send(node, Method::GET, "/counter", cookie.as_deref(), None)
                    .await
                {
                    let value = std::str::from_utf8(&a.body)
                        .ok()
                        .and_then(|s| s.trim().parse::<u64>().ok());
                    if let (true, Some(v)) = (a.status.is_success(), value) {
                        return (book.acked(), Some(v));
                    }
                }
            }
            (book.acked(), None)
        })
        .buffer_unordered(AUDIT_CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    let mut audit = Audit::default();
    for (acked, value) in counted {
        audit.acked += acked;
        match value {
            Some(v) => audit.lost += acked.saturating_sub(v),
            None => audit.unreadable += 1,
        }
    }
    audit
}
