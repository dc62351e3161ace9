//! tower-sessions 0.14 over tower-sessions-redis-store 0.16, optionally behind its
//! `CachingSessionStore` with a moka cache, or over tower-sessions-sqlx-store 0.15's
//! `PostgresStore`, set up as their READMEs show; and over its process-local
//! `MemoryStore`, the limit (no store at all).

use axum::extract::Query;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use tower_sessions::{
    CachingSessionStore, MemoryStore, Session, SessionManagerLayer, SessionStore,
};
use tower_sessions_moka_store::MokaStore;
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};
use tower_sessions_redis_store::RedisStore;
use tower_sessions_sqlx_store::sqlx::postgres::PgPoolOptions;
use tower_sessions_sqlx_store::PostgresStore;

use super::{bind, serve_axum, Env, RunningNode};
use crate::app::{
    self, BlobQuery, CartItem, FillQuery, ItemQuery, NoteQuery, QuantityQuery, ReplaceQuery,
};
use crate::BenchError;

/// Connections per node, as in the store's README.
pub(super) const POOL_SIZE: usize = 6;
/// Sessions each node's moka cache keeps.
const CACHE_CAPACITY: u64 = 100_000;

pub(super) async fn start(env: &Env, cached: bool) -> Result<RunningNode, BenchError> {
    let (listener, addr) = bind().await?;
    let config = Config::from_url(&env.store_url).map_err(|e| BenchError::Peer(e.to_string()))?;
    let pool = Pool::new(config, None, None, None, POOL_SIZE)
        .map_err(|e| BenchError::Peer(e.to_string()))?;
    pool.init()
        .await
        .map_err(|e| BenchError::Peer(e.to_string()))?;
    let redis = RedisStore::new(pool.clone());
    let app = if cached {
        let moka = MokaStore::new(Some(CACHE_CAPACITY));
        routes(CachingSessionStore::new(moka, redis))
    } else {
        routes(redis)
    };
    Ok(serve_axum(listener, addr, app, async move {
        let _ = pool.quit().await;
    }))
}

/// A node on the PostgreSQL part's database: a sqlx pool of [`POOL_SIZE`] and the
/// store's own migration (its `tower_sessions.session` table), as its README shows.
pub(super) async fn start_postgres(env: &Env) -> Result<RunningNode, BenchError> {
    let (listener, addr) = bind().await?;
    let pool = PgPoolOptions::new()
        .max_connections(POOL_SIZE as u32)
        .connect(&env.store_url)
        .await
        .map_err(|e| BenchError::Peer(e.to_string()))?;
    let store = PostgresStore::new(pool.clone());
    store
        .migrate()
        .await
        .map_err(|e| BenchError::Peer(e.to_string()))?;
    Ok(serve_axum(listener, addr, routes(store), async move {
        pool.close().await;
    }))
}

/// A node whose sessions live in its own memory (`MemoryStore`), shared with no
/// other node: what the app costs without a session store.
pub(super) async fn start_memory() -> Result<RunningNode, BenchError> {
    let (listener, addr) = bind().await?;
    Ok(serve_axum(
        listener,
        addr,
        routes(MemoryStore::default()),
        async {},
    ))
}

fn routes<S: SessionStore + Clone>(store: S) -> Router {
    Router::new()
        .route("/counter", get(read).post(increment))
        .route("/cart", post(add_item))
        .route("/note", post(note))
        .route("/blob", post(blob))
        .route("/items/fill", post(fill_items))
        .route("/items/set", post(set_quantity))
        .route("/items/replace", post(replace_item))
        .layer(SessionManagerLayer::new(store).with_secure(false))
}

fn failed<E>(_: E) -> StatusCode {
    StatusCode::INTERNAL_SERVER_ERROR
}

async fn read(session: Session) -> Result<String, StatusCode> {
    let n: Option<u64> = session.get(app::COUNTER).await.map_err(failed)?;
    Ok(n.unwrap_or(0).to_string())
}

async fn increment(session: Session) -> Result<String, StatusCode> {
    let n: u64 = session
        .get(app::COUNTER)
        .await
        .map_err(failed)?
        .unwrap_or(0)
        + 1;
    session.insert(app::COUNTER, n).await.map_err(failed)?;
    Ok(n.to_string())
}

async fn add_item(session: Session, Query(q): Query<ItemQuery>) -> Result<String, StatusCode> {
    if !app::valid_text(&q.item) {
        return Err(StatusCode::BAD_REQUEST);
    }
    let mut cart: Vec<String> = session
        .get(app::CART)
        .await
        .map_err(failed)?
        .unwrap_or_default();
    app::push_item(&mut cart, q.item);
    let len = cart.len();
    session.insert(app::CART, cart).await.map_err(failed)?;
    Ok(len.to_string())
}

async fn note(session: Session, Query(q): Query<NoteQuery>) -> Result<&'static str, StatusCode> {
    if !app::valid_text(&q.v) {
        return Err(StatusCode::BAD_REQUEST);
    }
    session.insert(app::NOTE, q.v).await.map_err(failed)?;
    Ok("ok")
}

async fn blob(session: Session, Query(q): Query<BlobQuery>) -> Result<&'static str, StatusCode> {
    let blob = app::blob(q.size).ok_or(StatusCode::PAYLOAD_TOO_LARGE)?;
    session.insert(app::BLOB, blob).await.map_err(failed)?;
    Ok("ok")
}

async fn fill_items(session: Session, Query(q): Query<FillQuery>) -> Result<String, StatusCode> {
    let cart = app::filled_cart(q.n).ok_or(StatusCode::PAYLOAD_TOO_LARGE)?;
    session.insert(app::ITEMS, cart).await.map_err(failed)?;
    Ok(q.n.to_string())
}

async fn set_quantity(
    session: Session,
    Query(q): Query<QuantityQuery>,
) -> Result<&'static str, StatusCode> {
    edit_items(session, |cart| app::set_quantity(cart, q.i, q.q)).await
}

async fn replace_item(
    session: Session,
    Query(q): Query<ReplaceQuery>,
) -> Result<&'static str, StatusCode> {
    edit_items(session, |cart| app::replace_item(cart, q.i, &q.sku)).await
}

/// Reads the large cart, changes it, writes it back (the library's way).
async fn edit_items(
    session: Session,
    f: impl FnOnce(&mut Vec<CartItem>) -> bool,
) -> Result<&'static str, StatusCode> {
    let mut cart: Vec<CartItem> = session
        .get(app::ITEMS)
        .await
        .map_err(failed)?
        .ok_or(StatusCode::NOT_FOUND)?;
    if !f(&mut cart) {
        return Err(StatusCode::BAD_REQUEST);
    }
    session.insert(app::ITEMS, cart).await.map_err(failed)?;
    Ok("ok")
}
