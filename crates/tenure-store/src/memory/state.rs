//! The embedded store's state and its small invariant-keeping helpers.

use std::collections::{HashMap, VecDeque};

use std::time::Duration;
use tenure_core::{OwnerId, SessionId, Snapshot};
use tokio::sync::mpsc;

use tokio::time::Instant;

use super::index::{principal, PrincipalIndex};
use super::log::EventLog;
use crate::events::EventKind;
use crate::protocol::{CommitId, Expiry, Fence, Hint};

#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) sessions: HashMap<SessionId, Entry>,
    /// One counter for the whole store: fences of one session then increase strictly
    /// even across delete, re-create and rotation (I1), at no per-session cost.
    pub(super) next_fence: u64,
    pub(super) hints: Hints,
    /// Registered owners and when their liveness runs out (I15). A lapsed owner stays
    /// here, dead, so it can never come back; one entry per node incarnation.
    pub(super) owners: HashMap<OwnerId, Instant>,
    /// What live owners advertised (`Store::advertise`); an entry goes when its
    /// owner is found dead.
    pub(super) addresses: HashMap<OwnerId, String>,
    /// Principal → sessions (issue 15), changed with the sessions it names.
    pub(super) principals: PrincipalIndex,
    /// The event log (issue 15), appended with the changes it reports.
    pub(super) events: EventLog,
}

#[derive(Debug)]
pub(super) struct Entry {
    pub(super) snapshot: Snapshot,
    expiry: Expiry,
    created: Instant,
    pub(super) last_access: Instant,
    pub(super) lock: Option<Lock>,
    pub(super) queue: VecDeque<Waiter>,
    /// The last fenced commit applied: its fence, id and the version it made (I2a).
    pub(super) last_commit: Option<(Fence, CommitId, u64)>,
}

#[derive(Debug)]
pub(super) struct Lock {
    pub(super) owner: OwnerId,
    pub(super) fence: Fence,
    pub(super) deadline: Instant,
}

#[derive(Debug)]
pub(super) struct Waiter {
    pub(super) owner: OwnerId,
    pub(super) deadline: Instant,
}

impl State {
    /// Whether `owner` registered its liveness and let it run out (I15).
    pub(super) fn is_dead(&self, owner: &OwnerId, now: Instant) -> bool {
        self.owners.get(owner).is_some_and(|until| *until <= now)
    }

    /// Whether the holder of `sid`'s lock, other than `caller`, is dead (I15).
    pub(super) fn holder_dead(&self, sid: &SessionId, caller: &OwnerId, now: Instant) -> bool {
        self.sessions
            .get(sid)
            .and_then(|e| e.lock.as_ref())
            .is_some_and(|l| &l.owner != caller && self.is_dead(&l.owner, now))
    }

    /// The session, if it exists and has not expired; an expired one is removed (I5).
    /// Returns the fence counter and hints beside it, so callers can use all three.
    pub(super) fn live(
        &mut self,
        sid: &SessionId,
        now: Instant,
    ) -> (Option<&mut Entry>, &mut u64, &Hints) {
        if self.sessions.get(sid).is_some_and(|e| e.expired(now)) {
            self.expire(sid);
        }
        (
            self.sessions.get_mut(sid),
            &mut self.next_fence,
            &self.hints,
        )
    }

    /// Removes the session if it has expired by `now` (a commit may have shortened
    /// its timeouts), so its waiters hear of it at once rather than on the next call.
    pub(super) fn drop_if_expired(&mut self, sid: &SessionId, now: Instant) {
        self.live(sid, now);
    }

    pub(super) fn purge_expired(&mut self, now: Instant) -> usize {
        let expired: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, e)| e.expired(now))
            .map(|(k, _)| k.clone())
            .collect();
        for sid in &expired {
            self.expire(sid);
        }
        expired.len()
    }

    /// Removes a session that expired, with its event; its waiters are told.
    fn expire(&mut self, sid: &SessionId) {
        if let Some(entry) = self.remove(sid) {
            self.events.push(sid, EventKind::Expired);
            self.wake_waiters(sid, &entry);
        }
    }

    /// Puts a session in the map, and in its principal's index.
    /// Callers insert only where no live session is: an expired one still in the
    /// map is replaced, and leaves the index first.
    pub(super) fn insert(&mut self, sid: SessionId, entry: Entry) {
        self.remove(&sid);
        if let Some(p) = principal(&entry.snapshot) {
            self.principals.add(p, &sid);
        }
        self.sessions.insert(sid, entry);
    }

    /// Takes a session out of the map and its principal's index.
    pub(super) fn remove(&mut self, sid: &SessionId) -> Option<Entry> {
        let entry = self.sessions.remove(sid)?;
        if let Some(p) = principal(&entry.snapshot) {
            self.principals.remove(&p, sid);
        }
        Some(entry)
    }

    /// Brings the index up to date after a write to `sid` that found the principal
    /// `before`.
    pub(super) fn reindex(&mut self, sid: &SessionId, before: Option<String>) {
        let after = self.sessions.get(sid).and_then(|e| principal(&e.snapshot));
        if before != after {
            let kind = match &after {
                Some(p) => EventKind::PrincipalSet {
                    principal: p.clone(),
                },
                None => EventKind::PrincipalCleared,
            };
            self.events.push(sid, kind);
        }
        self.principals.change(sid, before, after);
    }

    /// Tells the waiters of a session that went away to look again (they will find it gone).
    pub(super) fn wake_waiters(&self, sid: &SessionId, entry: &Entry) {
        for waiter in &entry.queue {
            self.hints.send(&waiter.owner, Hint::Grant(sid.clone()));
        }
    }
}

impl Entry {
    pub(super) fn new(snapshot: Snapshot, expiry: Expiry, now: Instant) -> Self {
        Self {
            snapshot,
            expiry,
            created: now,
            last_access: now,
            lock: None,
            queue: VecDeque::new(),
            last_commit: None,
        }
    }

    pub(super) fn expiry(&self) -> Expiry {
        self.expiry
    }

    /// Replaces the timeouts (a commit's `Delta::expiry`). The idle one runs from
    /// `last_access`, which the committing call sets; the absolute one still counts
    /// from `created`, so shortening it may end the session at once.
    pub(super) fn set_expiry(&mut self, expiry: Expiry) {
        self.expiry = expiry;
    }

    pub(super) fn age(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.created)
    }

    fn expired(&self, now: Instant) -> bool {
        // A timeout too long for the clock never expires.
        let past =
            |since: Instant, after: Duration| since.checked_add(after).is_some_and(|at| now >= at);
        self.expiry
            .idle
            .is_some_and(|idle| past(self.last_access, idle))
            || self
                .expiry
                .absolute
                .is_some_and(|abs| past(self.created, abs))
    }

    /// Drops an expired lock and dead waiters: what every operation sees first.
    pub(super) fn tidy(&mut self, now: Instant) {
        if self.lock.as_ref().is_some_and(|l| l.deadline <= now) {
            self.lock = None;
        }
        self.queue.retain(|w| w.deadline > now);
    }

    /// Puts `owner` in the queue (keeping its place if it is there) and answers its
    /// 1-based position.
    pub(super) fn enqueue(&mut self, owner: &OwnerId, deadline: Instant) -> usize {
        match self.queue.iter().position(|w| &w.owner == owner) {
            Some(i) => {
                self.queue[i].deadline = deadline;
                i + 1
            }
            None => {
                self.queue.push_back(Waiter {
                    owner: owner.clone(),
                    deadline,
                });
                self.queue.len()
            }
        }
    }
}

/// Hint senders per owner. Sending never blocks: a full or closed stream drops the hint.
#[derive(Debug, Default)]
pub(super) struct Hints {
    senders: HashMap<OwnerId, mpsc::Sender<Hint>>,
}

impl Hints {
    pub(super) fn subscribe(&mut self, owner: OwnerId, tx: mpsc::Sender<Hint>) {
        self.senders.retain(|_, s| !s.is_closed());
        self.senders.insert(owner, tx);
    }

    pub(super) fn send(&self, owner: &OwnerId, hint: Hint) {
        if let Some(tx) = self.senders.get(owner) {
            let _ = tx.try_send(hint);
        }
    }
}

/// `now + d`, saturating far in the future instead of overflowing the clock.
pub(super) fn deadline(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}
