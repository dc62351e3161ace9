//! Tenure: one `Node` per app server, each with its own connections to the store
//! (Redis, or PostgreSQL for `tenure-postgres`).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures::future::BoxFuture;
use tenure_axum::{CookieConfig, Session, SessionFailure, SessionLayer};
use tenure_node::{Comparison, Consistency, Key, Node, NodeConfig, WritePolicy};
use tenure_postgres::{PostgresConfig, PostgresStore};
use tenure_redis::{RedisConfig, RedisStore};
use tenure_store::Store;

use super::{bind, serve_axum, Env, RunningNode, System};
use crate::app::{
    self, BlobQuery, CartItem, FillQuery, ItemQuery, NoteQuery, QuantityQuery, ReplaceQuery,
};
use crate::BenchError;

/// The cookie name over plain HTTP.
pub(super) const COOKIE: &str = "tenure";

/// The route cookie `tenure-routed` sets: the node's name, which the client's
/// balancer maps to the node ([`crate::load`]).
pub const ROUTE_COOKIE: &str = "tenure-route";

const COUNTER: Key<u64> = Key::new(app::COUNTER);
const CART: Key<Vec<String>> = Key::new(app::CART);
const NOTE: Key<String> = Key::new(app::NOTE);
const BLOB: Key<String> = Key::new(app::BLOB);
/// A key of the node's comparison: `tenure-structural` makes it structural.
const ITEMS: Key<Vec<CartItem>> = Key::new(app::ITEMS);

pub(super) async fn start(
    system: System,
    env: &Env,
    name: &str,
) -> Result<RunningNode, BenchError> {
    let (store, quit) = connect(system, env).await?;
    // Bound first: a forwarding node advertises where it listens.
    let (listener, addr) = bind().await?;
    let mut config = NodeConfig::default();
    // An experiment knob, not a setting of any row: TENURE_BENCH_MOVE_AFTER.
    if let Some(n) = std::env::var("TENURE_BENCH_MOVE_AFTER")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        config.move_after = n;
    }
    match system {
        System::TenureDefault | System::TenureRouted | System::TenurePostgres => {
            config = config.with_advertise(addr.to_string());
        }
        System::TenureInterval => {
            config = config.with_advertise(addr.to_string());
            config.write_policy = WritePolicy::every(Duration::from_secs(1));
        }
        System::TenureOptimistic => config.consistency = Consistency::Optimistic,
        System::TenureStructural => {
            config = config
                .with_advertise(addr.to_string())
                .with_comparison(Comparison::Structural);
        }
        _ => {}
    }
    config.label = name.to_string();
    let node = match Node::start(store, config).await {
        Ok(node) => node,
        Err(e) => {
            quit.await;
            return Err(e.into());
        }
    };
    let mut cookies = CookieConfig::default();
    cookies.secure = false;
    let mut layer = SessionLayer::new(node.clone()).with_cookies(cookies)?;
    if system == System::TenureRouted {
        layer = layer.with_route_cookie(ROUTE_COOKIE, name).check()?;
    }
    let app = Router::new()
        .route("/counter", get(read).post(increment))
        .route("/cart", post(add_item))
        .route("/note", post(note))
        .route("/blob", post(blob))
        .route("/items/fill", post(fill_items))
        .route("/items/set", post(set_quantity))
        .route("/items/replace", post(replace_item))
        .layer(layer);
    Ok(serve_axum(listener, addr, app, async move {
        if let Err(e) = node.shutdown().await {
            tracing::error!(error = %e, "node shutdown");
        }
        quit.await;
    }))
}

/// The node's store, and what closes its connections.
async fn connect(
    system: System,
    env: &Env,
) -> Result<(Arc<dyn Store>, BoxFuture<'static, ()>), BenchError> {
    if system == System::TenurePostgres {
        let schema = env.prefix.replace('-', "_");
        // As many connections as tower-sessions' sqlx pool gets.
        let config = PostgresConfig::new(env.store_url.clone())
            .schema(schema)
            .pool_size(super::tower::POOL_SIZE);
        let store = PostgresStore::connect(config)
            .await
            .map_err(|e| BenchError::Postgres(e.to_string()))?;
        // Its connections close when the last handle goes.
        return Ok((Arc::new(store), Box::pin(async {})));
    }
    let store =
        RedisStore::connect(RedisConfig::new(env.store_url.clone()).prefix(&env.prefix)).await?;
    let quit = {
        let store = store.clone();
        Box::pin(async move { store.quit().await })
    };
    Ok((Arc::new(store), quit))
}

async fn read(session: Session) -> Result<String, SessionFailure> {
    Ok(session.get(&COUNTER).await?.unwrap_or(0).to_string())
}

async fn increment(session: Session) -> Result<String, SessionFailure> {
    let mut n = session.get_mut_or_insert_with(&COUNTER, || 0).await?;
    *n += 1;
    Ok(n.to_string())
}

async fn add_item(session: Session, Query(q): Query<ItemQuery>) -> Response {
    if !app::valid_text(&q.item) {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let result = async {
        let mut cart = session.get_mut_or_insert_with(&CART, Vec::new).await?;
        app::push_item(&mut cart, q.item);
        Ok::<_, SessionFailure>(cart.len().to_string())
    }
    .await;
    result.into_response()
}

async fn note(session: Session, Query(q): Query<NoteQuery>) -> Response {
    if !app::valid_text(&q.v) {
        return StatusCode::BAD_REQUEST.into_response();
    }
    match session.insert(&NOTE, q.v).await {
        Ok(()) => "ok".into_response(),
        Err(e) => SessionFailure(e).into_response(),
    }
}

async fn blob(session: Session, Query(q): Query<BlobQuery>) -> Response {
    let Some(blob) = app::blob(q.size) else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    match session.insert(&BLOB, blob).await {
        Ok(()) => "ok".into_response(),
        Err(e) => SessionFailure(e).into_response(),
    }
}

async fn fill_items(session: Session, Query(q): Query<FillQuery>) -> Response {
    let Some(cart) = app::filled_cart(q.n) else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    match session.insert(&ITEMS, cart).await {
        Ok(()) => q.n.to_string().into_response(),
        Err(e) => SessionFailure(e).into_response(),
    }
}

async fn set_quantity(session: Session, Query(q): Query<QuantityQuery>) -> Response {
    edit_items(session, |cart| app::set_quantity(cart, q.i, q.q)).await
}

async fn replace_item(session: Session, Query(q): Query<ReplaceQuery>) -> Response {
    edit_items(session, |cart| app::replace_item(cart, q.i, &q.sku)).await
}

/// Changes the large cart in place; 404 without one, 400 if `f` refuses.
async fn edit_items(session: Session, f: impl FnOnce(&mut Vec<CartItem>) -> bool) -> Response {
    let result = async {
        let Some(mut cart) = session.get_mut(&ITEMS).await? else {
            return Ok(StatusCode::NOT_FOUND.into_response());
        };
        Ok::<_, SessionFailure>(if f(&mut cart) {
            "ok".into_response()
        } else {
            StatusCode::BAD_REQUEST.into_response()
        })
    }
    .await;
    result.into_response()
}
