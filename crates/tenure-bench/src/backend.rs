//! The store a measurement runs on, and how its cost is read: Redis' `INFO` counters
//! (one server or a cluster), or the PostgreSQL part's database and proxy.

use tenure_redis::ServerStats;

use crate::postgres::{PgCounters, PostgresDb};
use crate::redis_server::Meter;
use crate::BenchError;

/// Where the systems of one part keep their sessions.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Backend<'a> {
    /// A private Redis server or cluster.
    Redis {
        /// Its URL.
        url: &'a str,
        /// The harness's connection to it.
        meter: &'a Meter,
    },
    /// The run's PostgreSQL database.
    Postgres(&'a PostgresDb),
}

/// The counters at one moment.
pub(crate) enum Counters {
    Redis(ServerStats),
    Postgres(PgCounters),
}

/// What a measurement cost the store.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Cost {
    /// Commands (Redis) or statements (PostgreSQL) the clients sent.
    pub(crate) sent: u64,
    /// Commands Redis ran inside scripts.
    pub(crate) scripted: u64,
    /// Bytes to and from the store.
    pub(crate) bytes: u64,
    /// The store server's CPU, µs.
    pub(crate) cpu_micros: u64,
}

impl Backend<'_> {
    /// The URL the nodes connect with.
    pub(crate) fn url(&self) -> String {
        match self {
            Backend::Redis { url, .. } => url.to_string(),
            Backend::Postgres(db) => db.url(),
        }
    }

    /// Empties the store: each system starts on nothing.
    pub(crate) async fn flush(&self) -> Result<(), BenchError> {
        match self {
            Backend::Redis { meter, .. } => meter.flush().await,
            Backend::Postgres(db) => db.fresh().await,
        }
    }

    /// The counters now; `drained`: the nodes have stopped (PostgreSQL waits until
    /// their connections are gone, so their last work is counted).
    pub(crate) async fn counters(&self, drained: bool) -> Result<Counters, BenchError> {
        Ok(match self {
            Backend::Redis { meter, .. } => Counters::Redis(meter.stats().await?),
            Backend::Postgres(db) => Counters::Postgres(db.counters(drained).await?),
        })
    }
}

impl Cost {
    /// The cost between two readings of the same store.
    pub(crate) fn between(before: &Counters, after: &Counters) -> Cost {
        match (before, after) {
            (Counters::Redis(before), Counters::Redis(after)) => {
                let cost = after - before;
                let (sent, scripted) = commands_sent(&cost);
                Cost {
                    sent,
                    scripted,
                    bytes: cost.net_bytes(),
                    cpu_micros: cost.cpu_micros,
                }
            }
            (Counters::Postgres(before), Counters::Postgres(after)) => {
                let cost = *after - *before;
                Cost {
                    sent: cost.transactions,
                    scripted: 0,
                    bytes: cost.bytes,
                    cpu_micros: cost.cpu_micros,
                }
            }
            _ => Cost::default(),
        }
    }
}

/// Commands a client sent: everything counted, less what ran inside scripts (which
/// only Tenure uses; its client sends only script calls and pub/sub commands).
fn commands_sent(stats: &ServerStats) -> (u64, u64) {
    let scripted = stats.commands.contains_key("evalsha") || stats.commands.contains_key("eval");
    if scripted {
        (stats.client_commands(), stats.script_commands())
    } else {
        (stats.all_commands(), 0)
    }
}
