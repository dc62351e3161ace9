//! Tenure sessions for axum (and any tower service with axum bodies).
//!
//! | item | what it is |
//! |---|---|
//! | [`SessionLayer`] | the tower layer: cookie in, lazily loaded session, write policy applied after the handler, cookie out |
//! | [`Session`] | the extractor: `get`, `get_mut`, `insert`, `remove`, `rotate_id`, `delete` |
//! | [`CookieConfig`] | cookie name and attributes (secure by default), plain, signed or encrypted values with key rotation |
//! | [`SessionFailure`] | a session error as a response: 503 when nothing was stored, 504 when the store did not confirm a commit, 409 on a conflict |
//! | [`serve`](mod@serve) | an HTTP server for the app with header, idle and body timeouts, a connection bound and graceful shutdown |
//!
//! A missing, malformed, forged, oversized or unknown cookie starts a new session;
//! it is never an error. When several cookies carry the session's name, the first
//! that verifies and names a live session wins (a quoted value is unquoted).
#![doc(test(attr(deny(warnings))))]

mod cookies;
mod extract;
mod failure;
mod forward;
mod handle;
mod layer;
mod presented;
mod route_cookie;
pub mod serve;

pub use cookie::{Key, SameSite};
pub use cookies::{CookieConfig, CookieConfigError, Protection};
pub use extract::{AttrMut, Session};
pub use failure::{DiscardSession, MissingSessionLayer, SessionFailure, OUTCOME};
pub use forward::{FORWARDED, MAX_FORWARDED_BODY, ROUTE};
pub use layer::{SessionLayer, SessionService};
pub use tenure_node::SessionError;
