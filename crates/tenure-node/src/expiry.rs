//! Per-session expiry: how long one session lives, chosen by the app for that session
//! (the "remember me" box at login), as against the node's default timeouts.
//!
//! The choice travels with the session as a reserved attribute (so every node, in
//! every mode, knows it on every request: the cookie's lifetime depends on it), and
//! the store's timeouts change in the same commit (`Delta::expiry`), so the two never
//! disagree and a request that fails changes neither.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tenure_core::Expiry;

/// The reserved attribute that holds a session's [`SessionExpiry`]. Its name starts
/// with a NUL byte, which the session API refuses in names, so it cannot clash with an
/// app's attribute.
pub(crate) const EXPIRY_ATTR: &str = "\u{0}tenure.expiry";

/// Whether an attribute name is reserved for Tenure itself.
pub(crate) fn reserved(name: &str) -> bool {
    name.starts_with('\u{0}')
}

/// How long one session lives ([`Session::set_expiry`](crate::Session::set_expiry)).
///
/// ```
/// use std::time::Duration;
/// use tenure_node::SessionExpiry;
/// // "Remember me": a persistent cookie, and the session lives while used at least
/// // once every 30 days.
/// let remember = SessionExpiry::OnInactivity(Duration::from_secs(30 * 24 * 3600));
/// # let _ = remember;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SessionExpiry {
    /// The default: the cookie ends with the browser session, and the store keeps the
    /// session for the node's timeouts ([`NodeConfig::expiry`](crate::NodeConfig)).
    OnSessionEnd,
    /// A persistent cookie of this lifetime, re-sent whenever the session is used (it
    /// slides); the session ends after this long unused, with no absolute timeout.
    OnInactivity(Duration),
    /// A persistent cookie until this time, when the session ends whatever its use.
    AtDateTime(SystemTime),
}

impl SessionExpiry {
    /// The store's timeouts for this choice, given the node's defaults, at `now`.
    pub(crate) fn timeouts(self, defaults: Expiry, now: SystemTime) -> Expiry {
        match self {
            Self::OnSessionEnd => defaults,
            Self::OnInactivity(idle) => Expiry::idle(idle),
            // The store's absolute timeout counts from creation, which a node that
            // only loaded the session does not know; an idle timeout that runs out at
            // `at` (if unused meanwhile) together with the check below (never served
            // after `at`) ends it at `at` in every mode.
            Self::AtDateTime(at) => Expiry::idle(
                at.duration_since(now)
                    .unwrap_or_default()
                    .max(Duration::from_millis(1)),
            ),
        }
    }

    /// Whether the session has ended by its own choice at `now`.
    pub(crate) fn ended(self, now: SystemTime) -> bool {
        matches!(self, Self::AtDateTime(at) if now >= at)
    }

    /// The cookie lifetime this choice asks for at `now`: `Some(None)` for a
    /// browser-session cookie, `Some(Some(d))` for a persistent one.
    pub fn cookie_max_age(self, now: SystemTime) -> Option<Duration> {
        match self {
            Self::OnSessionEnd => None,
            Self::OnInactivity(d) => Some(d),
            Self::AtDateTime(at) => Some(at.duration_since(now).unwrap_or_default()),
        }
    }
}
