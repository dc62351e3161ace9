//! The demo web app one node serves: a counter, a cart, login and logout.

use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use tenure_axum::{CookieConfig, CookieConfigError, Session, SessionFailure, SessionLayer};
use tenure_core::Key;
use tenure_node::Node;

/// The attributes the demo keeps.
pub const COUNTER: Key<u64> = Key::new("counter");
/// The cart: item names in order.
pub const CART: Key<Vec<String>> = Key::new("cart");
/// The logged-in user.
pub const USER: Key<String> = Key::new("user");

/// Longest cart item or user name accepted.
const MAX_TEXT: usize = 100;
/// Most items a cart holds.
const MAX_ITEMS: usize = 100;

/// The response header naming the node that served a request.
pub const NODE_HEADER: &str = "x-tenure-node";

#[derive(Clone)]
struct AppState {
    name: String,
}

/// The demo app for one node called `name`. `cookies` sets the session cookie (the
/// demo runs over plain HTTP, so it is not `Secure`).
pub fn app(node: Node, name: &str, cookies: CookieConfig) -> Result<Router, CookieConfigError> {
    let header = HeaderValue::from_str(name).unwrap_or(HeaderValue::from_static("node"));
    let sessions = SessionLayer::new(node).with_cookies(cookies)?;
    Ok(Router::new()
        .route("/", get(page))
        .route("/counter", get(counter).post(increment))
        .route("/cart", get(cart).post(add_to_cart))
        .route("/session", get(show_session))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .layer(sessions)
        .layer(axum::middleware::map_response(move |mut res: Response| {
            let header = header.clone();
            async move {
                res.headers_mut().insert(NODE_HEADER, header);
                res
            }
        }))
        .with_state(AppState {
            name: name.to_string(),
        }))
}

async fn counter(session: Session) -> Result<String, SessionFailure> {
    Ok(session.get(&COUNTER).await?.unwrap_or(0).to_string())
}

async fn increment(session: Session) -> Result<String, SessionFailure> {
    let mut n = session.get_mut_or_insert_with(&COUNTER, || 0).await?;
    *n += 1;
    Ok(n.to_string())
}

async fn cart(session: Session) -> Result<Json<Vec<String>>, SessionFailure> {
    Ok(Json(session.get(&CART).await?.unwrap_or_default()))
}

#[derive(Deserialize)]
struct ItemForm {
    item: String,
}

#[derive(Deserialize)]
struct UserForm {
    user: String,
}

/// Reads a form or JSON body, by content type.
async fn form_or_json<T: serde::de::DeserializeOwned + Send + 'static>(
    req: Request,
) -> Result<T, Response> {
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json {
        Json::<T>::from_request(req, &())
            .await
            .map(|Json(v)| v)
            .map_err(IntoResponse::into_response)
    } else {
        Form::<T>::from_request(req, &())
            .await
            .map(|Form(v)| v)
            .map_err(IntoResponse::into_response)
    }
}

fn bad_request(why: &'static str) -> Response {
    (StatusCode::BAD_REQUEST, why).into_response()
}

fn valid_text(s: &str) -> bool {
    !s.trim().is_empty() && s.len() <= MAX_TEXT && !s.chars().any(char::is_control)
}

async fn add_to_cart(session: Session, req: Request) -> Response {
    let item = match form_or_json::<ItemForm>(req).await {
        Ok(f) if valid_text(&f.item) => f.item,
        Ok(_) => return bad_request("item must be 1 to 100 printable characters"),
        Err(rejection) => return rejection,
    };
    let result = async {
        let mut cart = session.get_mut_or_insert_with(&CART, Vec::new).await?;
        if cart.len() >= MAX_ITEMS {
            return Ok(None);
        }
        cart.push(item);
        Ok::<_, SessionFailure>(Some(cart.clone()))
    }
    .await;
    match result {
        Ok(Some(cart)) => Json(cart).into_response(),
        Ok(None) => bad_request("the cart is full"),
        Err(e) => e.into_response(),
    }
}

async fn show_session(
    State(state): State<AppState>,
    session: Session,
) -> Result<Json<serde_json::Value>, SessionFailure> {
    let id = session.id().await?;
    Ok(Json(serde_json::json!({
        "node": state.name,
        "id": id.as_ref().map(|i| format!("{}…", i.prefix())),
        "counter": session.get(&COUNTER).await?.unwrap_or(0),
        "cart": session.get(&CART).await?.unwrap_or_default(),
        "user": session.get(&USER).await?,
    })))
}

async fn login(session: Session, req: Request) -> Response {
    let user = match form_or_json::<UserForm>(req).await {
        Ok(f) if valid_text(&f.user) => f.user,
        Ok(_) => return bad_request("user must be 1 to 100 printable characters"),
        Err(rejection) => return rejection,
    };
    let result = async {
        // A new id on privilege change: an id planted before login is worthless after.
        session.rotate_id().await?;
        session.insert(&USER, user.clone()).await?;
        Ok::<_, SessionFailure>(Json(serde_json::json!({ "user": user })))
    }
    .await;
    result.into_response()
}

async fn logout(session: Session) -> Result<StatusCode, SessionFailure> {
    session.delete().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn page(
    State(state): State<AppState>,
    session: Session,
) -> Result<Html<String>, SessionFailure> {
    let counter = session.get(&COUNTER).await?.unwrap_or(0);
    let cart = session.get(&CART).await?.unwrap_or_default();
    let user = session.get(&USER).await?;
    let id = session
        .id()
        .await?
        .map(|i| format!("{}…", i.prefix()))
        .unwrap_or_else(|| "(none yet)".into());
    let items: String = cart
        .iter()
        .map(|i| format!("<li>{}</li>", escape(i)))
        .collect();
    let user = user
        .map(|u| escape(&u))
        .unwrap_or_else(|| "(not logged in)".into());
    Ok(Html(format!(
        "<!doctype html><html><head><meta charset=utf-8><title>Tenure demo</title></head><body>\
         <h1>Tenure demo</h1>\
         <p>Served by <b>{node}</b>. Session <code>{id}</code>. User: {user}.</p>\
         <p>Counter: <b>{counter}</b></p>\
         <form method=post action=/counter><button>Increment</button></form>\
         <h2>Cart</h2><ul>{items}</ul>\
         <form method=post action=/cart><input name=item placeholder=item><button>Add</button></form>\
         <form method=post action=/login><input name=user placeholder=user><button>Log in</button></form>\
         <form method=post action=/logout><button>Log out</button></form>\
         </body></html>",
        node = escape(&state.name),
    )))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
