//! How far the store has a held copy's changes, and what that tells a request that
//! waits for them (I18).
//!
//! A request's changes enter the cache at its end, before they are stored, so the
//! next request sees them at once. Each change has a write sequence number, and a
//! commit stores everything below its mark (collected in one critical section, I10).
//! A request's *dependency* is the highest sequence number among its own changes and
//! the entries it read; it may be told success once the stored sequence reaches it.
//!
//! What else can become of a dependency, and the answer it gets:
//!
//! | the commit that carried it | answer |
//! |---|---|
//! | stored (now, or when a resend in doubt was confirmed) | success |
//! | sent, outcome unknown (`unknown_mark` above it) | `OutcomeUnknown` (504), even if a resend later confirms it: the answer was due |
//! | refused at its first sending, or never sent, and the copy dropped | `TenureLost` (503): nothing of it can reach the store any more (I8) |
//! | never sent, the session deleted | `Gone` |
//!
//! A copy with unstored changes is never used again after a failed commit without
//! the store's word: `Stale` drops it, an unknown outcome keeps the commit in doubt
//! (the copy is not served until a resend is confirmed, I16) or drops it. So a change
//! answered 503 is never carried by a later commit.

use tenure_core::sync::lock;

use super::{GoneReason, Held, Phase};
use crate::SessionError;

impl Held {
    /// A commit whose mark is `mark` was stored.
    pub(crate) fn stored_through(&self, mark: u64) {
        let mut st = lock(&self.state);
        st.stored_seq = st.stored_seq.max(mark.saturating_sub(1));
    }

    /// A commit whose mark is `mark` was sent and its outcome is not known.
    pub(crate) fn outcome_unknown(&self, mark: u64) {
        let mut st = lock(&self.state);
        st.unknown_mark = st.unknown_mark.max(mark);
    }

    /// The highest write sequence number the cache holds (0: none since the grant).
    pub(crate) fn last_seq(&self) -> u64 {
        lock(&self.state).next_seq - 1
    }

    /// The answer for a request whose dependency is `dep`, if it is settled; `None`
    /// while a commit may still store it (the copy is active or draining).
    pub(crate) fn settled(&self, dep: u64) -> Option<Result<(), SessionError>> {
        // The phase first: a commit records what it stored before the copy goes, so
        // a copy seen gone has its last word in the state read after it.
        let phase = self.phase();
        let st = lock(&self.state);
        if dep <= st.stored_seq {
            return Some(Ok(()));
        }
        if dep < st.unknown_mark {
            return Some(Err(SessionError::OutcomeUnknown));
        }
        match phase {
            Phase::Active | Phase::Draining => None,
            Phase::Gone(GoneReason::Deleted) => Some(Err(SessionError::Gone)),
            // Never sent (every commit sent with an unknown outcome is in
            // `unknown_mark`), and the copy will not be written again.
            Phase::Gone(GoneReason::Lost | GoneReason::InDoubt | GoneReason::Released) => {
                Some(Err(SessionError::TenureLost))
            }
        }
    }
}
