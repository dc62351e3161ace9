//! The demo's "your devices" page and "log out everywhere" (issue 15): the logged-in
//! user's sessions from the store's principal index, and ending all of them.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use tenure_axum::{Session, SessionFailure};
use tenure_core::Key;
use tenure_node::{SessionError, SessionOf};
use tenure_store::StoreError;

use super::app::AppState;
use super::page::{back_home, escape, wants_html};

/// The device a session logged in from (the login form's `device`, else the
/// client's `User-Agent`): the label `GET /devices` shows.
pub const DEVICE: Key<String> = Key::new("device");

/// Longest device label kept.
pub const MAX_DEVICE: usize = 100;

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// What a failed listing answers: 501 where the store keeps no index.
fn failure(e: SessionError) -> Response {
    match e {
        SessionError::Store(StoreError::Unsupported(what)) => (
            StatusCode::NOT_IMPLEMENTED,
            format!("this store does not support {what}"),
        )
            .into_response(),
        e => SessionFailure(e).into_response(),
    }
}

/// The logged-in user (the session's principal), or the response that says why not.
async fn logged_in(session: &Session) -> Result<String, Response> {
    match session.principal().await {
        Ok(Some(user)) => Ok(user),
        Ok(None) => Err((StatusCode::UNAUTHORIZED, "log in first").into_response()),
        Err(e) => Err(SessionFailure(e).into_response()),
    }
}

/// `GET /devices`: the user's live sessions, each with its device, when it was created
/// and last used, and whether it is this one. Ids are shown by their prefix only.
pub(super) async fn devices(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
) -> Response {
    let user = match logged_in(&session).await {
        Ok(user) => user,
        Err(refused) => return refused,
    };
    let listed = match state.node.sessions_of(&user).await {
        Ok(listed) => listed,
        Err(e) => return failure(e),
    };
    let current = session.id();
    let this = |s: &SessionOf| current.as_ref() == Some(&s.id);
    if wants_html(&headers) {
        let rows: String = listed
            .iter()
            .map(|s| {
                format!(
                    "<tr><td><code>{}…</code></td><td>{}</td><td>{}</td></tr>",
                    escape(s.id.prefix()),
                    escape(s.label.as_deref().unwrap_or("unknown")),
                    if this(s) { "this one" } else { "" },
                )
            })
            .collect();
        return Html(format!(
            "<!doctype html><html lang=en><head><meta charset=utf-8><title>Your devices</title>\
             </head><body><h1>Sessions of {}</h1><table>\
             <tr><th>session</th><th>device</th><th></th></tr>{rows}</table>\
             <form method=post action=/logout-everywhere><button>Log out everywhere</button></form>\
             <p><a href=/>back</a></p></body></html>",
            escape(&user)
        ))
        .into_response();
    }
    let list: Vec<_> = listed
        .iter()
        .map(|s| {
            serde_json::json!({
                "id": format!("{}…", s.id.prefix()),
                "device": s.label,
                "created_ms": unix_ms(s.created),
                "last_access_ms": unix_ms(s.last_access),
                "current": this(s),
            })
        })
        .collect();
    Json(serde_json::json!({ "user": user, "sessions": list })).into_response()
}

/// `POST /logout-everywhere`: ends every session of the user, this one last.
pub(super) async fn logout_everywhere(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
) -> Response {
    let user = match logged_in(&session).await {
        Ok(user) => user,
        Err(refused) => return refused,
    };
    // This request holds its own session: it is ended through the handle.
    let ended = match state
        .node
        .delete_sessions_of(&user, session.id().as_ref())
        .await
    {
        Ok(n) => n,
        Err(e) => return failure(e),
    };
    if let Err(e) = session.delete().await {
        return SessionFailure(e).into_response();
    }
    if wants_html(&headers) {
        return back_home();
    }
    Json(serde_json::json!({ "user": user, "ended": ended + 1 })).into_response()
}
