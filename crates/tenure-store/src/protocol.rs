//! The store protocol: types and the [`Store`] trait.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use tenure_core::{Bytes, Delta, OwnerId, SessionId, Snapshot};

use crate::events::{EventBatch, EventId};
use crate::known::{Known, PartialGrant};
use crate::principals::PrincipalSession;
pub use crate::replies::{CommitReply, CreateReply, OptimisticReply, RotateReply};
use crate::StoreError;

/// Orders the tenures of one session. Every grant of a session's lock carries a fence
/// greater than every fence granted for that session before, also after a lease
/// expired or the lock was released, so a store can reject writes from a holder that
/// has since been replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fence(pub u64);

impl fmt::Display for Fence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

pub use tenure_core::Expiry;

/// Names one fenced commit, so that sending it again (after a timeout or a lost
/// reply) applies it once. Within one tenure (one fence), a holder's commit ids
/// increase: the store answers a repeat of the last applied commit with
/// [`CommitReply::AlreadyApplied`] and refuses an older one that arrives late.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommitId(pub u64);

impl fmt::Display for CommitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A granted tenure: the lock, with the session data in the same reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The fence of this tenure; every later `renew` and `commit` must present it.
    pub fence: Fence,
    /// The lease granted, counted from when the store handled the call. The holder
    /// should treat its lease as ending at *send time + lease − margin*.
    pub lease: Duration,
    /// The session's attributes at the time of the grant.
    pub snapshot: Snapshot,
    /// The session's timeouts, so the holder can tell on its own, between store
    /// calls, when the session has expired.
    pub expiry: Expiry,
    /// How long ago the session was created, by the store's clock.
    pub age: Duration,
}

/// The answer to [`Store::acquire`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AcquireReply {
    /// The caller holds the session now.
    Granted(Grant),
    /// Another owner holds the session, or waiters are ahead of the caller. The caller
    /// is in the FIFO queue and the holder has been asked to give the session back.
    Queued {
        /// 1-based place in the queue.
        position: usize,
        /// When to call `acquire` again at the latest if no grant hint arrives: the
        /// holder's remaining lease (or the head waiter's remaining time to claim it).
        retry_after: Duration,
    },
    /// No such session (never created, deleted, rotated away or expired).
    NotFound,
    /// The caller holds the session now, and the grant carries only what its copy
    /// lacks: only [`Store::acquire_since`] answers this. Merge it with the copy
    /// ([`PartialGrant::merge`]) for the whole session.
    Partial(PartialGrant),
}

/// The answer to [`Store::keep_alive`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Liveness {
    /// The owner is alive until the TTL it asked for, counted from this call.
    Alive,
    /// The owner's liveness ran out (or the store lost it) before this call: it is
    /// dead for good, and others may already have taken the sessions it held. It must
    /// not serve any of them from a copy again, and goes on under a new owner id.
    Lapsed,
}

/// The answer to [`Store::locate`]: who holds a session's lock now.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Location {
    /// No such session (never created, deleted, rotated away or expired).
    NotFound,
    /// No live owner holds the lock: it is free, its lease ran out, or its holder is
    /// dead (I15). An `acquire` would grant it, or queue behind waiters.
    Free,
    /// `holder` holds the lock under an unexpired lease.
    Held {
        /// The holder.
        holder: OwnerId,
        /// What the holder published with [`Store::advertise`], if anything: how
        /// other owners reach it. The store does not interpret it.
        address: Option<String>,
    },
}

/// One held session to renew in a [`Store::renew`] batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renewal {
    /// The session.
    pub sid: SessionId,
    /// The fence the caller holds it with.
    pub fence: Fence,
    /// Whether requests used the session since the last renewal: slides its idle expiry.
    pub touch: bool,
}

/// One held session to give back in a [`Store::release_many`] batch: a commit with
/// nothing to write and `release` set, as [`Store::commit`] would take it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// The session.
    pub sid: SessionId,
    /// The fence the caller holds it with.
    pub fence: Fence,
    /// The commit's id (I2a): sending the same release again is answered
    /// `AlreadyApplied`.
    pub id: CommitId,
}

/// The outcome of renewing one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RenewOutcome {
    /// The lease was extended. `recall` is true while other owners wait for the
    /// session: the guaranteed recall path, which works when every hint is lost.
    Renewed {
        /// Someone is waiting: give the session back.
        recall: bool,
    },
    /// The caller no longer holds the session (lease expired and re-granted, a newer
    /// fence, deleted or expired). Its cached copy must be dropped.
    Lost,
}

/// A pushed notice for one node. Hints only make the protocol faster: they may be
/// lost, duplicated or late, and nothing may depend on them arriving.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Hint {
    /// Another owner waits for this session: give it back.
    Recall(SessionId),
    /// The session you wait for may be free for you now: call `acquire`.
    Grant(SessionId),
    /// Hints may have been lost (the backend's hint connection was re-established):
    /// re-read the state of every session you hold (renew them) or wait for (call
    /// `acquire` again).
    Resync,
}

/// The stream of hints for one owner. A backend drops hints rather than block when the
/// receiver falls behind.
pub type HintReceiver = tokio::sync::mpsc::Receiver<Hint>;

/// The primary copy of all sessions and the arbiter of who may write each one.
///
/// # Contract
///
/// Every method is atomic for its session id: no other call on the same session
/// observes it half done. Time (leases, expiry) is the store's own clock.
///
/// A session's state is its attributes and version, its expiry, a lock (holder,
/// fence, lease deadline) or none, and a FIFO queue of waiting owners, each with a
/// deadline after which it is dropped from the queue as dead.
///
/// - **Fences** (invariant I1): every grant of a session's lock carries a fence
///   strictly greater than all fences granted for that session id before, whether the
///   previous tenure was released or expired, and also after the id was deleted,
///   expired or rotated away and later created again (a backend keeps a per-id fence
///   past deletion, or uses one counter for all sessions).
/// - **Fenced writes** (I2): `commit` and `renew` take effect only if the caller holds
///   an unexpired lock with exactly that fence; otherwise nothing changes.
/// - **Commits apply once** (I2a): the store remembers the fence and [`CommitId`] of
///   the last commit it applied to the session, also after a release. The same commit
///   sent again answers `AlreadyApplied` and changes nothing; a commit of the same
///   fence with a smaller id (a late copy of one the holder has moved past) answers
///   `Stale` and changes nothing.
/// - **FIFO** (I3): while the queue is not empty, only its head may be granted the lock.
/// - **Recall** (I4): while the lock is held and other owners wait, `renew` answers
///   `recall: true`, whether or not any hint was delivered. Waiters past their
///   deadline do not count: once every waiter is gone or dead, `recall` is false.
/// - **Expiry** (I5): a session idle longer than its idle timeout, or older than its
///   absolute timeout, is gone: every call treats it as never created.
/// - **Liveness** (I15): an owner that registered with [`Store::keep_alive`] is alive
///   until the TTL of its last successful `keep_alive` runs out, and dead for good
///   after that. A lock granted to a registered owner counts as expired for every
///   other owner once its holder is dead, whatever its lease says, so a crashed node
///   costs its TTL, not its leases. (A backend may look at a holder's liveness only
///   for a waiter that has been queued for a moment; [`LIVENESS_CHECK_AFTER`] bounds
///   that moment.) Locks of owners that never registered are held for their lease.
/// - **Creation** (I6): `create` never overwrites an existing session.
/// - **Patches**: a [`Change::Patch`](tenure_core::Change::Patch) in a commit's delta
///   applies to the attribute as stored before the commit, only if the attribute
///   exists at the patch's base version with the patch's base length and the patch
///   is well formed; the result is stored as a whole value would be, at the commit's
///   new version. Every patch op must apply, also one that a later op on the same
///   name overrides. If any patch does not apply, the commit applies nothing and answers
///   `PatchRefused` (after the checks that would answer `Stale`, `AlreadyApplied`,
///   `Conflict` or `Locked`). A store never applies part of a patch, and never
///   reads [`Change::Patch`](tenure_core::Change::Patch)'s `value`.
/// - **Conditional takeover**: `acquire_since` locks, queues and fences exactly as
///   `acquire` does; a grant it answers `Partial` leaves out only attributes the
///   caller named at their current version, and names every attribute the caller
///   named that the session no longer has.
/// - **Per-session timeouts**: a `commit` or `commit_optimistic` whose delta carries
///   [`Delta::expiry`] replaces the session's timeouts in the same atomic step as its
///   operations (and only if they apply): the new idle timeout runs from that commit,
///   the new absolute one from the session's creation, and later grants report them.
///   A delta that carries only `expiry` changes no attribute and no version. A commit
///   whose new timeouts have already run out still answers `Committed`; the session
///   is gone afterwards.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug + 'static {
    /// Asks for the session's lock with a lease of `lease`.
    ///
    /// Grants (with the session data, in the same reply) if the lock is free or its
    /// lease has expired, and the queue is empty or `owner` is at its head (dead
    /// waiters are purged first). Every grant takes a new fence. If `owner` already
    /// holds an unexpired lock, extends the lease and answers `Granted` with the same
    /// fence (a holder whose lease expired gets a new fence, as anyone would).
    ///
    /// Otherwise puts `owner` at the end of the queue (or keeps its place), sets its
    /// waiter deadline to now + `wait`, hints the holder with [`Hint::Recall`] and
    /// answers `Queued`. A waiter must call `acquire` again before its deadline to keep
    /// its place; one that stops calling (a crashed node) is dropped from the queue
    /// after `wait`. So `wait` should be a small multiple of how often the caller
    /// polls, independent of the lease it asks for. Any answer but `NotFound` counts as
    /// an access for idle expiry.
    async fn acquire(
        &self,
        sid: &SessionId,
        owner: &OwnerId,
        lease: Duration,
        wait: Duration,
    ) -> Result<AcquireReply, StoreError>;

    /// [`acquire`](Self::acquire) by a caller that still has a copy of the session
    /// (`known`, made with [`Known::of`] from the copy): the same lock, queue, fences
    /// and answers, except that a grant may carry only what the copy lacks.
    ///
    /// A grant is either `Granted` with the whole session, as `acquire` gives it, or
    /// [`AcquireReply::Partial`], which carries the session's version, exactly the
    /// attributes whose current version is not the one `known` names for them (new
    /// ones, changed ones, and ones named at a wrong version, higher or lower), and
    /// exactly the names `known` holds that the session no longer has. So an
    /// attribute is left out when, and only when, `known` names it at its current
    /// version ([`Known::has`]; [`Known::changes`] computes the answer): versions
    /// come from one counter per session and are never reused, so the caller has
    /// that very value (a store that loses applied commits, as a failover can, may
    /// reuse their versions: callers forget their copies when they learn of a loss).
    /// [`PartialGrant::merge`] with the copy then gives the snapshot a full grant
    /// would carry. When `known.version` is above the session's version
    /// the copy is not of this session's past: every attribute must be sent.
    ///
    /// A store may always answer in full; the default does, by calling `acquire`, so
    /// a store (or a wrapper) that does not override this stays correct and only
    /// costs the bytes. A wrapper should pass it on to its inner store.
    async fn acquire_since(
        &self,
        sid: &SessionId,
        owner: &OwnerId,
        lease: Duration,
        wait: Duration,
        known: &Known,
    ) -> Result<AcquireReply, StoreError> {
        let _ = known;
        self.acquire(sid, owner, lease, wait).await
    }

    /// Extends the lease of each session `owner` holds with the given fence, in one
    /// call. The outcomes come in the order of `items`. A renewal with `touch` counts as
    /// an access for idle expiry; one without does not, so a held but unused session
    /// still expires.
    async fn renew(
        &self,
        owner: &OwnerId,
        lease: Duration,
        items: &[Renewal],
    ) -> Result<Vec<RenewOutcome>, StoreError>;

    /// Applies `delta` (expectations are ignored) if `owner` holds an unexpired lock on
    /// the session with `fence` and `id` is above the id of the last commit applied
    /// with that fence; otherwise answers `Stale` and applies nothing. If the last
    /// commit applied to the session has exactly this fence and id, answers
    /// `AlreadyApplied` (whatever the lock's state now) and applies nothing. With
    /// `release`, also frees the lock in the same step and hints the head waiter with
    /// [`Hint::Grant`]. An empty delta changes nothing but may still release. A
    /// commit that applies counts as an access for idle expiry; a `Stale` one does not.
    async fn commit(
        &self,
        sid: &SessionId,
        owner: &OwnerId,
        fence: Fence,
        id: CommitId,
        delta: Delta,
        release: bool,
    ) -> Result<CommitReply, StoreError>;

    /// Gives back each session of `items`, as [`commit`](Self::commit) with an empty
    /// delta and `release` would, where the store can in one round trip: one answer
    /// per item, in the order of `items`, each exactly what that commit would have
    /// answered (an error for one item leaves the others' answers standing). A node
    /// gives back sessions it stopped using (idle, cold, evicted) together this way,
    /// instead of one call each.
    ///
    /// The default sends one `commit` per item, so a store (or a wrapper) that does not
    /// override this stays correct and only costs the round trips. A wrapper should
    /// pass it on to its inner store.
    async fn release_many(
        &self,
        owner: &OwnerId,
        items: &[Release],
    ) -> Result<Vec<Result<CommitReply, StoreError>>, StoreError> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let reply = self
                .commit(
                    &item.sid,
                    owner,
                    item.fence,
                    item.id,
                    Delta::default(),
                    true,
                )
                .await;
            out.push(reply);
        }
        Ok(out)
    }

    /// Reads the session without any lock. Counts as an access for idle expiry.
    async fn load(&self, sid: &SessionId) -> Result<Option<Snapshot>, StoreError>;

    /// Applies `delta` without a lock if every operation's expectation holds, all or
    /// nothing. Answers `Locked` and applies nothing while an unexpired lock is held.
    async fn commit_optimistic(
        &self,
        sid: &SessionId,
        delta: Delta,
    ) -> Result<OptimisticReply, StoreError>;

    /// Creates the session at version 1 with `attrs`, unless the id exists (then
    /// `Exists`, nothing changed). With `tenure`, the creator is granted the lock with
    /// that lease in the same step.
    async fn create(
        &self,
        sid: &SessionId,
        attrs: Vec<(String, Bytes)>,
        expiry: Expiry,
        tenure: Option<(&OwnerId, Duration)>,
    ) -> Result<CreateReply, StoreError>;

    /// Deletes the session, its lock and its queue (waiters are hinted and will find
    /// it gone). Answers whether it existed.
    async fn delete(&self, sid: &SessionId) -> Result<bool, StoreError>;

    /// Moves the session to `new` (for session-fixation defence) and frees `old`.
    ///
    /// If the old id is locked, the caller must present the holder and fence
    /// (`holder`), and is granted the new id's lock with a new fence; otherwise
    /// `Stale`. If it is not locked, `holder` must be `None` (`Some` answers `Stale`).
    /// `old == new` answers `Exists`. Data, version and expiry carry over, and the
    /// rotation counts as an access. Waiters on the old id are dropped (and hinted, so
    /// they find it gone).
    async fn rotate_id(
        &self,
        old: &SessionId,
        new: &SessionId,
        holder: Option<(&OwnerId, Fence)>,
    ) -> Result<RotateReply, StoreError>;

    /// The live sessions whose principal is `principal` (the attribute
    /// [`PRINCIPAL_ATTR`](tenure_core::PRINCIPAL_ATTR) holding exactly its UTF-8 text),
    /// in no particular order, each with the stored bytes of the attribute `label`
    /// where the caller names one and the session has it.
    ///
    /// The list is exactly the sessions that are live and have that principal when
    /// the store handles the call: a backend's index may hold entries of sessions
    /// that are gone (deleted, rotated away, expired, given another principal), and
    /// checks each entry against its session before it lists it, and removes the
    /// entries it finds gone. Entries a backend knows to be gone without reading
    /// their sessions (Redis: their sessions' keys have passed their TTL) it removes
    /// at most [`PRUNE_PER_CALL`](crate::PRUNE_PER_CALL) of per call, so the work of
    /// one call stays bounded and the index does not outgrow the live sessions for
    /// long. Only reads sessions: it does not count as an access, lock or hint.
    ///
    /// The default answers [`StoreError::Unsupported`], for a backend without an
    /// index; a wrapper should pass it on to its inner store.
    async fn sessions_of(
        &self,
        principal: &str,
        label: Option<&str>,
    ) -> Result<Vec<PrincipalSession>, StoreError> {
        let _ = (principal, label);
        Err(StoreError::Unsupported(
            "listing the sessions of a principal",
        ))
    }

    /// The events of the store's log after `after` (`None`: from the oldest it
    /// holds), at most `max`, oldest first: see [`events`](crate::events) for what a
    /// log promises. A session that expires gets its `Expired` event also when no call
    /// touches it: a backend finds expired sessions on its own (a sweep), or when this
    /// is called. Reading is not an access.
    ///
    /// The default answers [`StoreError::Unsupported`], for a backend without a log; a
    /// wrapper should pass it on to its inner store.
    async fn events(&self, after: Option<EventId>, max: usize) -> Result<EventBatch, StoreError> {
        let _ = (after, max);
        Err(StoreError::Unsupported("session events"))
    }

    /// Upkeep a backend wants its clients to run now and then (nodes call it every
    /// [`MAINTAIN_INTERVAL`]): each call does a bounded amount of work, and calls from
    /// several nodes at once are safe. The embedded store removes expired sessions
    /// (with their events); Redis runs its expiry pass, which writes the events of
    /// sessions that expired untouched. The default does nothing; a wrapper should
    /// pass it on to its inner store.
    async fn maintain(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Who holds `sid` now, and the address its holder advertised. Only reads: it
    /// never queues the caller, never sets `recall`, never hints and does not count as
    /// an access for idle expiry. A holder that is dead (I15) is reported `Free`
    /// where the backend can tell; a stale answer only costs the caller a detour.
    async fn locate(&self, sid: &SessionId) -> Result<Location, StoreError>;

    /// Publishes `address` as how other owners reach `owner` (for forwarded requests),
    /// for as long as `owner` is alive: call it after registering with
    /// [`keep_alive`](Self::keep_alive); a later call replaces it. Answers
    /// [`Liveness::Lapsed`], with nothing published, if `owner` is not alive. The
    /// address is at most [`MAX_ADDRESS`] bytes (longer is a `Protocol` error).
    async fn advertise(&self, owner: &OwnerId, address: &str) -> Result<Liveness, StoreError>;

    /// The hint stream for `owner`. A later call for the same owner replaces the
    /// earlier stream, which receives no further hints.
    async fn hints(&self, owner: &OwnerId) -> Result<HintReceiver, StoreError>;

    /// Keeps `owner` alive for `ttl` from now (I15). With `register`, makes it alive
    /// (call this once, before the owner's first `acquire` or `create`); without, only
    /// extends a liveness that has not run out, and answers [`Liveness::Lapsed`] if it
    /// has: a lapsed owner is never alive again. One call per owner per tick, however
    /// many sessions it holds.
    async fn keep_alive(
        &self,
        owner: &OwnerId,
        ttl: Duration,
        register: bool,
    ) -> Result<Liveness, StoreError>;
}

/// How often nodes call [`Store::maintain`].
pub const MAINTAIN_INTERVAL: Duration = Duration::from_secs(5);

/// The longest address [`Store::advertise`] takes, in bytes.
pub const MAX_ADDRESS: usize = 1024;

/// How long a waiter may have to be queued before a backend looks at whether the
/// holder is alive (I15): a holder that is alive gives a recalled session back well
/// within it, so only a dead or stuck one costs the extra look.
pub const LIVENESS_CHECK_AFTER: Duration = Duration::from_millis(500);
