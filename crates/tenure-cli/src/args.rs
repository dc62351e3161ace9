//! The command line of `tenure`: its subcommands and their arguments (clap), and
//! the parsers of argument values. Part of the binary only.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use tenure_axum::serve::ServerLimits;
use tenure_cli::serve::AdvertiseAt;
use tenure_cli::stores::StoreUrl;
use tenure_core::{Consistency, WritePolicy};

#[derive(Parser)]
#[command(
    name = "tenure",
    version,
    about = "Distributed session state for Rust web services"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Start app-server nodes on one store behind a front router, run a concurrent
    /// workload through it in the exclusive and the last-writer-wins modes (each on a
    /// fresh store), and print both side by side.
    Demo(DemoArgs),
    /// Run one app-server node (the demo app) as its own process.
    Serve(ServeArgs),
    /// Run the front router over nodes started with `tenure serve`.
    Route(RouteArgs),
    /// List, show or delete sessions in a Redis or PostgreSQL store, or list a
    /// user's sessions.
    Inspect(InspectArgs),
    /// Print a Redis or PostgreSQL store's session events (created, rotated,
    /// principal, principal-cleared, deleted, expired), one per line.
    Events(EventsArgs),
}

#[derive(clap::Args)]
pub(crate) struct EventsArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// Print only the events after this id (as a line or the last line printed names
    /// it); default from the oldest the store keeps.
    #[arg(long)]
    pub(crate) after: Option<tenure_store::EventId>,
    /// Keep printing new events until stopped (Ctrl-C or SIGTERM).
    #[arg(long)]
    pub(crate) follow: bool,
}

#[derive(clap::Args)]
pub(crate) struct StoreArgs {
    /// Where sessions live: `memory` (in this process), `redis://host:port`,
    /// `redis-cluster://host:port[?node=host:port...]`, or
    /// `postgres://user@host:port/database`.
    #[arg(long, default_value = "memory")]
    pub(crate) store: StoreUrl,
    /// Key prefix in Redis (on PostgreSQL, the schema, with `-` and other characters
    /// made `_`), so several apps (or demo runs) can share one server.
    #[arg(long)]
    pub(crate) prefix: Option<String>,
}

/// What a server allows its clients (every server the command starts).
#[derive(clap::Args)]
pub(crate) struct LimitArgs {
    /// Longest a client may take to send a request's line and headers (from
    /// connecting, or from its first byte on a keep-alive connection); then the
    /// connection is closed.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub(crate) header_read_timeout: Duration,
    /// Longest a keep-alive connection may stay idle between requests.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub(crate) idle_timeout: Duration,
    /// Longest a request body may take to arrive, from the handler's first read;
    /// then the answer is 408 and the connection is closed.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub(crate) body_timeout: Duration,
    /// Most connections open at once; more wait in the listen backlog. Default:
    /// three quarters of the open-file limit, at most 10000.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_connections: Option<u32>,
    /// On SIGTERM or Ctrl-C, how long requests in flight may take to finish.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub(crate) shutdown_timeout: Duration,
}

impl LimitArgs {
    pub(crate) fn limits(&self) -> ServerLimits {
        let limits = ServerLimits::new()
            .header_read_timeout(self.header_read_timeout)
            .idle_timeout(self.idle_timeout)
            .body_read_timeout(self.body_timeout)
            .shutdown_timeout(self.shutdown_timeout);
        match self.max_connections {
            Some(max) => limits.max_connections(max as usize),
            None => limits,
        }
    }
}

#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// The node's name (shown in the `X-Tenure-Node` header).
    #[arg(long, default_value = "node")]
    pub(crate) name: String,
    /// Port to listen on, on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub(crate) port: u16,
    /// Consistency mode.
    #[arg(long, value_enum, default_value_t = Mode::Exclusive)]
    pub(crate) mode: Mode,
    /// Write policy (as for `demo`).
    #[arg(long, default_value = "end-of-request", value_parser = parse_policy)]
    pub(crate) policy: WritePolicy,
    /// Lease asked of the store (e.g. 3s); renewals run every sixth of it.
    #[arg(long, value_parser = parse_duration)]
    pub(crate) lease: Option<Duration>,
    /// Where the other nodes reach this one (host:port) to forward requests for
    /// sessions it holds; `none` turns forwarding off (sessions then move to the
    /// node that gets the request). Default: the address it listens on.
    #[arg(long)]
    pub(crate) advertise: Option<AdvertiseAt>,
    /// Name this node in a cookie of this name (value: its address), for a balancer
    /// that sticks by it, such as `tenure route --route-cookie`.
    #[arg(long)]
    pub(crate) route_cookie: Option<String>,
    #[command(flatten)]
    pub(crate) limits: LimitArgs,
}

#[derive(clap::Args)]
pub(crate) struct RouteArgs {
    /// A node's address (host:port); repeat for each node.
    #[arg(long = "backend", required = true)]
    pub(crate) backends: Vec<SocketAddr>,
    /// Probability that a session's next request goes to the node that served its last.
    #[arg(long, default_value_t = 0.8, value_parser = parse_probability)]
    pub(crate) affinity: f64,
    /// Port to listen on, on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub(crate) port: u16,
    /// Seed of the router's random choices.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Stick to the node whose address this cookie holds (`tenure serve
    /// --route-cookie`), rather than to the node that served the last request.
    #[arg(long)]
    pub(crate) route_cookie: Option<String>,
    /// Longest wait for a node's answer before answering 504 (longer than a node's
    /// acquire timeout, so a node normally answers for itself).
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub(crate) upstream_timeout: Duration,
    /// Longest wait for a connection to a node (or a health check's answer); a node
    /// that refuses or does not connect in time is marked down and the request goes
    /// to another.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub(crate) connect_timeout: Duration,
    /// How often every node is health-checked (a node marked down comes back when it
    /// answers).
    #[arg(long, default_value = "500ms", value_parser = parse_duration)]
    pub(crate) health_interval: Duration,
    #[command(flatten)]
    pub(crate) limits: LimitArgs,
}

#[derive(clap::Args)]
pub(crate) struct InspectArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(subcommand)]
    pub(crate) action: InspectAction,
}

#[derive(Subcommand)]
pub(crate) enum InspectAction {
    /// List session ids.
    List {
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Show one session: attributes (names, sizes, versions, values), lock, queue.
    Show {
        /// The session id.
        id: String,
    },
    /// Delete one session.
    Delete {
        /// The session id.
        id: String,
    },
    /// List the live sessions of a user (the principal a login set), from the store's
    /// index.
    SessionsOf {
        /// The principal (the demo's user name).
        user: String,
        /// The attribute to show as each session's label (the demo's is `device`).
        #[arg(long)]
        label: Option<String>,
    },
}

#[derive(clap::Args)]
pub(crate) struct DemoArgs {
    /// App-server nodes, each with its own near cache.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub(crate) nodes: u16,
    /// Simulated users (one session each).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub(crate) users: u32,
    /// Requests after each user's first.
    #[arg(long, default_value_t = 3000)]
    pub(crate) requests: usize,
    /// Requests in flight at once, spread evenly over the users: each user has
    /// concurrency / users tabs sending one request after another, with no delay.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub(crate) concurrency: u32,
    /// Probability that a session's next request goes to the node that served its last.
    #[arg(long, default_value_t = 0.8, value_parser = parse_probability)]
    pub(crate) affinity: f64,
    /// Run this consistency mode only (default: exclusive and last-writer-wins, side
    /// by side).
    #[arg(long, value_enum)]
    pub(crate) mode: Option<Mode>,
    /// Write policy (of the exclusive run, when comparing): end-of-request, manual, every=DURATION (e.g. every=2s,
    /// every=500ms), updates=N, requests=N; combine with '+', e.g. every=5s+updates=20.
    #[arg(long, default_value = "end-of-request", value_parser = parse_policy)]
    pub(crate) policy: WritePolicy,
    /// After the workload, serve a fresh demo (of `--mode`, default exclusive) until
    /// Ctrl-C, to try in a browser or with curl.
    #[arg(long)]
    pub(crate) serve: bool,
    /// Port of the front router (of the served demo with `--serve`; 0: any free port).
    #[arg(long, default_value_t = 0)]
    pub(crate) port: u16,
    /// Seed of the workload's and router's random choices.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(flatten)]
    pub(crate) limits: LimitArgs,
}

impl From<Mode> for Consistency {
    fn from(mode: Mode) -> Self {
        match mode {
            Mode::Exclusive => Consistency::Exclusive,
            Mode::Optimistic => Consistency::Optimistic,
            Mode::LastWriterWins => Consistency::LastWriterWins,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Mode {
    /// Cached tenure: no lost updates.
    Exclusive,
    /// Per-attribute compare-and-set: conflicts answer 409.
    Optimistic,
    /// Whole-session writes, last writer wins: what other libraries do.
    LastWriterWins,
}

pub(crate) fn parse_probability(s: &str) -> Result<f64, String> {
    let p: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err("must be between 0 and 1".into())
    }
}

pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let (number, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| s.split_at(i));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a duration"))?;
    let secs = |factor: u64| {
        n.checked_mul(factor)
            .map(Duration::from_secs)
            .ok_or(format!("`{s}` is too long"))
    };
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => secs(1)?,
        "m" => secs(60)?,
        _ => return Err(format!("`{s}`: use ms, s or m")),
    };
    if d > tenure_node::MAX_TIMING {
        return Err(format!(
            "`{s}` is longer than {:?}",
            tenure_node::MAX_TIMING
        ));
    }
    Ok(d)
}

pub(crate) fn parse_count(n: &str) -> Result<u32, String> {
    n.parse().map_err(|_| format!("`{n}` is not a count"))
}

pub(crate) fn parse_policy(s: &str) -> Result<WritePolicy, String> {
    if s == "end-of-request" {
        return Ok(WritePolicy::end_of_request());
    }
    let mut policy = WritePolicy::manual();
    for part in s.split('+') {
        policy = match part.split_once('=') {
            None if part == "manual" => policy,
            None if part == "end-of-request" => {
                return Err(
                    "end-of-request writes at every request already; it combines with nothing"
                        .into(),
                )
            }
            Some(("every", d)) => policy.or_every(parse_duration(d)?),
            Some(("updates", n)) => policy.or_after_updates(parse_count(n)?),
            Some(("requests", n)) => policy.or_after_requests(parse_count(n)?),
            _ => return Err(format!("unknown policy `{part}`")),
        };
    }
    Ok(policy)
}
