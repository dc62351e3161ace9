use std::time::Duration;

use tenure::serve::{serve, stop_signal, ServerLimits};
use tenure::{Key, MemoryStore, Node, NodeConfig, Session, SessionFailure, SessionLayer};

const COUNTER: Key<u64> = Key::new("counter");
const USER: Key<String> = Key::new("user");

async fn increment(session: Session) -> Result<String, SessionFailure> {
    let mut n = session.get_mut_or_insert_with(&COUNTER, || 0).await?;
    *n += 1; // changed in place; stored when the request ends, before the response
    let user = session.get(&USER).await?.unwrap_or_else(|| "guest".into());
    Ok(format!("{user}: {}", *n))
}

async fn login(session: Session) -> Result<&'static str, SessionFailure> {
    session.rotate_id().await?; // a new id on privilege change
    session.insert(&USER, "ada".to_string()).await?;
    Ok("welcome")
}

async fn logout(session: Session) -> Result<&'static str, SessionFailure> {
    session.delete().await?;
    Ok("bye")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Logs: `RUST_LOG=tenure=debug` for more. Session errors are logged at `warn`.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info".into()),
        )
        .init();

    // One node per process; every process of the app shares the store (here the
    // embedded one; `tenure::redis::RedisStore` with the `redis` feature).
    let node = Node::from_config(NodeConfig::new().with_store(MemoryStore::new())).await?;
    let app = axum::Router::new()
        .route("/counter", axum::routing::post(increment))
        .route("/login", axum::routing::post(login))
        .route("/logout", axum::routing::post(logout))
        .layer(SessionLayer::new(node.clone()).with_secure(false)); // plain-HTTP demo

    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://127.0.0.1:3000");
    // What a client may take: its request head, idle time between requests, its
    // body; and how many may be connected (the default: three quarters of the
    // open-file limit). On Ctrl-C or SIGTERM (`stop_signal`), the server stops
    // accepting and lets the requests in flight finish, for up to 10 s.
    let limits = ServerLimits::new()
        .header_read_timeout(Duration::from_secs(10))
        .idle_timeout(Duration::from_secs(60))
        .body_read_timeout(Duration::from_secs(30))
        .max_connections(5_000);
    serve(listener, app, limits, stop_signal()).await;
    node.shutdown().await?; // writes and releases every session this node holds
    Ok(())
}
