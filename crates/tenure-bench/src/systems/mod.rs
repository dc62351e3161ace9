//! The systems under test. Each starts app nodes serving [`crate::app`] on loopback,
//! all against the same Redis.

mod actix;
mod tenure;
mod tower;

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use futures::future::BoxFuture;

use crate::BenchError;

/// A session library, set up the way its documentation shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum System {
    /// Tenure, `Exclusive` (cached tenure), a write at the end of each request.
    TenureExclusive,
    /// Tenure, `Exclusive`, changes written at most once a second (and on recall,
    /// idle release and shutdown).
    TenureInterval,
    /// Tenure, `Optimistic`: no lock, per-attribute compare-and-set.
    TenureOptimistic,
    /// tower-sessions 0.14 with tower-sessions-redis-store 0.16.
    TowerRedis,
    /// tower-sessions' `CachingSessionStore`: a moka cache in each node over the Redis
    /// store.
    TowerMokaRedis,
    /// actix-session 0.11 with its `RedisSessionStore`.
    ActixRedis,
}

impl System {
    /// Every system, in report order.
    pub const ALL: [System; 6] = [
        System::TenureExclusive,
        System::TenureInterval,
        System::TenureOptimistic,
        System::TowerRedis,
        System::TowerMokaRedis,
        System::ActixRedis,
    ];

    /// The name on the command line and in `results.json`.
    pub fn slug(self) -> &'static str {
        match self {
            System::TenureExclusive => "tenure-exclusive",
            System::TenureInterval => "tenure-interval",
            System::TenureOptimistic => "tenure-optimistic",
            System::TowerRedis => "tower-redis",
            System::TowerMokaRedis => "tower-moka-redis",
            System::ActixRedis => "actix-redis",
        }
    }

    /// The name in the report.
    pub fn label(self) -> &'static str {
        match self {
            System::TenureExclusive => "Tenure Exclusive, end-of-request",
            System::TenureInterval => "Tenure Exclusive, every 1 s",
            System::TenureOptimistic => "Tenure Optimistic",
            System::TowerRedis => "tower-sessions + Redis",
            System::TowerMokaRedis => "tower-sessions + moka + Redis",
            System::ActixRedis => "actix-session + Redis",
        }
    }

    /// The session cookie's name.
    pub fn cookie(self) -> &'static str {
        match self {
            System::TenureExclusive | System::TenureInterval | System::TenureOptimistic => {
                tenure::COOKIE
            }
            // Both peers default to `id`.
            System::TowerRedis | System::TowerMokaRedis | System::ActixRedis => "id",
        }
    }

    /// Starts one node called `name`.
    pub async fn start_node(self, env: &Env, name: &str) -> Result<RunningNode, BenchError> {
        match self {
            System::TenureExclusive | System::TenureInterval | System::TenureOptimistic => {
                tenure::start(self, env, name).await
            }
            System::TowerRedis => tower::start(env, false).await,
            System::TowerMokaRedis => tower::start(env, true).await,
            System::ActixRedis => actix::start(env).await,
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

/// What every node of one run shares: the Redis and the secrets a real deployment
/// would share between its instances.
#[derive(Clone)]
pub struct Env {
    /// `redis://127.0.0.1:PORT`
    pub redis_url: String,
    /// Tenure's key prefix.
    pub prefix: String,
    /// actix-session's cookie key (it signs or encrypts every cookie).
    pub actix_key: actix_web::cookie::Key,
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Env")
            .field("redis_url", &self.redis_url)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Env {
    /// Settings for nodes on the Redis at `redis_url`.
    pub fn new(redis_url: String) -> Self {
        Self {
            redis_url,
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

/// Serves `app` on a free loopback port until the returned node is stopped; `after`
/// runs once the server has finished.
async fn serve_axum<F>(app: axum::Router, after: F) -> Result<RunningNode, BenchError>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
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
    Ok(RunningNode {
        addr,
        stop: Box::new(move || {
            Box::pin(async move {
                let _ = tx.send(());
                let _ = server.await;
                after.await;
            })
        }),
    })
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
}
