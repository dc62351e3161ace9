//! actix-session 0.11 with its `RedisSessionStore`, on actix-web. Each node runs on
//! its own thread with its own actix system and one worker, as an app server would.

use actix_session::storage::RedisSessionStore;
use actix_session::{Session, SessionMiddleware};
use actix_web::dev::ServerHandle;
use actix_web::{error, web, App, HttpResponse, HttpServer};

use super::{Env, RunningNode};
use crate::app::{
    self, BlobQuery, CartItem, FillQuery, ItemQuery, NoteQuery, QuantityQuery, ReplaceQuery,
};
use crate::BenchError;

/// Worker threads per node.
const WORKERS: usize = 1;

pub(super) async fn start(env: &Env) -> Result<RunningNode, BenchError> {
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let url = env.store_url.clone();
    let key = env.actix_key.clone();
    let thread = std::thread::Builder::new()
        .name("actix-node".into())
        .spawn(move || {
            let system = actix_web::rt::System::new();
            system.block_on(async move {
                let started = async {
                    let store = RedisSessionStore::new(url)
                        .await
                        .map_err(|e| e.to_string())?;
                    let server = HttpServer::new(move || {
                        App::new()
                            .wrap(
                                SessionMiddleware::builder(store.clone(), key.clone())
                                    .cookie_secure(false)
                                    .build(),
                            )
                            .route("/counter", web::get().to(read))
                            .route("/counter", web::post().to(increment))
                            .route("/cart", web::post().to(add_item))
                            .route("/note", web::post().to(note))
                            .route("/blob", web::post().to(blob))
                            .route("/items/fill", web::post().to(fill_items))
                            .route("/items/set", web::post().to(set_quantity))
                            .route("/items/replace", web::post().to(replace_item))
                    })
                    .workers(WORKERS)
                    .disable_signals()
                    .bind(("127.0.0.1", 0))
                    .map_err(|e| e.to_string())?;
                    let addr = server.addrs().first().copied().ok_or("no address bound")?;
                    Ok::<_, String>((addr, server.run()))
                }
                .await;
                match started {
                    Ok((addr, server)) => {
                        let _ = ready_tx.send(Ok((addr, server.handle())));
                        if let Err(e) = server.await {
                            tracing::error!(error = %e, "actix server stopped");
                        }
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            })
        })?;
    let (addr, handle): (_, ServerHandle) = ready_rx
        .await
        .map_err(|_| BenchError::Peer("actix node thread ended".into()))?
        .map_err(BenchError::Peer)?;
    Ok(RunningNode {
        addr,
        stop: Box::new(move || {
            Box::pin(async move {
                handle.stop(true).await;
                let _ = tokio::task::spawn_blocking(move || thread.join()).await;
            })
        }),
    })
}

async fn read(session: Session) -> actix_web::Result<String> {
    let n: Option<u64> = session.get(app::COUNTER)?;
    Ok(n.unwrap_or(0).to_string())
}

async fn increment(session: Session) -> actix_web::Result<String> {
    let n = session.get::<u64>(app::COUNTER)?.unwrap_or(0) + 1;
    session.insert(app::COUNTER, n)?;
    Ok(n.to_string())
}

async fn add_item(session: Session, q: web::Query<ItemQuery>) -> actix_web::Result<String> {
    let q = q.into_inner();
    if !app::valid_text(&q.item) {
        return Err(error::ErrorBadRequest("bad item"));
    }
    let mut cart: Vec<String> = session.get(app::CART)?.unwrap_or_default();
    app::push_item(&mut cart, q.item);
    let len = cart.len();
    session.insert(app::CART, cart)?;
    Ok(len.to_string())
}

async fn note(session: Session, q: web::Query<NoteQuery>) -> actix_web::Result<HttpResponse> {
    let q = q.into_inner();
    if !app::valid_text(&q.v) {
        return Err(error::ErrorBadRequest("bad note"));
    }
    session.insert(app::NOTE, q.v)?;
    Ok(HttpResponse::Ok().body("ok"))
}

async fn blob(session: Session, q: web::Query<BlobQuery>) -> actix_web::Result<HttpResponse> {
    let blob = app::blob(q.size).ok_or_else(|| error::ErrorPayloadTooLarge("too large"))?;
    session.insert(app::BLOB, blob)?;
    Ok(HttpResponse::Ok().body("ok"))
}

async fn fill_items(session: Session, q: web::Query<FillQuery>) -> actix_web::Result<String> {
    let cart = app::filled_cart(q.n).ok_or_else(|| error::ErrorPayloadTooLarge("too large"))?;
    session.insert(app::ITEMS, cart)?;
    Ok(q.n.to_string())
}

async fn set_quantity(
    session: Session,
    q: web::Query<QuantityQuery>,
) -> actix_web::Result<HttpResponse> {
    edit_items(&session, |cart| app::set_quantity(cart, q.i, q.q))
}

async fn replace_item(
    session: Session,
    q: web::Query<ReplaceQuery>,
) -> actix_web::Result<HttpResponse> {
    edit_items(&session, |cart| app::replace_item(cart, q.i, &q.sku))
}

/// Reads the large cart, changes it, writes it back (the library's way).
fn edit_items(
    session: &Session,
    f: impl FnOnce(&mut Vec<CartItem>) -> bool,
) -> actix_web::Result<HttpResponse> {
    let mut cart: Vec<CartItem> = session
        .get(app::ITEMS)?
        .ok_or_else(|| error::ErrorNotFound("no cart"))?;
    if !f(&mut cart) {
        return Err(error::ErrorBadRequest("no such item"));
    }
    session.insert(app::ITEMS, cart)?;
    Ok(HttpResponse::Ok().body("ok"))
}
