//! How session errors become HTTP responses.

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};
use tenure_node::SessionError;

/// A [`SessionError`] as an HTTP response, so handlers can use `?`:
///
/// | error | status |
/// |---|---|
/// | store unreachable, acquire timeout, tenure lost, shutting down | 503, with `Retry-After: 1` |
/// | optimistic conflict, held elsewhere (optimistic mode), lock deadlock, session gone | 409 |
/// | decode, encode, limits, misuse | 500 |
///
/// The body is a short generic text; the error itself is logged (it names attributes,
/// never values).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct SessionFailure(#[from] pub SessionError);

impl SessionFailure {
    /// The status this failure answers with.
    pub fn status(&self) -> StatusCode {
        match &self.0 {
            e if e.is_conflict() => StatusCode::CONFLICT,
            SessionError::Gone => StatusCode::CONFLICT,
            e if e.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
            SessionError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for SessionFailure {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(error = %self.0, "session request failed");
        }
        let body = match status {
            StatusCode::CONFLICT => "session changed concurrently; retry the request",
            StatusCode::SERVICE_UNAVAILABLE => "session store unavailable; retry shortly",
            _ => "session error",
        };
        let mut response = (status, body).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// The `Session` extractor was used on a route without the [`SessionLayer`](crate::SessionLayer).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the session layer is missing on this route")]
pub struct MissingSessionLayer;

impl IntoResponse for MissingSessionLayer {
    fn into_response(self) -> Response {
        tracing::error!("Session extractor used on a route without SessionLayer");
        (StatusCode::INTERNAL_SERVER_ERROR, "session layer missing").into_response()
    }
}
