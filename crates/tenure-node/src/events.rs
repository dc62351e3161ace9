//! [`Node::events`]: the store's session events as a stream a consumer reads and can
//! resume (issue 15).
//!
//! The stream reads the store's log ([`Store::events`]) from a position, in batches,
//! and waits [`EVENT_POLL`] between reads that find nothing new. A consumer keeps
//! [`EventStream::position`] (the id of the last event it handled) and, after a
//! restart, passes it to [`Node::events`] again: it then reads every event after it,
//! once and in order, as long as the store's bounded log still holds them; if it does
//! not, the stream says so ([`EventError::Missed`]) before going on.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tenure_core::Codec;
use tenure_store::{EventId, SessionEvent, Store, StoreError};

use crate::Node;

/// How long the stream waits before reading the log again when it found nothing new.
pub const EVENT_POLL: Duration = Duration::from_millis(200);

/// The most events one read of the log asks for.
const BATCH: usize = 1000;

/// Why the stream did not give the next event.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The store could not be read (or keeps no log: `StoreError::Unsupported`). The
    /// stream stays at its position: calling `next` again retries.
    #[error("reading the store's events failed: {0}")]
    Store(#[from] StoreError),
    /// The store's log no longer holds some events after the position (it is bounded,
    /// and the consumer was away too long): they are lost to this consumer. The
    /// stream goes on with the oldest event the log holds.
    #[error("events after {after} were dropped from the store's log before they were read")]
    Missed {
        /// The position the stream read from.
        after: EventId,
    },
}

/// The store's session events, from a position: read with [`next`](Self::next),
/// resumed from [`position`](Self::position).
#[derive(Debug)]
pub struct EventStream {
    store: Arc<dyn Store>,
    position: Option<EventId>,
    buffer: VecDeque<SessionEvent>,
}

impl EventStream {
    /// The next event, waiting for one if there is none yet.
    pub async fn next(&mut self) -> Result<SessionEvent, EventError> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                self.position = Some(event.id);
                return Ok(event);
            }
            let batch = self.store.events(self.position, BATCH).await?;
            let found = !batch.events.is_empty();
            self.buffer.extend(batch.events);
            if batch.missed {
                if let Some(after) = self.position {
                    return Err(EventError::Missed { after });
                }
            }
            if !found {
                tokio::time::sleep(EVENT_POLL).await;
            }
        }
    }

    /// The id of the last event [`next`](Self::next) gave, or the position the stream
    /// started from: where to resume ([`Node::events`]).
    pub fn position(&self) -> Option<EventId> {
        self.position
    }
}

impl<C: Codec> Node<C> {
    /// The store's session events after `after` (`None`: from the oldest the store's
    /// log holds): created, rotated, principal set or cleared, deleted, expired, for
    /// every session of the store, whichever node changed it. The store's log decides
    /// what is delivered: docs/ARCHITECTURE.md, "Principals and session events", says
    /// what each store promises.
    pub fn events(&self, after: Option<EventId>) -> EventStream {
        EventStream {
            store: self.inner.store.clone(),
            position: after,
            buffer: VecDeque::new(),
        }
    }
}
