//! The location cache: where this node last learned each session it does not hold is
//! (kept apart from the routing logic so the node's state can hold it without an
//! import cycle).

use std::collections::HashMap;

use tenure_core::sync::lock;
use tenure_core::{OwnerId, SessionId};

/// A live node that holds a session, and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    /// The session.
    pub sid: SessionId,
    /// The holder's owner id.
    pub holder: OwnerId,
    /// The `host:port` the holder advertised.
    pub address: String,
    /// What the holder expects in the forwarding header: proof that the request comes
    /// from a node. Never log it.
    pub token: String,
}

/// A cached location: the holder, "take it" (the holder gave it up for us), or
/// "moving" (this node gave it up, or its holder said it no longer has it): until
/// when the node waits for the store to name its next holder.
#[derive(Debug, Clone)]
pub(crate) enum Cached {
    At(Forward),
    Take,
    Moving(tokio::time::Instant),
}

/// How long a node waits, for a session it saw move (it gave it up, or its holder
/// answered 421), for the store to name the next holder before it would take the
/// session itself: taking it in the middle of a handoff starts a recall war.
pub(crate) const HANDOFF_GRACE: std::time::Duration = std::time::Duration::from_millis(50);

/// The location cache: where this node last learned each session is.
#[derive(Debug, Default)]
pub(crate) struct Locations {
    map: std::sync::Mutex<HashMap<SessionId, Cached>>,
}

impl Locations {
    pub(crate) fn get(&self, sid: &SessionId) -> Option<Cached> {
        lock(&self.map).get(sid).cloned()
    }

    pub(crate) fn put(&self, sid: SessionId, cached: Cached, bound: usize) {
        let mut map = lock(&self.map);
        if map.len() >= bound && !map.contains_key(&sid) {
            // Entries are only hints: dropping them all costs a `locate` each.
            map.clear();
        }
        map.insert(sid, cached);
    }

    pub(crate) fn forget(&self, sid: &SessionId) {
        lock(&self.map).remove(sid);
    }
}
