//! The system under test: a private Redis or PostgreSQL, three `tenure serve`
//! processes (one of them, optionally, reaching the store through a fault proxy) and
//! `tenure route` in front, plus a store handle of the test's own to read what is
//! stored.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tenure_cli::stores::{Backend, StoreUrl};
use tenure_core::SessionId;
use tenure_store::Inspect;
use tenure_test::fault_proxy::FaultProxy;

use super::postgres::PostgresServer;
use super::procs::{RedisServer, TempDir, Tenure};
use crate::support::unique_prefix;

/// The private store server of a rig.
#[derive(Debug)]
pub enum Server {
    Redis(RedisServer),
    Postgres(PostgresServer),
}

impl Server {
    pub fn addr(&self) -> SocketAddr {
        match self {
            Self::Redis(s) => s.addr,
            Self::Postgres(s) => s.addr,
        }
    }

    /// The store URL, reaching the server at `addr` (itself, or a proxy in front).
    pub fn url_via(&self, addr: SocketAddr) -> String {
        match self {
            Self::Redis(_) => format!("redis://{addr}"),
            Self::Postgres(_) => format!("postgres://postgres@{addr}/postgres"),
        }
    }

    pub fn url(&self) -> String {
        self.url_via(self.addr())
    }

    /// SIGKILLs the server and waits until it is gone.
    pub async fn kill(&mut self) {
        match self {
            Self::Redis(s) => s.kill().await,
            Self::Postgres(s) => s.kill().await,
        }
    }

    /// Starts it again on its directory and port; waits until it answers.
    pub async fn restart(&mut self) {
        match self {
            Self::Redis(s) => s.restart().await,
            Self::Postgres(s) => s.restart().await,
        }
    }
}

/// How a [`Rig`] starts.
#[derive(Debug, Clone)]
pub struct Setup {
    /// Short name, for the key prefix and the temporary directory.
    pub name: &'static str,
    /// `--lease` of every node (`None`: the node's default).
    pub lease: Option<&'static str>,
    /// Redis with `--appendonly yes --appendfsync always`.
    pub persistent: bool,
    /// This node (index) reaches Redis through a fault proxy.
    pub proxied: Option<usize>,
    /// The router's `--affinity`.
    pub affinity: f64,
    /// The store is PostgreSQL (durable), not Redis.
    pub postgres: bool,
}

impl Setup {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            lease: Some("2s"),
            persistent: false,
            proxied: None,
            affinity: 0.9,
            postgres: false,
        }
    }
}

/// Node names, by index.
pub const NODES: [&str; 3] = ["node-a", "node-b", "node-c"];

/// Everything one fault test runs; killed and removed on drop.
pub struct Rig {
    pub server: Server,
    pub proxy: Option<FaultProxy>,
    pub nodes: Vec<Tenure>,
    pub router: Tenure,
    pub store: Backend,
    pub prefix: String,
    // Last, so the processes are gone before their directory is.
    dir: TempDir,
}

impl Rig {
    /// Starts everything; `None` (skip) without the store's server when it is not
    /// required.
    pub async fn start(setup: &Setup) -> Option<Self> {
        let dir = TempDir::new(setup.name);
        let server = if setup.postgres {
            Server::Postgres(PostgresServer::start(dir.path()).await?)
        } else {
            Server::Redis(RedisServer::start(dir.path(), setup.persistent).await?)
        };
        let prefix = unique_prefix(setup.name);
        let url: StoreUrl = server.url().parse().unwrap();
        let store = Backend::open(&url, &prefix)
            .await
            .unwrap_or_else(|e| panic!("open the private store: {e}"));
        let proxy = match setup.proxied {
            Some(_) => Some(FaultProxy::start(server.addr()).await.unwrap()),
            None => None,
        };
        let mut nodes = Vec::new();
        for (i, name) in NODES.iter().enumerate() {
            let url = match (&proxy, setup.proxied) {
                (Some(p), Some(j)) if i == j => server.url_via(p.addr()),
                _ => server.url(),
            };
            let mut args: Vec<String> = [
                "serve", "--store", &url, "--prefix", &prefix, "--name", name,
            ]
            .map(str::to_string)
            .to_vec();
            if let Some(lease) = setup.lease {
                args.extend(["--lease".to_string(), lease.to_string()]);
            }
            nodes.push(Tenure::start(dir.path(), name, &args).await);
        }
        let mut args = vec!["route".to_string()];
        for node in &nodes {
            args.extend(["--backend".to_string(), node.addr.to_string()]);
        }
        let timeout = format!("{}ms", super::UPSTREAM_TIMEOUT.as_millis());
        args.extend(["--affinity".into(), setup.affinity.to_string()]);
        args.extend([
            "--seed".into(),
            "7".into(),
            "--upstream-timeout".into(),
            timeout,
        ]);
        let router = Tenure::start(dir.path(), "router", &args).await;
        Some(Self {
            server,
            proxy,
            nodes,
            router,
            store,
            prefix,
            dir,
        })
    }

    /// The private Redis (the rig must run on Redis).
    pub fn redis(&self) -> &RedisServer {
        match &self.server {
            Server::Redis(s) => s,
            Server::Postgres(_) => panic!("this rig runs on PostgreSQL"),
        }
    }

    /// What the test's own handle sees of the store.
    fn inspector(&self) -> Arc<dyn Inspect> {
        self.store
            .inspector()
            .expect("a store outside this process")
            .into()
    }

    /// The nodes' addresses but `except`'s.
    pub fn others(&self, except: usize) -> Vec<SocketAddr> {
        (0..self.nodes.len())
            .filter(|i| *i != except)
            .map(|i| self.nodes[i].addr)
            .collect()
    }

    /// Which node (index) holds each session now, as the store says.
    pub async fn holders(&self, sessions: &[SessionId]) -> Vec<Option<usize>> {
        let inspector = self.inspector();
        let mut out = Vec::new();
        for sid in sessions {
            let holder = match inspector.show(sid).await {
                Ok(Some(info)) => info.lock.map(|l| l.holder.as_str().to_string()),
                _ => None,
            };
            out.push(holder.and_then(|h| {
                NODES
                    .iter()
                    .position(|n| h.strip_prefix(n).is_some_and(|rest| rest.starts_with('-')))
            }));
        }
        out
    }

    /// Waits (at most `timeout`) until one node (`only` that one, if given) holds
    /// at least `min` of `sessions`; answers that node (the one holding the most)
    /// and the sessions (indices) it holds.
    pub async fn holder(
        &self,
        sessions: &[SessionId],
        only: Option<usize>,
        min: usize,
        timeout: Duration,
    ) -> (usize, Vec<usize>) {
        let poll = tenure_test::Poll::new(timeout, format!("a node holding {min} sessions"));
        loop {
            let holders = self.holders(sessions).await;
            let held = |node| {
                let mine = (0..sessions.len()).filter(|s| holders[*s] == Some(node));
                (node, mine.collect::<Vec<_>>())
            };
            let best = (0..NODES.len())
                .filter(|n| only.is_none_or(|o| o == *n))
                .map(held)
                .max_by_key(|(_, s)| s.len());
            if let Some(found) = best.filter(|(_, s)| s.len() >= min) {
                return found;
            }
            poll.tick().await;
        }
    }

    /// The sessions (indices) `node` holds now, as the store says.
    pub async fn held_by(&self, node: usize, sessions: &[SessionId]) -> Vec<usize> {
        let holders = self.holders(sessions).await;
        (0..sessions.len())
            .filter(|s| holders[*s] == Some(node))
            .collect()
    }

    /// Waits (at most `timeout`) until every session of `sessions` is held by a node
    /// other than `node` (it was granted elsewhere, so `node`'s lease ran out).
    pub async fn taken_from(&self, node: usize, sessions: &[SessionId], timeout: Duration) {
        let poll = tenure_test::Poll::new(
            timeout,
            format!("{}'s sessions held elsewhere", NODES[node]),
        );
        loop {
            let holders = self.holders(sessions).await;
            if holders.iter().all(|h| h.is_some_and(|n| n != node)) {
                return;
            }
            poll.tick().await;
        }
    }

    /// Each session's stored counter (`None`: not stored).
    pub async fn stored_counters(&self, sessions: &[SessionId]) -> Vec<Option<u64>> {
        use tenure_core::Codec;
        let inspector = self.inspector();
        let mut out = Vec::new();
        for sid in sessions {
            let info = tenure_test::wait_for(Duration::from_secs(10), "the store answers", || {
                let (inspector, sid) = (inspector.clone(), sid.clone());
                async move { inspector.show(&sid).await.ok() }
            })
            .await;
            let counter = info
                .and_then(|i| i.attrs.into_iter().find(|a| a.name == "counter"))
                .map(|a| tenure_core::MessagePack.decode::<u64>(&a.value).unwrap());
            out.push(counter);
        }
        out
    }

    /// Deletes the test's sessions and stops everything.
    pub async fn clean_up(self) {
        let inspector = self.inspector();
        if let Ok(sids) = inspector.list(usize::MAX).await {
            for sid in sids {
                let _ = inspector.delete(&sid).await;
            }
        }
        self.store.quit().await;
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for p in self.nodes.iter().chain([&self.router]) {
                eprintln!("--- {} stderr (last lines):\n{}", p.name, p.log_tail());
            }
        }
    }
}
