//! The embedded store's event log (issue 15): events appended under the store's mutex
//! in the same step as the change they report, numbered 1, 2, 3, … in that order, the
//! oldest dropped beyond [`MEMORY_EVENT_LOG`].

use std::collections::VecDeque;

use tenure_core::SessionId;

use crate::events::{EventBatch, EventId, EventKind, SessionEvent, MEMORY_EVENT_LOG};

#[derive(Debug, Default)]
pub(super) struct EventLog {
    /// The number of the last event appended (0: none yet).
    last: u64,
    log: VecDeque<SessionEvent>,
}

impl EventLog {
    pub(super) fn push(&mut self, session: &SessionId, kind: EventKind) {
        self.last += 1;
        if self.log.len() == MEMORY_EVENT_LOG {
            self.log.pop_front();
        }
        self.log.push_back(SessionEvent {
            id: EventId {
                major: self.last,
                minor: 0,
            },
            session: session.clone(),
            kind,
        });
    }

    /// Up to `max` events after `after`, and whether some right after it were dropped.
    pub(super) fn read(&self, after: Option<EventId>, max: usize) -> EventBatch {
        let first = self.log.front().map_or(self.last + 1, |e| e.id.major);
        let from = after.map_or(first, |a| a.major.saturating_add(1));
        let missed = after.is_some() && from < first;
        let skip = usize::try_from(from.saturating_sub(first)).unwrap_or(usize::MAX);
        EventBatch {
            events: self.log.iter().skip(skip).take(max).cloned().collect(),
            missed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> Option<EventId> {
        Some(EventId { major: n, minor: 0 })
    }

    #[test]
    fn reads_follow_positions_and_report_what_was_dropped() {
        let mut log = EventLog::default();
        let sid = SessionId::generate().unwrap();
        assert!(log.read(None, 10).events.is_empty());
        for _ in 0..MEMORY_EVENT_LOG + 5 {
            log.push(&sid, EventKind::Created);
        }
        let all = log.read(None, usize::MAX);
        assert_eq!(all.events.len(), MEMORY_EVENT_LOG);
        assert_eq!(all.events[0].id.major, 6);
        assert!(!all.missed);
        let late = log.read(id(3), 2);
        assert!(late.missed, "events 4 and 5 were dropped");
        assert_eq!(late.events[0].id.major, 6);
        let on_time = log.read(id(5), 2);
        assert!(!on_time.missed);
        assert_eq!(on_time.events.len(), 2);
        let next = log.read(id(7), 1);
        assert_eq!(next.events[0].id.major, 8);
        assert!(log
            .read(id(MEMORY_EVENT_LOG as u64 + 5), 10)
            .events
            .is_empty());
    }
}
