//! [`Call`] and [`Method`]: what the around-every-call hooks of [`Forward`] are told.
//!
//! Kept apart from the trait so that a hook can match on a call's arguments (a
//! commit's delta, a renewal's owner) without the forwarding code in the way.

use std::fmt;
use std::time::Duration;

use tenure_core::{Bytes, Delta, OwnerId, SessionId};
use tenure_store::{CommitId, EventId, Expiry, Fence, Known, Release, Renewal};

#[cfg(doc)]
use super::Forward;
#[cfg(doc)]
use tenure_store::Store;

/// A [`Store`] method, as named in [`Call`] and passed to [`Forward::after`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// [`Store::acquire`] and [`Store::acquire_since`] (the same step at the store).
    Acquire,
    /// [`Store::renew`].
    Renew,
    /// [`Store::commit`].
    Commit,
    /// [`Store::release_many`].
    ReleaseMany,
    /// [`Store::load`].
    Load,
    /// [`Store::commit_optimistic`].
    CommitOptimistic,
    /// [`Store::create`].
    Create,
    /// [`Store::delete`].
    Delete,
    /// [`Store::rotate_id`].
    RotateId,
    /// [`Store::hints`].
    Hints,
    /// [`Store::keep_alive`].
    KeepAlive,
    /// [`Store::locate`].
    Locate,
    /// [`Store::advertise`].
    Advertise,
    /// [`Store::sessions_of`].
    SessionsOf,
    /// [`Store::events`].
    Events,
    /// [`Store::maintain`].
    Maintain,
}

impl Method {
    /// The method's name, as written in the [`Store`] trait (`"commit_optimistic"`).
    pub fn name(self) -> &'static str {
        match self {
            Method::Acquire => "acquire",
            Method::Renew => "renew",
            Method::Commit => "commit",
            Method::ReleaseMany => "release_many",
            Method::Load => "load",
            Method::CommitOptimistic => "commit_optimistic",
            Method::Create => "create",
            Method::Delete => "delete",
            Method::RotateId => "rotate_id",
            Method::Hints => "hints",
            Method::KeepAlive => "keep_alive",
            Method::Locate => "locate",
            Method::Advertise => "advertise",
            Method::SessionsOf => "sessions_of",
            Method::Events => "events",
            Method::Maintain => "maintain",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One [`Store`] call and its arguments, as [`Forward::before`] sees it. The fields are
/// the method's parameters, borrowed.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
#[allow(missing_docs)] // the fields are the `Store` methods' parameters
pub enum Call<'a> {
    /// [`Store::acquire`], and [`Store::acquire_since`] with `known: Some(_)`.
    Acquire {
        sid: &'a SessionId,
        owner: &'a OwnerId,
        lease: Duration,
        wait: Duration,
        known: Option<&'a Known>,
    },
    /// [`Store::renew`].
    Renew {
        owner: &'a OwnerId,
        lease: Duration,
        items: &'a [Renewal],
    },
    /// [`Store::commit`].
    Commit {
        sid: &'a SessionId,
        owner: &'a OwnerId,
        fence: Fence,
        id: CommitId,
        delta: &'a Delta,
        release: bool,
    },
    /// [`Store::release_many`].
    ReleaseMany {
        owner: &'a OwnerId,
        items: &'a [Release],
    },
    /// [`Store::load`].
    Load { sid: &'a SessionId },
    /// [`Store::commit_optimistic`].
    CommitOptimistic {
        sid: &'a SessionId,
        delta: &'a Delta,
    },
    /// [`Store::create`].
    Create {
        sid: &'a SessionId,
        attrs: &'a [(String, Bytes)],
        expiry: Expiry,
        tenure: Option<(&'a OwnerId, Duration)>,
    },
    /// [`Store::delete`].
    Delete { sid: &'a SessionId },
    /// [`Store::rotate_id`].
    RotateId {
        old: &'a SessionId,
        new: &'a SessionId,
        holder: Option<(&'a OwnerId, Fence)>,
    },
    /// [`Store::hints`].
    Hints { owner: &'a OwnerId },
    /// [`Store::keep_alive`].
    KeepAlive {
        owner: &'a OwnerId,
        ttl: Duration,
        register: bool,
    },
    /// [`Store::locate`].
    Locate { sid: &'a SessionId },
    /// [`Store::advertise`].
    Advertise {
        owner: &'a OwnerId,
        address: &'a str,
    },
    /// [`Store::sessions_of`].
    SessionsOf {
        principal: &'a str,
        label: Option<&'a str>,
    },
    /// [`Store::events`].
    Events { after: Option<EventId>, max: usize },
    /// [`Store::maintain`].
    Maintain,
}

impl Call<'_> {
    /// Which method is called.
    pub fn method(&self) -> Method {
        match self {
            Call::Acquire { .. } => Method::Acquire,
            Call::Renew { .. } => Method::Renew,
            Call::Commit { .. } => Method::Commit,
            Call::ReleaseMany { .. } => Method::ReleaseMany,
            Call::Load { .. } => Method::Load,
            Call::CommitOptimistic { .. } => Method::CommitOptimistic,
            Call::Create { .. } => Method::Create,
            Call::Delete { .. } => Method::Delete,
            Call::RotateId { .. } => Method::RotateId,
            Call::Hints { .. } => Method::Hints,
            Call::KeepAlive { .. } => Method::KeepAlive,
            Call::Locate { .. } => Method::Locate,
            Call::Advertise { .. } => Method::Advertise,
            Call::SessionsOf { .. } => Method::SessionsOf,
            Call::Events { .. } => Method::Events,
            Call::Maintain => Method::Maintain,
        }
    }
}
