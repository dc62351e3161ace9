//! `tenure demo`: several app-server nodes sharing one store (embedded, or Redis)
//! behind a front router, a concurrent workload through the router, and a summary of
//! what happened.

pub mod app;
pub mod compare;
pub mod devices;
pub mod front;
pub mod page;
pub mod remote;
pub mod report;
mod table;
pub mod upstream;
pub mod workload;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tenure_core::{Codec, Consistency, MessagePack, WritePolicy};
use tenure_node::{Node, NodeConfig};
use tenure_redis::ServerStats;
use tenure_store::Store;
use tenure_test::CountingStore;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::serve::{bind, listen_with, plain_http_cookies, serve_on};
use crate::stores::{Backend, StoreUrl};
use tenure_axum::serve::ServerLimits;

pub use compare::{compare, mode_prefix};
pub use report::{Counter, Report};
pub use table::Summary;
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

/// Why the demo could not run. The cause is the error's
/// [`source`](std::error::Error::source), not part of its message.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The nodes could not start (for example, a write-behind policy with a mode that
    /// has no held copy).
    #[error("the nodes could not start")]
    Node(#[from] tenure_node::StartError),
    /// The cookie settings cannot work.
    #[error("the cookie settings cannot work")]
    Cookies(#[from] tenure_axum::CookieConfigError),
    /// A port could not be bound.
    #[error("could not listen on a port")]
    Listen(#[from] std::io::Error),
    /// The store could not be reached.
    #[error("could not open the store")]
    Store(#[from] crate::stores::OpenError),
}

/// How much longer than the servers' shutdown timeout [`Demo::shutdown`] waits for
/// one to stop (it cuts its connections at the timeout).
const SERVER_STOP_MARGIN: Duration = Duration::from_secs(2);

/// A running demo: nodes and servers up, workload not yet run.
pub struct Demo {
    setup: Setup,
    backend: Backend,
    store: CountingStore<Arc<dyn Store>>,
    nodes: Vec<Node>,
    node_addrs: Vec<SocketAddr>,
    /// Tells every server to stop.
    stop: watch::Sender<bool>,
    servers: Vec<JoinHandle<()>>,
    /// How long [`Demo::shutdown`] waits for each server.
    server_stop: Duration,
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

/// Resolves once `stop` turns true (or its sender is gone).
fn stopped(stop: &watch::Sender<bool>) -> impl std::future::Future<Output = ()> + Send {
    let mut rx = stop.subscribe();
    async move {
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

impl Demo {
    /// Starts the nodes, their servers and the front router, with the default
    /// [`ServerLimits`].
    pub async fn start(setup: Setup) -> Result<Self, DemoError> {
        Self::start_with(setup, ServerLimits::default()).await
    }

    /// Starts the nodes, their servers and the front router, each server within
    /// `limits`. The servers stop together, so no connection lingers at shutdown.
    pub async fn start_with(setup: Setup, limits: ServerLimits) -> Result<Self, DemoError> {
        let limits = limits.drain_linger(Duration::ZERO);
        let server_stop = limits.shutdown() + SERVER_STOP_MARGIN;
        let backend = Backend::open(&setup.store, &setup.prefix).await?;
        let inner: Arc<dyn Store> = match &backend {
            // Calls suspend the request as they would on a network store.
            Backend::Memory(memory) => Arc::new(remote::Remote(memory.clone())),
            Backend::Redis(_) | Backend::Postgres(_) => backend.shared(),
        };
        let store = CountingStore::new(inner);
        let shared: Arc<dyn Store> = Arc::new(store.clone());
        let cookies = plain_http_cookies(); // the demo speaks plain HTTP on loopback
        let (stop, _) = watch::channel(false);
        let peers = app::Peers::default();
        let mut nodes = Vec::new();
        let mut node_addrs = Vec::new();
        let mut servers = Vec::new();
        for i in 1..=setup.nodes.max(1) {
            let name = format!("node-{i}");
            let mut config = NodeConfig::default();
            config.label = name.clone();
            config.consistency = setup.mode;
            config.write_policy = setup.policy;
            config.device_label = Some(devices::DEVICE.name().into());
            // Bound first: the node advertises where the others forward requests to it.
            let listener = bind(0).await?;
            let addr = listener.local_addr()?;
            config.advertise = Some(addr.to_string());
            let node = Node::start(shared.clone(), config).await?;
            let app = app::app_with_peers(node.clone(), &name, cookies.clone(), peers.clone())?;
            let server = serve_on(listener, app, limits.clone(), stopped(&stop));
            node_addrs.push(addr);
            servers.push(server);
            nodes.push(node);
        }
        peers.set(nodes.clone());
        let router = front::router(
            node_addrs.clone(),
            setup.affinity,
            cookies.cookie_name(),
            setup.plan.seed,
        );
        let (front, server) = listen_with(router, setup.port, limits, stopped(&stop)).await?;
        servers.push(server);
        Ok(Self {
            setup,
            backend,
            store,
            nodes,
            node_addrs,
            stop,
            servers,
            server_stop,
            front,
        })
    }

    /// The nodes' counters, in node order.
    pub fn node_stats(&self) -> Vec<tenure_node::NodeStats> {
        self.nodes.iter().map(|n| n.stats()).collect()
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

    /// What runs.
    pub fn setup(&self) -> &Setup {
        &self.setup
    }

    /// Stops the servers (the front router's port is free again once this returns),
    /// shuts every node down (writing what they hold) and adds the stored counters to
    /// the report.
    pub async fn shutdown(self, report: &mut Report) {
        let _ = self.stop.send(true);
        for server in self.servers {
            if tokio::time::timeout(self.server_stop, server)
                .await
                .is_err()
            {
                eprintln!("a demo server did not stop within {:?}", self.server_stop);
            }
        }
        for node in &self.nodes {
            if let Err(e) = node.shutdown().await {
                eprintln!("shutdown of {}: {e}", node.owner());
            }
        }
        report.stored_after_shutdown = stored_counters(&self.backend).await;
    }
}

/// The sum of every stored session's counter (under the demo's prefix or schema).
async fn stored_counters(backend: &Backend) -> Option<u64> {
    let counter = |bytes: &tenure_core::Bytes| MessagePack.decode::<u64>(bytes).ok();
    if let Backend::Memory(store) = backend {
        return Some(
            store
                .sessions()
                .iter()
                .filter_map(|(_, snap)| snap.value(app::COUNTER.name()))
                .filter_map(counter)
                .sum(),
        );
    }
    let inspector = backend.inspector()?;
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
