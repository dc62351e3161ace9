//! The request's session slot, shared by the layer and every clone of the extractor,
//! and the choice among the ids the request presented.
//!
//! A request may present several verified ids (several cookies of the session's name,
//! [`crate::presented`]). The session is opened on the first. When it is first used
//! and that id names no live session (unknown, expired, deleted), the next id is
//! opened, and so on: the first that names a live session wins; when none does, the
//! request has a new session, as with no cookie. With one id (the normal case) nothing
//! extra happens: the handler's first call attaches the session as it always does.
//! Each id that names no session costs its store call (an `acquire`, or a `load` in
//! the other modes), and there are at most
//! [`MAX_CANDIDATES`](crate::presented::MAX_CANDIDATES) of them.

use std::collections::VecDeque;
use std::sync::Arc;

use tenure_core::{Codec, SessionId};
use tenure_node::{Node, SessionError};
use tokio::sync::Mutex;

use crate::presented::Presented;

/// The request's node session, shared by the layer and every clone of the extractor.
/// The layer takes it back to end the request after the handler returns.
pub(crate) struct Handle<C: Codec>(pub(crate) Arc<Shared<C>>);

pub(crate) struct Shared<C: Codec> {
    /// Locked only for the duration of one call, never while a guard lives: a guard
    /// from `get_mut` locks its attribute only.
    pub(crate) slot: Mutex<Slot<C>>,
    /// The id as of the last call, for a synchronous `Session::id`.
    pub(crate) id: std::sync::Mutex<Option<SessionId>>,
}

/// The session and the presented ids not tried yet.
pub(crate) struct Slot<C: Codec> {
    session: Option<tenure_node::Session<C>>,
    /// The ids after the one `session` was opened on, and the node that opens them;
    /// `None` once the choice is made (or when only one id was presented).
    rest: Option<(Node<C>, VecDeque<SessionId>)>,
    /// Which presented id `session` was opened on (0: the first).
    chosen: usize,
}

impl<C: Codec> Handle<C> {
    /// The request's session, opened on the first `presented` id (none: a new one).
    pub(crate) fn open(node: &Node<C>, presented: &[Presented], forwarded: bool) -> Self {
        let mut ids = presented.iter().map(|p| p.id.clone());
        let mut session = node.session(ids.next());
        if forwarded {
            // Only the first id was routed; served only from a copy held here.
            session.set_forwarded();
        }
        // A forwarded request was routed by its first id alone: it tries no other.
        let rest: VecDeque<SessionId> = if forwarded {
            VecDeque::new()
        } else {
            ids.collect()
        };
        let slot = Slot {
            session: Some(session),
            rest: (!rest.is_empty()).then(|| (node.clone(), rest)),
            chosen: 0,
        };
        Self(Arc::new(Shared {
            slot: Mutex::new(slot),
            // A presented id is only the client's claim until the session is used.
            id: std::sync::Mutex::new(None),
        }))
    }
}

impl<C: Codec> Clone for Handle<C> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<C: Codec> Slot<C> {
    /// The session to use: on the first call with several presented ids, the first of
    /// them that names a live session. An error from the store (not an id that names
    /// no session) is returned, and the next call carries on from the same id.
    pub(crate) async fn session(&mut self) -> Result<&mut tenure_node::Session<C>, SessionError> {
        if let Some((node, rest)) = &mut self.rest {
            loop {
                let session = self.session.as_mut().ok_or(SessionError::Ended)?;
                // The attach the handler's first call would make anyway; for the
                // first id it costs nothing extra.
                session.expiry_now().await?;
                if !session.is_new() {
                    break;
                }
                let Some(next) = rest.pop_front() else {
                    break; // none is live: a new session
                };
                self.session = Some(node.session(Some(next)));
                self.chosen += 1;
            }
            if self.chosen > 0 {
                tracing::debug!(
                    cookie = self.chosen + 1,
                    "an earlier session cookie named no live session; using a later one"
                );
            }
            self.rest = None;
        }
        self.session.as_mut().ok_or(SessionError::Ended)
    }

    /// Takes the session out (the request is over), with the presented id it was
    /// opened on (from `presented`, the list it was opened with).
    pub(crate) fn take(
        &mut self,
        presented: &[Presented],
    ) -> Option<(tenure_node::Session<C>, Option<Presented>)> {
        let session = self.session.take()?;
        Some((session, presented.get(self.chosen).cloned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tenure_node::NodeConfig;
    use tenure_test::CountingStore;

    fn presented(ids: &[&SessionId]) -> Vec<Presented> {
        let p = |id: &&SessionId| Presented {
            id: (*id).clone(),
            reissue: false,
        };
        ids.iter().map(p).collect()
    }

    #[tokio::test]
    async fn the_first_live_id_wins_and_one_id_costs_nothing_extra() {
        let store = CountingStore::new(tenure_store::MemoryStore::new());
        let node = Node::start(Arc::new(store.clone()), NodeConfig::new())
            .await
            .unwrap();
        let mut live = node.session(None);
        live.insert("n", 7u64).await.unwrap();
        let live = live.end().await.unwrap().id.unwrap();
        node.release(&live).await.unwrap();
        let (dead, other) = (
            SessionId::generate().unwrap(),
            SessionId::generate().unwrap(),
        );

        let before = store.counts();
        let handle = Handle::open(&node, &presented(&[&live]), false);
        let mut slot = handle.0.slot.lock().await;
        let n = slot.session().await.unwrap().get::<u64>("n").await.unwrap();
        assert_eq!(n, Some(7));
        assert_eq!((store.counts() - before).total(), 1, "one acquire, as ever");
        let (_, chosen) = slot.take(&presented(&[&live])).unwrap();
        assert_eq!(chosen.unwrap().id, live);

        let ids = presented(&[&dead, &live, &other]);
        let handle = Handle::open(&node, &ids, false);
        let mut slot = handle.0.slot.lock().await;
        let session = slot.session().await.unwrap();
        assert_eq!(session.id(), Some(&live));
        let (_, chosen) = slot.take(&ids).unwrap();
        assert_eq!(chosen.unwrap().id, live);

        let ids = presented(&[&dead, &other]);
        let handle = Handle::open(&node, &ids, false);
        let mut slot = handle.0.slot.lock().await;
        assert!(slot.session().await.unwrap().is_new(), "none live: new");
    }
}
