//! `tenure`: run `tenure --help` for the commands, `tenure demo --help` for the
//! demo's options.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use tenure_axum::serve::ServerLimits;
use tenure_cli::demo::compare::DEFAULT_MODES;
use tenure_cli::demo::front::FrontConfig;
use tenure_cli::demo::{compare, mode_prefix, Demo, Plan, Setup, Summary};
use tenure_cli::errors::describe;
use tenure_cli::inspect::{self, Action};
use tenure_cli::serve::{
    plain_http_cookies, serve_node, serve_router, AdvertiseAt, NodeSetup, RouteSetup,
};
use tenure_cli::stores::{Backend, StoreUrl};
use tenure_core::{Consistency, SessionId, WritePolicy};

#[derive(Parser)]
#[command(
    name = "tenure",
    version,
    about = "Distributed session state for Rust web services"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start app-server nodes on one store behind a front router, run a concurrent
    /// workload through it in the exclusive and the last-writer-wins modes (each on a
    /// fresh store), and print both side by side.
    Demo(DemoArgs),
    /// Run one app-server node (the demo app) as its own process.
    Serve(ServeArgs),
    /// Run the front router over nodes started with `tenure serve`.
    Route(RouteArgs),
    /// List, show or delete sessions in a Redis or PostgreSQL store.
    Inspect(InspectArgs),
}

#[derive(clap::Args)]
struct StoreArgs {
    /// Where sessions live: `memory` (in this process), `redis://host:port`,
    /// `redis-cluster://host:port[?node=host:port...]`, or
    /// `postgres://user@host:port/database`.
    #[arg(long, default_value = "memory")]
    store: StoreUrl,
    /// Key prefix in Redis (on PostgreSQL, the schema, with `-` and other characters
    /// made `_`), so several apps (or demo runs) can share one server.
    #[arg(long)]
    prefix: Option<String>,
}

/// What a server allows its clients (every server the command starts).
#[derive(clap::Args)]
struct LimitArgs {
    /// Longest a client may take to send a request's line and headers (from
    /// connecting, or from its first byte on a keep-alive connection); then the
    /// connection is closed.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    header_read_timeout: Duration,
    /// Longest a keep-alive connection may stay idle between requests.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    idle_timeout: Duration,
    /// Longest a request body may take to arrive, from the handler's first read;
    /// then the answer is 408 and the connection is closed.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    body_timeout: Duration,
    /// Most connections open at once; more wait in the listen backlog. Default:
    /// three quarters of the open-file limit, at most 10000.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: Option<u32>,
    /// On SIGTERM or Ctrl-C, how long requests in flight may take to finish.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    shutdown_timeout: Duration,
}

impl LimitArgs {
    fn limits(&self) -> ServerLimits {
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
struct ServeArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The node's name (shown in the `X-Tenure-Node` header).
    #[arg(long, default_value = "node")]
    name: String,
    /// Port to listen on, on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Consistency mode.
    #[arg(long, value_enum, default_value_t = Mode::Exclusive)]
    mode: Mode,
    /// Write policy (as for `demo`).
    #[arg(long, default_value = "end-of-request", value_parser = parse_policy)]
    policy: WritePolicy,
    /// Lease asked of the store (e.g. 3s); renewals run every sixth of it.
    #[arg(long, value_parser = parse_duration)]
    lease: Option<Duration>,
    /// Where the other nodes reach this one (host:port) to forward requests for
    /// sessions it holds; `none` turns forwarding off (sessions then move to the
    /// node that gets the request). Default: the address it listens on.
    #[arg(long)]
    advertise: Option<AdvertiseAt>,
    /// Name this node in a cookie of this name (value: its address), for a balancer
    /// that sticks by it, such as `tenure route --route-cookie`.
    #[arg(long)]
    route_cookie: Option<String>,
    #[command(flatten)]
    limits: LimitArgs,
}

#[derive(clap::Args)]
struct RouteArgs {
    /// A node's address (host:port); repeat for each node.
    #[arg(long = "backend", required = true)]
    backends: Vec<SocketAddr>,
    /// Probability that a session's next request goes to the node that served its last.
    #[arg(long, default_value_t = 0.8, value_parser = parse_probability)]
    affinity: f64,
    /// Port to listen on, on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Seed of the router's random choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Stick to the node whose address this cookie holds (`tenure serve
    /// --route-cookie`), rather than to the node that served the last request.
    #[arg(long)]
    route_cookie: Option<String>,
    /// Longest wait for a node's answer before answering 504 (longer than a node's
    /// acquire timeout, so a node normally answers for itself).
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    upstream_timeout: Duration,
    /// Longest wait for a connection to a node (or a health check's answer); a node
    /// that refuses or does not connect in time is marked down and the request goes
    /// to another.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    connect_timeout: Duration,
    /// How often every node is health-checked (a node marked down comes back when it
    /// answers).
    #[arg(long, default_value = "500ms", value_parser = parse_duration)]
    health_interval: Duration,
    #[command(flatten)]
    limits: LimitArgs,
}

#[derive(clap::Args)]
struct InspectArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    action: InspectAction,
}

#[derive(Subcommand)]
enum InspectAction {
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
struct DemoArgs {
    /// App-server nodes, each with its own near cache.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=32))]
    nodes: u16,
    /// Simulated users (one session each).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    users: u32,
    /// Requests after each user's first.
    #[arg(long, default_value_t = 3000)]
    requests: usize,
    /// Requests in flight at once, spread evenly over the users: each user has
    /// concurrency / users tabs sending one request after another, with no delay.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    concurrency: u32,
    /// Probability that a session's next request goes to the node that served its last.
    #[arg(long, default_value_t = 0.8, value_parser = parse_probability)]
    affinity: f64,
    /// Run this consistency mode only (default: exclusive and last-writer-wins, side
    /// by side).
    #[arg(long, value_enum)]
    mode: Option<Mode>,
    /// Write policy (of the exclusive run, when comparing): end-of-request, manual, every=DURATION (e.g. every=2s,
    /// every=500ms), updates=N, requests=N; combine with '+', e.g. every=5s+updates=20.
    #[arg(long, default_value = "end-of-request", value_parser = parse_policy)]
    policy: WritePolicy,
    /// After the workload, serve a fresh demo (of `--mode`, default exclusive) until
    /// Ctrl-C, to try in a browser or with curl.
    #[arg(long)]
    serve: bool,
    /// Port of the front router (of the served demo with `--serve`; 0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Seed of the workload's and router's random choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    limits: LimitArgs,
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
enum Mode {
    /// Cached tenure: no lost updates.
    Exclusive,
    /// Per-attribute compare-and-set: conflicts answer 409.
    Optimistic,
    /// Whole-session writes, last writer wins: what other libraries do.
    LastWriterWins,
}

fn parse_probability(s: &str) -> Result<f64, String> {
    let p: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err("must be between 0 and 1".into())
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
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

fn parse_count(n: &str) -> Result<u32, String> {
    n.parse().map_err(|_| format!("`{n}` is not a count"))
}

fn parse_policy(s: &str) -> Result<WritePolicy, String> {
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

#[tokio::main]
async fn main() -> ExitCode {
    // Warnings (a node marked down, a lapsed liveness, a commit in doubt) go to
    // stderr; RUST_LOG (e.g. `RUST_LOG=tenure_node=debug`) changes what is shown.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Demo(args) => demo(args).await,
        Command::Serve(args) => {
            let setup = NodeSetup {
                prefix: args.store.prefix.unwrap_or_else(|| "tenure".into()),
                store: args.store.store,
                name: args.name,
                mode: args.mode.into(),
                policy: args.policy,
                lease: args.lease,
                port: args.port,
                advertise: args.advertise.unwrap_or(AdvertiseAt::Listener),
                route_cookie: args.route_cookie,
                limits: args.limits.limits(),
            };
            report(serve_node(setup).await)
        }
        Command::Route(args) => {
            let mut front =
                FrontConfig::new(args.affinity, plain_http_cookies().cookie_name(), args.seed);
            front.upstream_timeout = args.upstream_timeout;
            front.route_cookie = args.route_cookie;
            front.connect_timeout = args.connect_timeout;
            front.health_interval = args.health_interval;
            let setup = RouteSetup {
                backends: args.backends,
                front,
                port: args.port,
                limits: args.limits.limits(),
            };
            report(serve_router(setup).await)
        }
        Command::Inspect(args) => inspect_store(args).await,
    }
}

fn report<E: std::error::Error + 'static>(result: Result<(), E>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// Prints `e` and its causes; answers failure.
fn fail(e: &(dyn std::error::Error + 'static)) -> ExitCode {
    eprint!("{}", describe(e));
    ExitCode::FAILURE
}

/// Prints a one-line error; answers failure.
fn fail_with(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

async fn inspect_store(args: InspectArgs) -> ExitCode {
    if args.store.store == StoreUrl::Memory {
        return fail_with("tenure inspect needs --store redis://host:port or postgres://... (the memory store lives inside its own process)");
    }
    let prefix = args.store.prefix.unwrap_or_else(|| "tenure".into());
    let id = |text: &str| {
        SessionId::parse(text).map_err(|e| format!("`{text}` is not a session id: {e}"))
    };
    let action = match &args.action {
        InspectAction::List { limit } => Ok(Action::List(*limit)),
        InspectAction::Show { id: text } => id(text).map(Action::Show),
        InspectAction::Delete { id: text } => id(text).map(Action::Delete),
        InspectAction::SessionsOf { user, label } => tenure_core::principal::check_principal(user)
            .map(|()| Action::SessionsOf {
                principal: user.clone(),
                label: label.clone(),
            })
            .map_err(|e| format!("`{}` is not a principal: {e}", user.escape_debug())),
    };
    let action = match action {
        Ok(a) => a,
        Err(e) => return fail_with(&e),
    };
    let backend = match Backend::open(&args.store.store, &prefix).await {
        Ok(b) => b,
        Err(e) => return fail(&e),
    };
    let Some(inspector) = backend.inspector() else {
        return ExitCode::FAILURE;
    };
    let result = inspect::run(inspector.as_ref(), &*backend.shared(), &action).await;
    backend.quit().await;
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

async fn demo(args: DemoArgs) -> ExitCode {
    let prefix = args.store.prefix.clone().unwrap_or_else(|| {
        // Each run its own prefix, so its counts are its own; printed for `inspect`.
        let mut raw = [0u8; 4];
        let _ = getrandom::fill(&mut raw);
        format!("tenure-demo-{:08x}", u32::from_le_bytes(raw))
    });
    let modes: Vec<Consistency> = match args.mode {
        Some(mode) => vec![mode.into()],
        None => DEFAULT_MODES.to_vec(),
    };
    let setup = Setup {
        nodes: args.nodes.into(),
        affinity: args.affinity,
        mode: modes[0],
        policy: args.policy,
        plan: Plan {
            users: args.users as usize,
            requests: args.requests,
            concurrency: args.concurrency as usize,
            seed: args.seed,
        },
        // With --serve, the port is the served demo's.
        port: if args.serve { 0 } else { args.port },
        store: args.store.store.clone(),
        prefix: prefix.clone(),
    };
    if let StoreUrl::Redis(url) = &args.store.store {
        let prefixes: Vec<String> = match modes.as_slice() {
            [_] => vec![prefix.clone()],
            _ => modes.iter().map(|m| mode_prefix(&prefix, *m)).collect(),
        };
        println!("store: {url}, key prefix {}", prefixes.join(", "));
    }
    let reports = compare(&setup, &modes, |demo| {
        eprintln!(
            "{:?}: front router on http://{}, nodes on {:?}; running the workload…",
            demo.setup().mode,
            demo.front,
            demo.node_addrs()
        );
    })
    .await;
    match reports {
        Ok(reports) => print!("{}", Summary(&reports)),
        Err(e) => return fail(&e),
    }
    if !args.serve {
        return ExitCode::SUCCESS;
    }
    let mut served = setup;
    served.port = args.port;
    served.prefix = format!("{prefix}-serve");
    served.plan.users = 0;
    served.plan.requests = 0;
    // Installed before the address is printed: a SIGTERM from then on stops the demo.
    let stop = tenure_cli::serve::stop_signal();
    let demo = match Demo::start_with(served, args.limits.limits()).await {
        Ok(demo) => demo,
        Err(e) => return fail(&e),
    };
    println!(
        "\nServing at http://{1}/ (a fresh {0:?} demo: try it in a browser or with curl). Ctrl-C or SIGTERM to stop.",
        demo.setup().mode,
        demo.front
    );
    let mut report = demo.run_workload().await;
    stop.await;
    demo.shutdown(&mut report).await;
    if let Some(stored) = report.stored_after_shutdown {
        println!("after shutdown: {stored} increments in the store (your requests)");
    }
    ExitCode::SUCCESS
}
