//! Who a session belongs to ([`Session::set_principal`]).
//!
//! The principal is the reserved attribute [`PRINCIPAL_ATTR`], written with the
//! request's other changes (so a failed request sets no principal), carried through
//! `rotate_id` with the rest of the session, and kept by [`Session::clear`], which
//! removes the app's attributes only.

use tenure_core::principal::{check_principal, principal_of};
use tenure_core::{Bytes, Codec, PRINCIPAL_ATTR};

use super::Session;
use crate::SessionError;

impl<C: Codec> Session<C> {
    /// Names the principal (the user) this session belongs to, from the end of this
    /// request on: call it at login, after [`rotate_id`](Self::rotate_id). A new
    /// session is created with it. Refused with [`SessionError::Limit`] if it is
    /// empty, longer than [`MAX_PRINCIPAL_LEN`](tenure_core::principal::MAX_PRINCIPAL_LEN)
    /// bytes or holds a control character.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use tenure_node::{Node, NodeConfig};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::start(Arc::new(tenure_store::MemoryStore::new()), NodeConfig::default()).await?;
    /// let mut s = node.session(None);
    /// s.set_principal("user-42").await?;
    /// let id = s.end().await?.id.unwrap();
    /// let mut s = node.session(Some(id));
    /// assert_eq!(s.principal_now().await?.as_deref(), Some("user-42"));
    /// # Ok(()) }
    /// ```
    pub async fn set_principal(&mut self, principal: &str) -> Result<(), SessionError> {
        check_principal(principal)?;
        self.prepare(PRINCIPAL_ATTR, true).await?;
        self.tracker.write(
            PRINCIPAL_ATTR,
            Some(Bytes::copy_from_slice(principal.as_bytes())),
        );
        Ok(())
    }

    /// Takes the principal away (the session stays, as nobody's).
    pub async fn clear_principal(&mut self) -> Result<(), SessionError> {
        self.prepare(PRINCIPAL_ATTR, true).await?;
        if self.principal().is_some() {
            self.tracker.write(PRINCIPAL_ATTR, None);
        }
        Ok(())
    }

    /// The session's principal as this request sees it (its own change, else the
    /// stored one); `None` if it has none, or while the handle is unused.
    pub fn principal(&self) -> Option<String> {
        let bytes = self
            .view(PRINCIPAL_ATTR, self.base(PRINCIPAL_ATTR))
            .ok()??;
        principal_of(&bytes).map(str::to_owned)
    }

    /// Like [`principal`](Self::principal), attaching the handle first.
    pub async fn principal_now(&mut self) -> Result<Option<String>, SessionError> {
        self.attach().await?;
        Ok(self.principal())
    }
}
