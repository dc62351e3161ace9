//! The systems under test. Each starts app nodes serving [`crate::app`] on loopback,
//! all against the same Redis, or the same PostgreSQL database for the systems of
//! the PostgreSQL part.

mod actix;
mod tenure;

pub use tenure::ROUTE_COOKIE;
mod tower;

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use futures::future::BoxFuture;

use crate::BenchError;

/// A session library, set up the way its documentation shows, or the limit: the same
/// app with no store at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum System {
    /// Tenure's default configuration: `Exclusive` (cached tenure), a write at the end
    /// of each request, and forwarding on (`NodeConfig::with_advertise` set to the
    /// node's own listener).
    TenureDefault,
    /// The default plus a route cookie naming the node that serves the session
    /// (`SessionLayer::with_route_cookie`), which the client's balancer sticks by, as
    /// balancers with app-controlled stickiness do: after a miss, the next request
    /// goes to the holder instead of to the node that forwarded.
    TenureRouted,
    /// The same without an advertised address: a request for a session another node
    /// holds moves the session.
    TenureExclusive,
    /// Tenure, `Exclusive`, changes written at most once a second (and on recall,
    /// idle release and shutdown), forwarding on.
    TenureInterval,
    /// Tenure, `Optimistic`: no lock, per-attribute compare-and-set.
    TenureOptimistic,
    /// Tenure's default configuration with structural comparison for every
    /// attribute (`NodeConfig::with_comparison(Comparison::Structural)`): changes go
    /// to the store as patches. Runs only the large-cart workload (f).
    TenureStructural,
    /// tower-sessions 0.14 with tower-sessions-redis-store 0.16.
    TowerRedis,
    /// tower-sessions' `CachingSessionStore`: a moka cache in each node over the Redis
    /// store.
    TowerMokaRedis,
    /// actix-session 0.11 with its `RedisSessionStore`.
    ActixRedis,
    /// The limit: tower-sessions with its process-local `MemoryStore`, one per node,
    /// no store, always run at affinity 1.0 (another node would not find a session).
    LimitMemory,
    /// Tenure's default configuration (as [`System::TenureDefault`]) on
    /// `tenure-postgres`.
    TenurePostgres,
    /// tower-sessions 0.14 with tower-sessions-sqlx-store 0.15's `PostgresStore`.
    TowerPostgres,
}

/// Where a system keeps its sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backing {
    /// The run's Redis (server or cluster).
    Redis,
    /// The PostgreSQL part's database.
    Postgres,
    /// No shared store: the limit.
    None,
}

impl System {
    /// Every system, in report order.
    pub const ALL: [System; 12] = [
        System::TenureDefault,
        System::TenureRouted,
        System::TenureExclusive,
        System::TenureInterval,
        System::TenureOptimistic,
        System::TenureStructural,
        System::TowerRedis,
        System::TowerMokaRedis,
        System::ActixRedis,
        System::LimitMemory,
        System::TenurePostgres,
        System::TowerPostgres,
    ];

    /// The name on the command line and in `results.json`.
    pub fn slug(self) -> &'static str {
        match self {
            System::TenureDefault => "tenure-default",
            System::TenureRouted => "tenure-routed",
            System::TenureExclusive => "tenure-exclusive",
            System::TenureInterval => "tenure-interval",
            System::TenureOptimistic => "tenure-optimistic",
            System::TenureStructural => "tenure-structural",
            System::TowerRedis => "tower-redis",
            System::TowerMokaRedis => "tower-moka-redis",
            System::ActixRedis => "actix-redis",
            System::LimitMemory => "limit-memory",
            System::TenurePostgres => "tenure-postgres",
            System::TowerPostgres => "tower-postgres",
        }
    }

    /// The name in the report.
    pub fn label(self) -> &'static str {
        match self {
            System::TenureDefault => "Tenure default (forwarding on)",
            System::TenureRouted => "Tenure default + route cookie",
            System::TenureExclusive => "Tenure Exclusive, no forwarding",
            System::TenureInterval => "Tenure every 1 s, forwarding on",
            System::TenureOptimistic => "Tenure Optimistic",
            System::TenureStructural => "Tenure default + structural comparison",
            System::TowerRedis => "tower-sessions + Redis",
            System::TowerMokaRedis => "tower-sessions + moka + Redis",
            System::ActixRedis => "actix-session + Redis",
            System::LimitMemory => "limit: tower-sessions MemoryStore per node, affinity 1.0",
            System::TenurePostgres => "Tenure default on PostgreSQL (forwarding on)",
            System::TowerPostgres => "tower-sessions + sqlx PostgresStore",
        }
    }

    /// Where it keeps its sessions.
    pub fn backing(self) -> Backing {
        match self {
            System::TenurePostgres | System::TowerPostgres => Backing::Postgres,
            System::LimitMemory => Backing::None,
            _ => Backing::Redis,
        }
    }

    /// A Tenure variant.
    pub fn is_tenure(self) -> bool {
        matches!(
            self,
            System::TenureDefault
                | System::TenureRouted
                | System::TenureExclusive
                | System::TenureInterval
                | System::TenureOptimistic
                | System::TenureStructural
                | System::TenurePostgres
        )
    }

    /// Whether the system runs workload `id`: structural comparison only on the
    /// large cart (f), whose point it is; (f) only for the default, structural
    /// comparison, the peers that keep sessions in Redis without a cache, and the
    /// limit.
    pub fn runs_workload(self, id: &str) -> bool {
        let large_cart = id == crate::workload::LARGE_CART_WORKLOAD;
        match self {
            System::TenureStructural => large_cart,
            System::TenureDefault
            | System::TowerRedis
            | System::ActixRedis
            | System::LimitMemory
            | System::TenurePostgres
            | System::TowerPostgres => true,
            System::TenureRouted
            | System::TenureExclusive
            | System::TenureInterval
            | System::TenureOptimistic
            | System::TowerMokaRedis => !large_cart,
        }
    }

    /// A peer: another library's shared store, the systems Tenure is compared with.
    pub fn is_peer(self) -> bool {
        matches!(
            self,
            System::TowerRedis
                | System::TowerMokaRedis
                | System::ActixRedis
                | System::TowerPostgres
        )
    }

    /// The limit row: no store at all.
    pub fn is_limit(self) -> bool {
        self == System::LimitMemory
    }

    /// Whether the variant writes at the end of each request that changed something
    /// (rather than on an interval).
    pub fn writes_at_end_of_request(self) -> bool {
        self != System::TenureInterval
    }

    /// The affinity the system always runs at, whatever the workload's: the limit's
    /// sessions live in one node's memory, so every request must go back there.
    pub fn fixed_affinity(self) -> Option<f64> {
        self.is_limit().then_some(1.0)
    }

    /// Whether lost updates and stale reads mean the same for it as for a shared
    /// store: a fresh node reads every final counter. Not for the limit, whose
    /// sessions are in the memory of the node that made them.
    pub fn audited(self) -> bool {
        !self.is_limit()
    }

    /// Whether the system runs on a Redis Cluster, or why not.
    pub fn cluster_support(self) -> Result<(), &'static str> {
        match self {
            System::ActixRedis => Err(
                "actix-session 0.11's `RedisSessionStore` connects to one server (a redis-rs \
                 `ConnectionManager` or a `deadpool_redis::Pool`), not to a cluster",
            ),
            System::TenurePostgres | System::TowerPostgres => {
                Err("keeps its sessions in PostgreSQL (the PostgreSQL part)")
            }
            System::TenureDefault
            | System::TenureRouted
            | System::TenureExclusive
            | System::TenureInterval
            | System::TenureOptimistic
            | System::TenureStructural
            | System::TowerRedis
            | System::TowerMokaRedis
            | System::LimitMemory => Ok(()),
        }
    }

    /// The session cookie's name.
    pub fn cookie(self) -> &'static str {
        if self.is_tenure() {
            tenure::COOKIE
        } else {
            // tower-sessions and actix-session both default to `id`.
            "id"
        }
    }

    /// Starts one node called `name`.
    pub async fn start_node(self, env: &Env, name: &str) -> Result<RunningNode, BenchError> {
        match self {
            System::TenureDefault
            | System::TenureRouted
            | System::TenureExclusive
            | System::TenureInterval
            | System::TenureOptimistic
            | System::TenureStructural
            | System::TenurePostgres => tenure::start(self, env, name).await,
            System::TowerRedis => tower::start(env, false).await,
            System::TowerMokaRedis => tower::start(env, true).await,
            System::ActixRedis => actix::start(env).await,
            System::LimitMemory => tower::start_memory().await,
            System::TowerPostgres => tower::start_postgres(env).await,
        }
    }
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

impl FromStr for System {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        System::ALL
            .into_iter()
            .find(|sys| sys.slug() == s)
            .ok_or_else(|| {
                let names: Vec<_> = System::ALL.iter().map(|s| s.slug()).collect();
                format!("unknown system `{s}`; one of {}", names.join(", "))
            })
    }
}

/// What every node of one run shares: the store and the secrets a real deployment
/// would share between its instances.
#[derive(Clone)]
pub struct Env {
    /// `redis://127.0.0.1:PORT`, or `redis-cluster://127.0.0.1:PORT?node=...`; or,
    /// for the systems on PostgreSQL, `postgres://user@127.0.0.1:PORT/DATABASE`.
    pub store_url: String,
    /// Tenure's key prefix.
    pub prefix: String,
    /// actix-session's cookie key (it signs or encrypts every cookie).
    pub actix_key: actix_web::cookie::Key,
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Env")
            .field("store_url", &self.store_url)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Env {
    /// Settings for nodes on the store at `store_url` (Redis, or PostgreSQL for the
    /// systems on it).
    pub fn new(store_url: String) -> Self {
        Self {
            store_url,
            prefix: "tenure-bench".into(),
            actix_key: actix_web::cookie::Key::generate(),
        }
    }
}

/// A node accepting requests.
pub struct RunningNode {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>,
}

impl fmt::Debug for RunningNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningNode")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RunningNode {
    /// Stops accepting, finishes requests in flight, and writes back what the node
    /// holds (Tenure).
    pub async fn stop(self) {
        (self.stop)().await
    }
}

/// A free loopback port, bound: the node learns its own address before it starts
/// (Tenure advertises it to the other nodes).
async fn bind() -> Result<(tokio::net::TcpListener, SocketAddr), BenchError> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

/// Serves `app` on `listener` until the returned node is stopped; `after` runs once
/// the server has finished.
fn serve_axum<F>(
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    app: axum::Router,
    after: F,
) -> RunningNode
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let shutdown = async move {
            let _ = rx.await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "server stopped");
        }
    });
    RunningNode {
        addr,
        stop: Box::new(move || {
            Box::pin(async move {
                let _ = tx.send(());
                let _ = server.await;
                after.await;
            })
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systems_parse_by_slug() {
        for s in System::ALL {
            assert_eq!(s.slug().parse::<System>(), Ok(s));
        }
        assert!("tower".parse::<System>().is_err());
    }

    #[test]
    fn every_system_is_one_kind() {
        for s in System::ALL {
            let kinds = [s.is_tenure(), s.is_peer(), s.is_limit()];
            assert_eq!(kinds.iter().filter(|k| **k).count(), 1, "{s}");
            assert_eq!(s.is_limit(), s.slug().starts_with("limit"), "{s}");
            assert_eq!(s.fixed_affinity().is_some(), !s.audited(), "{s}");
        }
    }
}
