//! Session events (issue 15): what a store's event log holds, read with
//! [`Store::events`](crate::Store::events).
//!
//! A store that keeps a log writes each event in the same atomic step as the change it
//! reports, and gives events ids that increase in the order the changes took effect,
//! with no id given to a change that is not yet visible. So a consumer that reads from
//! the id of the last event it handled, again and again, sees every event once and in
//! order, as long as the log still holds it: logs are bounded, and a consumer that
//! falls further behind is told ([`EventBatch::missed`]) instead of being silently
//! skipped ahead.

use std::fmt;
use std::str::FromStr;

use tenure_core::SessionId;

/// The position of one event in a store's log. Ids of one store increase in the
/// order its changes took effect; compare them only within one store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EventId {
    /// The major part (a sequence number, or a Redis stream id's milliseconds).
    pub major: u64,
    /// The minor part (0, or a Redis stream id's sequence).
    pub minor: u64,
}

impl EventId {
    /// Before every event: reading after it reads the whole log.
    pub const START: EventId = EventId { major: 0, minor: 0 };
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.major, self.minor)
    }
}

/// Text that is not an event id (`<major>-<minor>`, or a plain `<major>`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an event id (expected <number>-<number>): {0:?}")]
pub struct BadEventId(pub String);

impl FromStr for EventId {
    type Err = BadEventId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadEventId(s.chars().take(64).collect());
        let (major, minor) = s.split_once('-').unwrap_or((s, "0"));
        Ok(EventId {
            major: major.parse().map_err(|_| bad())?,
            minor: minor.parse().map_err(|_| bad())?,
        })
    }
}

/// What happened to a session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// The session was created.
    Created,
    /// The session moved to a new id (`rotate_id`); the old id is gone. The session's
    /// later events name the new id.
    Rotated {
        /// The new id.
        to: SessionId,
    },
    /// The session was given this principal (at creation or by a commit).
    PrincipalSet {
        /// The principal.
        principal: String,
    },
    /// The session's principal was taken away.
    PrincipalCleared,
    /// The session was deleted.
    Deleted,
    /// The session expired (its idle or absolute timeout passed), also while no node
    /// held it.
    Expired,
}

impl EventKind {
    /// A short name: `created`, `rotated`, `principal`, `principal-cleared`, `deleted`,
    /// `expired`.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Rotated { .. } => "rotated",
            EventKind::PrincipalSet { .. } => "principal",
            EventKind::PrincipalCleared => "principal-cleared",
            EventKind::Deleted => "deleted",
            EventKind::Expired => "expired",
        }
    }
}

/// One event of a store's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEvent {
    /// Its position in the log.
    pub id: EventId,
    /// The session it is about (for `Rotated`, the old id).
    pub session: SessionId,
    /// What happened.
    pub kind: EventKind,
}

/// What one [`Store::events`](crate::Store::events) call answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventBatch {
    /// The events after the caller's position, oldest first.
    pub events: Vec<SessionEvent>,
    /// True if the log no longer holds some events right after the caller's position
    /// (it is bounded, and they were dropped): the caller missed them.
    pub missed: bool,
}

/// How many events the embedded store's log keeps; older ones are dropped.
pub const MEMORY_EVENT_LOG: usize = 100_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_parse_and_order() {
        let id = EventId {
            major: 1700,
            minor: 3,
        };
        assert_eq!(id.to_string(), "1700-3");
        assert_eq!("1700-3".parse::<EventId>(), Ok(id));
        assert_eq!(
            "42".parse::<EventId>(),
            Ok(EventId {
                major: 42,
                minor: 0
            })
        );
        assert!("x-1".parse::<EventId>().is_err());
        assert!("1-2-3".parse::<EventId>().is_err());
        assert!(
            EventId {
                major: 1700,
                minor: 4
            } > id
        );
        assert!(
            EventId {
                major: 1701,
                minor: 0
            } > id
        );
        assert!(EventId::START < id);
    }
}
