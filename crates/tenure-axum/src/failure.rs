//! How session errors become HTTP responses.

use axum::response::{IntoResponse, IntoResponseParts, Response, ResponseParts};
use http::{header, HeaderValue, StatusCode};
use tenure_node::SessionError;

/// The response header that says what became of a failed request's session changes:
/// `not-stored` (on 503) or `unknown` (on 504).
pub const OUTCOME: header::HeaderName = header::HeaderName::from_static("tenure-outcome");

/// A [`SessionError`] as an HTTP response, so handlers can use `?`:
///
/// | error | status | stored? |
/// |---|---|---|
/// | store unreachable, acquire timeout, tenure lost, shutting down | 503, with `Retry-After: 1` and `Tenure-Outcome: not-stored` | nothing of the request |
/// | commit sent but not confirmed ([`SessionError::OutcomeUnknown`]) | 504, with `Tenure-Outcome: unknown` | maybe: check before retrying |
/// | optimistic conflict, held elsewhere (optimistic mode), lock deadlock, session gone | 409 | nothing |
/// | decode, encode, limits, misuse | 500 | nothing |
/// | a forwarded request for a session not held here ([`SessionError::NotHere`]) | 421, with `Tenure-Route: elsewhere`; only nodes see it (the sender routes again) | nothing |
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
            SessionError::OutcomeUnknown => StatusCode::GATEWAY_TIMEOUT,
            // Only a request forwarded by another node sees this; that node routes it
            // again (I19), so no client does.
            SessionError::NotHere => StatusCode::MISDIRECTED_REQUEST,
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
        let body = match (&self.0, status) {
            (_, StatusCode::CONFLICT) => "session changed concurrently; retry the request",
            (SessionError::AcquireTimeout(_), _) => {
                "session in use by another server; nothing was stored; retry shortly"
            }
            (SessionError::ShuttingDown, _) => {
                "server shutting down; nothing was stored; retry shortly"
            }
            (_, StatusCode::SERVICE_UNAVAILABLE) => {
                "session store unavailable; nothing was stored; retry shortly"
            }
            (_, StatusCode::GATEWAY_TIMEOUT) => {
                "session store did not confirm whether the changes were stored; check before retrying"
            }
            _ => "session error",
        };
        // The request failed on its session: what it changed must not be stored (a
        // client told to retry would otherwise apply it twice).
        let mut response = (status, DiscardSession, body).into_response();
        let headers = response.headers_mut();
        match status {
            StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                headers.insert(OUTCOME, HeaderValue::from_static("not-stored"));
            }
            StatusCode::GATEWAY_TIMEOUT => {
                headers.insert(OUTCOME, HeaderValue::from_static("unknown"));
            }
            StatusCode::MISDIRECTED_REQUEST => {
                headers.insert(crate::ROUTE, HeaderValue::from_static("elsewhere"));
            }
            _ => {}
        }
        response
    }
}

/// Part of a response that tells the [`SessionLayer`](crate::SessionLayer) to store
/// nothing of this request's session changes (as if the request had not run):
/// `(StatusCode::BAD_REQUEST, DiscardSession, "try again")`. A rotation or deletion
/// already done at the store stands, and the response still carries its cookie.
/// [`SessionFailure`] responses carry it.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiscardSession;

impl IntoResponseParts for DiscardSession {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        res.extensions_mut().insert(self);
        Ok(res)
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
