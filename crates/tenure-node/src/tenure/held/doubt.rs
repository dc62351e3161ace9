//! A commit the store has not confirmed: what it carried, so that it can be sent
//! again as it was (it applies at most once, I2a) and, once it is known to be stored,
//! marked clean in the cache (which already holds its changes, I18).
//!
//! While a held copy has a commit in doubt, the node does not serve the session from
//! it: the copy holds changes the store may lack, so a request must not build on them
//! before the store has them. The next admission, flush, release or renewal tick sends
//! the commit again first.

use tenure_core::sync::lock;
use tenure_core::{Delta, OwnerId, SessionId};
use tenure_store::{CommitId, Fence};

use super::{Collected, Held};

/// One fenced commit, built once and sent as often as it takes to learn its outcome.
#[derive(Debug)]
pub(crate) struct Pending {
    /// Names the commit at the store, so that sending it again applies it once.
    pub(crate) id: CommitId,
    pub(crate) sid: SessionId,
    /// The owner id the tenure belongs to.
    pub(crate) owner: OwnerId,
    pub(crate) fence: Fence,
    pub(crate) delta: Delta,
    /// The commit also gives the session back.
    pub(crate) release: bool,
    /// The dirty attributes it carries, to mark clean once stored.
    pub(crate) collected: Collected,
    /// The write policy's counters it reset, given back while it is not stored.
    pub(crate) counts: (u32, u32),
    /// The cache's next write sequence number when the commit was collected: the
    /// commit carries every change below it, so once it is stored, every request
    /// whose dependency is below it may be answered (I18).
    pub(crate) mark: u64,
}

impl Held {
    /// Keeps `pending` as the commit in doubt, to be sent again before the copy is
    /// used.
    pub(crate) fn set_doubt(&self, pending: Pending) {
        lock(&self.state).doubt = Some(pending);
    }

    /// Takes the commit in doubt, if there is one.
    pub(crate) fn take_doubt(&self) -> Option<Pending> {
        lock(&self.state).doubt.take()
    }

    /// Whether a commit of this copy awaits its outcome.
    pub(crate) fn in_doubt(&self) -> bool {
        lock(&self.state).doubt.is_some()
    }
}
