//! When a session ends at the store: its timeouts.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A session's timeouts at the store, set at `create` and replaced by a commit that
/// carries new ones ([`Delta::expiry`](crate::Delta::expiry)).
///
/// ```
/// use std::time::Duration;
/// use tenure_core::Expiry;
/// let remember_me = Expiry::idle(Duration::from_secs(30 * 24 * 3600));
/// assert_eq!(remember_me.absolute, None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Expiry {
    /// Expire after this long without an access (sliding).
    pub idle: Option<Duration>,
    /// Expire this long after creation, whatever the activity.
    pub absolute: Option<Duration>,
}

impl Expiry {
    /// Only an idle timeout.
    pub const fn idle(idle: Duration) -> Self {
        Self {
            idle: Some(idle),
            absolute: None,
        }
    }

    /// Only an absolute timeout, counted from the session's creation.
    pub const fn absolute(absolute: Duration) -> Self {
        Self {
            idle: None,
            absolute: Some(absolute),
        }
    }
}
