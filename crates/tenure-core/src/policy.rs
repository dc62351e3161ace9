//! Write policies and consistency modes.
//!
//! # What each write policy can lose on a crash
//!
//! A node that crashes loses what it had not yet written to the store. Per policy:
//!
//! | policy | written | lost on a crash of the node |
//! |---|---|---|
//! | [`WritePolicy::end_of_request`] (default) | before the response is sent | nothing acknowledged |
//! | [`WritePolicy::every`]`(T)` | when `T` has passed since the session's last write | up to `T` of changes |
//! | [`WritePolicy::after_updates`]`(N)` | when `N` attribute updates are unwritten | up to `N - 1` updates |
//! | [`WritePolicy::after_requests`]`(N)` | when `N` requests were served since the last write | up to `N - 1` requests' changes |
//! | [`WritePolicy::manual`] | only when asked | everything since the last flush |
//!
//! Whatever the policy, a new session is written before its first response (write on
//! create), and a node always writes before it gives a session up: on recall, on idle
//! release, on eviction and on graceful shutdown. Policies combine: the session is
//! written when the first of its conditions is met.

use std::time::Duration;

/// How a node reconciles concurrent writers of one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Consistency {
    /// Cached tenure (default): the store grants one node an exclusive, fenced lease on
    /// the session; the node serves requests from memory until the store recalls it. No
    /// update is ever lost.
    #[default]
    Exclusive,
    /// No lock: each request loads the session and commits with per-attribute
    /// compare-and-set. A concurrent change of the same attribute is a typed conflict
    /// error; nothing is lost silently.
    Optimistic,
    /// Load the whole session, write the whole session back; the last writer wins.
    /// This is what session libraries without Tenure do, kept for comparison: it loses
    /// updates under concurrency.
    LastWriterWins,
}

/// When a node writes a held session's changes to the store.
///
/// ```
/// use std::time::Duration;
/// use tenure_core::WritePolicy;
/// let p = WritePolicy::every(Duration::from_secs(10)).or_after_updates(100);
/// assert!(!p.is_end_of_request());
/// assert!(p.due(3, 1, Duration::from_secs(11)));
/// assert!(p.due(100, 1, Duration::ZERO));
/// assert!(!p.due(5, 5, Duration::from_secs(2)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WritePolicy {
    end_of_request: bool,
    every: Option<Duration>,
    after_updates: Option<u32>,
    after_requests: Option<u32>,
}

impl Default for WritePolicy {
    fn default() -> Self {
        Self::end_of_request()
    }
}

impl WritePolicy {
    /// Write at the end of every request that changed something, before it completes.
    pub const fn end_of_request() -> Self {
        Self {
            end_of_request: true,
            every: None,
            after_updates: None,
            after_requests: None,
        }
    }

    /// Write only when asked (and on recall, idle release, eviction and shutdown).
    pub const fn manual() -> Self {
        Self {
            end_of_request: false,
            every: None,
            after_updates: None,
            after_requests: None,
        }
    }

    /// Write a changed session once `interval` has passed since its last write.
    pub const fn every(interval: Duration) -> Self {
        Self::manual().or_every(interval)
    }

    /// Write once `n` attribute updates are unwritten. `n` of 0 or 1 writes every change.
    pub const fn after_updates(n: u32) -> Self {
        Self::manual().or_after_updates(n)
    }

    /// Write a changed session once `n` requests were served since its last write.
    pub const fn after_requests(n: u32) -> Self {
        Self::manual().or_after_requests(n)
    }

    /// Also write once `interval` has passed since the last write.
    pub const fn or_every(mut self, interval: Duration) -> Self {
        self.every = Some(interval);
        self
    }

    /// Also write once `n` updates are unwritten.
    pub const fn or_after_updates(mut self, n: u32) -> Self {
        self.after_updates = Some(if n == 0 { 1 } else { n });
        self
    }

    /// Also write once `n` requests were served since the last write.
    pub const fn or_after_requests(mut self, n: u32) -> Self {
        self.after_requests = Some(if n == 0 { 1 } else { n });
        self
    }

    /// True for the default, write-at-end-of-request policy.
    pub const fn is_end_of_request(&self) -> bool {
        self.end_of_request
    }

    /// The interval of a time-based policy.
    pub const fn interval(&self) -> Option<Duration> {
        self.every
    }

    /// Whether a session with unwritten changes is due at the end of a request, given
    /// the unwritten updates, the requests served and the time since its last write.
    pub fn due(&self, updates: u32, requests: u32, since_write: Duration) -> bool {
        self.end_of_request
            || self.every.is_some_and(|t| since_write >= t)
            || self.after_updates.is_some_and(|n| updates >= n)
            || self.after_requests.is_some_and(|n| requests >= n)
    }
}

impl std::fmt::Display for WritePolicy {
    /// `end-of-request`, `manual`, or conditions joined by `+`, such as
    /// `every=5s+updates=20`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if self.end_of_request {
            parts.push("end-of-request".to_string());
        }
        if let Some(t) = self.every {
            parts.push(format!("every={t:?}"));
        }
        if let Some(n) = self.after_updates {
            parts.push(format!("updates={n}"));
        }
        if let Some(n) = self.after_requests {
            parts.push(format!("requests={n}"));
        }
        if parts.is_empty() {
            parts.push("manual".to_string());
        }
        f.write_str(&parts.join("+"))
    }
}
