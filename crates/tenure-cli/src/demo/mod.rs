//! `tenure demo`: several app-server nodes sharing one store (embedded, or Redis)
//! behind a front router, a concurrent workload through the router, and a summary of
//! what happened.

pub mod app;
pub mod front;
pub mod workload;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use tenure_axum::CookieConfig;
use tenure_core::{Codec, Consistency, MessagePack, WritePolicy};
use tenure_node::{Node, NodeConfig, NodeStats};
use tenure_redis::{Inspector, ServerStats};
use tenure_store::Store;
use tenure_test::{CallCounts, CountingStore};

use crate::stores::{Backend, StoreUrl};

pub use workload::{Outcome, Plan};

/// What to run.
#[derive(Debug, Clone)]
pub struct Setup {
    /// App-server nodes.
    pub nodes: usize,
    /// Probability that a session's next request goes to the node that served its last.
    pub affinity: f64,
    /// Consistency mode of every node.
    pub mode: Consistency,
    /// Write policy of every node.
    pub policy: WritePolicy,
    /// The workload.
    pub plan: Plan,
    /// Port of the front router (0: any free port).
    pub port: u16,
    /// Where the sessions live.
    pub store: StoreUrl,
    /// The Redis key prefix.
    pub prefix: String,
}

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The nodes could not start (for example, a write-behind policy with a mode that
    /// has no held copy).
    #[error("node configuration: {0}")]
    Node(#[from] tenure_node::StartError),
    /// The cookie settings cannot work.
    #[error("cookie settings: {0}")]
    Cookies(#[from] tenure_axum::CookieConfigError),
    /// A port could not be bound.
    #[error("could not listen: {0}")]
    Listen(#[from] std::io::Error),
    /// The store could not be reached.
    #[error("store: {0}")]
    Store(#[from] tenure_redis::ConnectError),
}

/// A running demo: nodes and servers up, workload not yet run.
pub struct Demo {
    setup: Setup,
    backend: Backend,
    store: CountingStore<Arc<dyn Store>>,
    nodes: Vec<Node>,
    node_addrs: Vec<SocketAddr>,
    /// The front router's address.
    pub front: SocketAddr,
}

impl fmt::Debug for Demo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Demo")
            .field("front", &self.front)
            .field("nodes", &self.node_addrs)
            .finish()
    }
}

async fn serve(app: axum::Router, port: u16) -> Result<SocketAddr, std::io::Error> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "server stopped");
        }
    });
    Ok(addr)
}

impl Demo {
    /// Starts the nodes, their servers and the front router.
    pub async fn start(setup: Setup) -> Result<Self, DemoError> {
        let backend = Backend::open(&setup.store, &setup.prefix).await?;
        let store = CountingStore::new(backend.shared());
        let shared: Arc<dyn Store> = Arc::new(store.clone());
        let mut cookies = CookieConfig::default();
        cookies.secure = false; // the demo speaks plain HTTP on loopback
        let mut nodes = Vec::new();
        let mut node_addrs = Vec::new();
        for i in 1..=setup.nodes.max(1) {
            let name = format!("node-{i}");
            let mut config = NodeConfig::default();
            config.label = name.clone();
            config.consistency = setup.mode;
            config.write_policy = setup.policy;
            let node = Node::start(shared.clone(), config).await?;
            node_addrs.push(serve(app::app(node.clone(), &name, cookies.clone())?, 0).await?);
            nodes.push(node);
        }
        let router = front::router(
            node_addrs.clone(),
            setup.affinity,
            cookies.cookie_name(),
            setup.plan.seed,
        );
        let front = serve(router, setup.port).await?;
        Ok(Self {
            setup,
            backend,
            store,
            nodes,
            node_addrs,
            front,
        })
    }

    /// The nodes' own addresses.
    pub fn node_addrs(&self) -> &[SocketAddr] {
        &self.node_addrs
    }

    /// Runs the workload through the front router, then reads every counter back.
    /// Store calls and node counters are taken before the read-back, so the ratios
    /// are per workload request.
    pub async fn run_workload(&self) -> Report {
        let before = self.store.counts();
        let redis_before = self.server_stats().await;
        let mut outcome = workload::run(self.front, self.setup.plan).await;
        let store_calls = self.store.counts() - before;
        let redis = match (redis_before, self.server_stats().await) {
            (Some(before), Some(after)) => Some(&after - &before),
            _ => None,
        };
        let stats = self.nodes.iter().map(Node::stats).collect();
        workload::read_back(self.front, &mut outcome).await;
        Report {
            setup: self.setup.clone(),
            outcome,
            store_calls,
            redis,
            stats,
            stored_after_shutdown: None,
        }
    }

    /// The Redis servers' counters, when the store is Redis.
    async fn server_stats(&self) -> Option<ServerStats> {
        let redis = self.backend.redis()?;
        match redis.server_stats().await {
            Ok(stats) => Some(stats),
            Err(e) => {
                eprintln!("could not read Redis INFO: {e}");
                None
            }
        }
    }

    /// The store the nodes share.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Shuts every node down (writing what they hold) and adds the stored counters to
    /// the report.
    pub async fn shutdown(self, report: &mut Report) {
        for node in &self.nodes {
            if let Err(e) = node.shutdown().await {
                eprintln!("shutdown of {}: {e}", node.owner());
            }
        }
        report.stored_after_shutdown = stored_counters(&self.backend).await;
    }
}

/// The sum of every stored session's counter (under the demo's prefix, on Redis).
async fn stored_counters(backend: &Backend) -> Option<u64> {
    let counter = |bytes: &tenure_core::Bytes| MessagePack.decode::<u64>(bytes).ok();
    match backend {
        Backend::Memory(store) => Some(
            store
                .sessions()
                .iter()
                .filter_map(|(_, snap)| snap.value(app::COUNTER.name()))
                .filter_map(counter)
                .sum(),
        ),
        Backend::Redis(store) => {
            let inspector = Inspector::new(store.clone());
            let mut sum = 0;
            for sid in inspector.list(usize::MAX).await.ok()? {
                if let Some(info) = inspector.show(&sid).await.ok()? {
                    sum += info
                        .attrs
                        .iter()
                        .filter(|a| a.name == app::COUNTER.name())
                        .filter_map(|a| counter(&a.value))
                        .sum::<u64>();
                }
            }
            Some(sum)
        }
    }
}

/// What the demo measured.
#[derive(Debug)]
pub struct Report {
    /// What ran.
    pub setup: Setup,
    /// What the workload saw.
    pub outcome: Outcome,
    /// Store calls made by all nodes.
    pub store_calls: CallCounts,
    /// What the Redis servers counted during the workload, when the store is Redis.
    pub redis: Option<ServerStats>,
    /// Each node's counters.
    pub stats: Vec<NodeStats>,
    /// The counters' sum in the store after shutdown, if shut down.
    pub stored_after_shutdown: Option<u64>,
}

impl Report {
    /// Acknowledged increments missing from the final counters.
    pub fn lost(&self) -> u64 {
        self.outcome.lost()
    }

    fn sum(&self, f: impl Fn(&NodeStats) -> u64) -> u64 {
        self.stats.iter().map(f).sum()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.outcome;
        let s = &self.setup;
        let secs = o.elapsed.as_secs_f64().max(1e-9);
        let requests = o.requests.max(1) as f64;
        let (acked, finals) = o.totals();
        writeln!(
            f,
            "Tenure demo: {} nodes, mode {:?}, policy {}, affinity {:.2}",
            s.nodes, s.mode, s.policy, s.affinity
        )?;
        writeln!(
            f,
            "  requests          {} in {:.2} s ({:.0} req/s), {} users, concurrency {}",
            o.requests,
            secs,
            o.requests as f64 / secs,
            s.plan.users,
            s.plan.concurrency
        )?;
        let statuses: Vec<String> = o
            .statuses
            .iter()
            .map(|(k, v)| {
                if *k == 0 {
                    format!("no reply: {v}")
                } else {
                    format!("{k}: {v}")
                }
            })
            .collect();
        writeln!(f, "  responses         {}", statuses.join(", "))?;
        let nodes: Vec<String> = o
            .per_node
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        writeln!(f, "  served by         {}", nodes.join(", "))?;
        writeln!(
            f,
            "  increments        {acked} acknowledged, {finals} in the final counters, {} lost{}{}",
            self.lost(),
            match o.unacknowledged_stored() {
                0 => String::new(),
                n => format!(", {n} stored but unacknowledged"),
            },
            match o.unknown() {
                0 => String::new(),
                n => format!(" ({n} users unreadable, left out)"),
            },
        )?;
        if let Some(stored) = self.stored_after_shutdown {
            writeln!(f, "  after shutdown    {stored} in the store")?;
        }
        let c = &self.store_calls;
        writeln!(
            f,
            "  store calls       {:.2} per request ({} total: acquire {}, load {}, commit {}, optimistic {}, create {}, renew {})",
            c.total() as f64 / requests, c.total(), c.acquire, c.load, c.commit, c.commit_optimistic, c.create, c.renew
        )?;
        writeln!(
            f,
            "  bytes committed   {:.1} per request",
            self.sum(|n| n.commit_bytes) as f64 / requests
        )?;
        if let Some(r) = &self.redis {
            writeln!(
                f,
                "  redis             {:.3} commands per request sent ({:.2} run inside scripts), {:.0} bytes per request ({:.0} in, {:.0} out)",
                r.client_commands() as f64 / requests,
                r.script_commands() as f64 / requests,
                r.net_bytes() as f64 / requests,
                r.net_input_bytes as f64 / requests,
                r.net_output_bytes as f64 / requests,
            )?;
        }
        writeln!(
            f,
            "  lock handoffs     {} (recalls), cache hits {}, conflicts {}, tenures lost {}",
            self.sum(|n| n.recalls),
            self.sum(|n| n.cache_hits),
            self.sum(|n| n.conflicts),
            self.sum(|n| n.tenure_lost)
        )
    }
}
