//! A principal's sessions, node-wide (issue 15): listing them from the store's index
//! and ending them all ("log out everywhere").
//!
//! Ending goes through the same path as any request that deletes its session: in
//! exclusive mode the node asks for the session's tenure (queued FIFO at the store;
//! the holder is recalled, lets its in-flight requests finish and writes them, then
//! gives the session back), and deletes it while holding it. So when
//! [`Node::delete_sessions_of`] returns, no node holds a copy of those sessions, and
//! a write from a request that was in flight was either stored before the delete (and
//! deleted with the session) or refused by the fence.

use std::time::{Duration, SystemTime};

use futures::future::join_all;
use tenure_core::principal::check_principal;
use tenure_core::{Codec, SessionId};

use crate::{Node, SessionError};

/// One live session of a principal, as [`Node::sessions_of`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionOf {
    /// The session.
    pub id: SessionId,
    /// When it was created, by this node's clock (from the store's "how long ago").
    pub created: SystemTime,
    /// When a request last used it at the store, by this node's clock. A session a
    /// node holds is used without store calls, so this can lag by up to the renewal
    /// interval.
    pub last_access: SystemTime,
    /// The value of the [`device_label`](crate::NodeConfig::device_label) attribute,
    /// if configured, present and a string.
    pub label: Option<String>,
}

fn ago(now: SystemTime, d: Duration) -> SystemTime {
    now.checked_sub(d).unwrap_or(SystemTime::UNIX_EPOCH)
}

impl<C: Codec> Node<C> {
    /// The live sessions of `principal` ([`Session::set_principal`](crate::Session::set_principal)),
    /// from the store's index, checked there against each session: never an expired,
    /// deleted or rotated-away one. A principal the store does not accept as one
    /// (empty, too long, control characters) is a [`SessionError::Limit`].
    pub async fn sessions_of(&self, principal: &str) -> Result<Vec<SessionOf>, SessionError> {
        check_principal(principal)?;
        let label = self.config().device_label.as_deref();
        let listed = self.inner.store.sessions_of(principal, label).await?;
        let now = SystemTime::now();
        Ok(listed
            .into_iter()
            .map(|s| SessionOf {
                label: s
                    .label
                    .and_then(|bytes| self.inner.codec.decode::<String>(&bytes).ok()),
                created: ago(now, s.age),
                last_access: ago(now, s.idle_for),
                id: s.id,
            })
            .collect())
    }

    /// Ends every live session of `principal` but `except` (the caller's own, which
    /// it ends with [`Session::delete`](crate::Session::delete): a request cannot
    /// wait for its own session's tenure), also those other nodes hold, and answers
    /// how many it ended. The sessions are ended together; each as a request that
    /// deletes it would be (see the module docs). A session that gets the principal
    /// while this runs may be missed: call it again to be sure. Answers the first
    /// error met after trying every session.
    pub async fn delete_sessions_of(
        &self,
        principal: &str,
        except: Option<&SessionId>,
    ) -> Result<usize, SessionError> {
        let listed = self.sessions_of(principal).await?;
        let ends = listed
            .into_iter()
            .filter(|s| Some(&s.id) != except)
            .map(|s| async move {
                let mut session = self.session(Some(s.id));
                session.delete().await?;
                session.end().await?;
                Ok::<_, SessionError>(())
            });
        let mut ended = 0;
        let mut first_err = None;
        for result in join_all(ends).await {
            match result {
                Ok(()) => ended += 1,
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(ended), Err)
    }
}
