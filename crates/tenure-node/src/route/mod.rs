//! Forwarding: where a request for a session should be served (I19).
//!
//! Moving a session to the node that got a request costs 4–6 store calls and a wait
//! (recall, the holder's release commit, the new grant with the whole snapshot);
//! passing the request to the node that holds it costs one HTTP hop on the LAN and no
//! store call once the holder is known. So a node with an advertised address
//! ([`NodeConfig::advertise`](crate::NodeConfig)) forwards instead of recalling:
//!
//! - **Who knows where a session is.** The store: [`Store::locate`] names the holder
//!   of an unexpired lock and what it advertised (its address and a token, written
//!   with [`Store::advertise`] when the node registered). A node caches the answer per
//!   session and asks again only after a forward failed or the holder said "take it".
//! - **No loops.** A forwarded request is never forwarded again. Its receiver serves
//!   it if it holds the session; if it does not (the sender's location was stale: the
//!   session moved), it answers 421 before any handler runs, and the sender routes
//!   once more (asking the store) and otherwise serves the request itself: at most
//!   two hops, and a stale cache never makes a node take a session from its holder.
//! - **Trust.** The hop carries the receiver's token, which only nodes that can read
//!   the store learn: a client that sends the header without it is treated as any
//!   client, so it can neither skip forwarding nor pass for a node.
//! - **Failure.** A holder that cannot be reached makes the node forget the location
//!   and serve the request itself (the store path), counted in `forward_fallbacks`. A
//!   holder that answers with a session failure (it lost its store or its tenure) is
//!   asked about again: the next request asks the store, which names the new holder,
//!   or none once the old one's liveness ran out.
//! - **When the session moves instead** ([`streak`]): after [`MOVE_AFTER`](crate::MOVE_AFTER) (32)
//!   requests in a row reach the holder forwarded by the same node, with none sent to
//!   it directly, the balancer has settled there: the holder gives the session up and
//!   tells that node to take it. While a session moves, the nodes that saw it go (the
//!   giver, and senders answered 421) wait a moment for the store to name the next
//!   holder rather than take it themselves.
//!
//! [`Store::locate`]: tenure_store::Store::locate
//! [`Store::advertise`]: tenure_store::Store::advertise

pub(crate) mod cache;
pub(crate) mod streak;

use tenure_core::{Codec, Consistency, SessionId};
use tenure_store::Location;

use crate::inner::NodeInner;
use crate::stats::count;

pub use cache::Forward;
use cache::{Cached, HANDOFF_GRACE};

/// Where to serve a request for a session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Route {
    /// Here: this node holds the session, or will acquire it (or it does not exist).
    Local,
    /// At another live node, which holds the session.
    Forward(Forward),
    /// The session is moving (this node just gave it up, and the store does not yet
    /// name its next holder): ask again in a moment rather than take it back.
    Moving,
}

/// The advertised value: the address and the token, separated by one space.
pub(crate) fn advert(address: &str, token: &str) -> String {
    format!("{address} {token}")
}

fn parse_advert(value: &str) -> Option<(&str, &str)> {
    value
        .split_once(' ')
        .filter(|(a, t)| !a.is_empty() && !t.is_empty())
}

impl<C: Codec> NodeInner<C> {
    /// Whether this node forwards at all: it advertised an address and holds sessions
    /// exclusively (other modes have no holder to forward to).
    pub(crate) fn forwarding(&self) -> bool {
        self.config.advertise.is_some() && self.config.consistency == Consistency::Exclusive
    }

    /// Where to serve a request for `sid` that came from a client (never call it for
    /// a forwarded one). A store error answers `Local`: the store path decides then.
    pub(crate) async fn route(&self, sid: &SessionId) -> Route {
        if !self.forwarding() || self.holds(sid) {
            return Route::Local;
        }
        let mut handing_off = false;
        match self.locations.get(sid) {
            Some(Cached::At(forward)) => return Route::Forward(forward),
            Some(Cached::Take) => {
                self.locations.forget(sid);
                return Route::Local;
            }
            Some(Cached::Moving(until)) if tokio::time::Instant::now() < until => {
                handing_off = true;
            }
            Some(Cached::Moving(_)) => self.locations.forget(sid),
            None => {}
        }
        count!(self.stats, locates);
        let located = match self.store.locate(sid).await {
            Ok(located) => located,
            Err(e) => {
                tracing::debug!(session = sid.prefix(), error = %e, "locate failed; serving here");
                return Route::Local;
            }
        };
        let (holder, value) = match located {
            Location::Held {
                holder,
                address: Some(value),
            } if holder != self.owner() => (holder, value),
            // Given up a moment ago and not yet taken (or our release not yet done):
            // taking it back now would recall it from the node it was given to as
            // soon as that one has it.
            Location::Free if handing_off => return Route::Moving,
            Location::Held { .. } if handing_off => return Route::Moving,
            _ => return Route::Local,
        };
        let Some((address, token)) = parse_advert(&value) else {
            return Route::Local;
        };
        let forward = Forward {
            sid: sid.clone(),
            holder,
            address: address.to_string(),
            token: token.to_string(),
        };
        self.locations.put(
            sid.clone(),
            Cached::At(forward.clone()),
            self.config.max_held,
        );
        Route::Forward(forward)
    }

    /// Whether the store still names `forward.holder` the session's holder.
    pub(crate) async fn still_held_by(&self, forward: &Forward) -> bool {
        count!(self.stats, locates);
        match self.store.locate(&forward.sid).await {
            Ok(Location::Held { holder, .. }) => holder == forward.holder,
            Ok(_) => false,
            Err(_) => true,
        }
    }

    /// A request for `sid` was forwarded here by `origin`: true if the move rule says
    /// to give the session to `origin`.
    pub(crate) fn note_forwarded(&self, sid: &SessionId, origin: &str) -> bool {
        count!(self.stats, forwarded_in);
        self.forwarding()
            && self
                .streaks
                .forwarded(sid, origin, self.config.move_after, self.config.max_held)
    }

    /// A forward to the holder failed before it got the request: forget where the
    /// session was; the caller serves it here.
    pub(crate) fn forward_failed(&self, forward: &Forward) {
        count!(self.stats, forward_fallbacks);
        self.locations.forget(&forward.sid);
    }

    /// The node forwarded to does not hold the session: it is moving; wait for the
    /// store to name its next holder.
    pub(crate) fn forward_refused(&self, forward: &Forward) {
        count!(self.stats, forward_refusals);
        self.mark_moving(&forward.sid);
    }

    /// Marks `sid` as moving: for [`HANDOFF_GRACE`] the node waits for the store to
    /// name its next holder rather than take it.
    fn mark_moving(&self, sid: &SessionId) {
        let until = tokio::time::Instant::now() + HANDOFF_GRACE;
        self.locations
            .put(sid.clone(), Cached::Moving(until), self.config.max_held);
    }

    /// The holder answered a forwarded request; `take`: it gave the session up for
    /// this node, whose next request for it acquires it.
    pub(crate) fn forward_answered(&self, forward: &Forward, take: bool, failed: bool) {
        count!(self.stats, forwards);
        if failed {
            self.locations.forget(&forward.sid);
        } else if take {
            self.locations
                .put(forward.sid.clone(), Cached::Take, self.config.max_held);
        }
    }
}

impl<C: Codec> NodeInner<C> {
    /// The move rule's action: release `sid` (if held) for the node that forwards it.
    pub(crate) fn give_up(self: &std::sync::Arc<Self>, sid: &SessionId) {
        self.mark_moving(sid);
        if let Some(held) = self.held(sid) {
            self.spawn_release(held, crate::tenure::release::ReleaseReason::Moved);
        }
    }
}
