//! `tenure`: run `tenure --help` for the commands, `tenure demo --help` for the
//! demo's options.

use std::process::ExitCode;

use clap::Parser;
use tenure_cli::demo::compare::DEFAULT_MODES;
use tenure_cli::demo::front::FrontConfig;
use tenure_cli::demo::{compare, mode_prefix, Demo, Plan, Setup, Summary};
use tenure_cli::errors::describe;
use tenure_cli::inspect::{self, Action};
use tenure_cli::serve::{
    plain_http_cookies, serve_node, serve_router, AdvertiseAt, NodeSetup, RouteSetup,
};
use tenure_cli::stores::{Backend, StoreUrl};
use tenure_core::{Consistency, SessionId};

mod args;

use args::*;

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
        Command::Events(args) => print_events(args).await,
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
    match inspect::at_store(&args.store.store, &prefix, &action).await {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&*e),
    }
}

async fn print_events(args: EventsArgs) -> ExitCode {
    if args.store.store == StoreUrl::Memory {
        return fail_with("tenure events needs --store redis://host:port or postgres://... (the memory store lives inside its own process)");
    }
    let prefix = args.store.prefix.unwrap_or_else(|| "tenure".into());
    let backend = match Backend::open(&args.store.store, &prefix).await {
        Ok(b) => b,
        Err(e) => return fail(&e),
    };
    let mut out = std::io::stdout();
    let result = tenure_cli::events::print(
        &*backend.shared(),
        args.after,
        args.follow,
        &mut out,
        tenure_cli::serve::stop_signal(),
    )
    .await;
    backend.quit().await;
    match result {
        Ok(position) => {
            if let Some(p) = position {
                eprintln!("# last event {p}: continue with --after {p}");
            }
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
