//! Failures of a store call (as opposed to protocol outcomes such as `Stale`, which
//! are values).

/// A store call that failed: the store could not be asked or could not answer.
///
/// When a call fails, the caller cannot know whether it took effect (a commit may have
/// applied before the reply was lost); the protocol is built so that retrying or
/// re-reading the lock state is always safe.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store could not be reached or timed out; retrying may help.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store answered with something that does not follow the protocol (corrupt
    /// data, unknown reply); retrying will not help.
    #[error("store protocol violation: {0}")]
    Protocol(String),
    /// The backend does not do this (a store without a principal index, for
    /// [`Store::sessions_of`](crate::Store::sessions_of)); retrying will not help.
    #[error("not supported by this store: {0}")]
    Unsupported(&'static str),
    /// A backend error, kept as the source.
    #[error("store backend error")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// True if the same call may succeed later.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}
