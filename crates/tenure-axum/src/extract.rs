//! The `Session` extractor.

use axum::extract::FromRequestParts;
use http::request::Parts;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tenure_core::sync::lock;
use tenure_core::{AsKey, Codec, MessagePack, SessionId};
use tenure_node::SessionError;
use tokio::sync::{OwnedMappedMutexGuard, OwnedMutexGuard};

use crate::failure::MissingSessionLayer;
use crate::handle::Handle;

/// A guard on an attribute taken with [`Session::get_mut`]: dereference it to read or
/// change the value in place. The change is written when the request ends (if the
/// bytes changed). It borrows this attribute only: the session's other calls work
/// while it lives. Using the *same* attribute again meanwhile answers
/// [`SessionError::Borrowed`]; drop the guard before the handler returns.
pub type AttrMut<T> = OwnedMappedMutexGuard<Option<T>, T>;

/// The session of the current request. Nothing is loaded until the first call, so a
/// handler that takes the extractor but never uses it costs no store round trip.
/// Cheap to clone: clones share the request's session.
///
/// ```
/// use axum::{routing::post, Router};
/// use tenure_axum::{Session, SessionFailure};
///
/// async fn bump(session: Session) -> Result<String, SessionFailure> {
///     let mut n = session.get_mut_or_insert_with("counter", || 0u64).await?;
///     *n += 1;
///     // The guard borrows `counter` only: other attributes stay usable.
///     let user: Option<String> = session.get("user").await?;
///     Ok(format!("{} for {}", *n, user.unwrap_or_default()))
/// }
/// let app: Router = Router::new().route("/counter", post(bump));
/// # let _ = app;
/// ```
pub struct Session<C: Codec = MessagePack> {
    handle: Handle<C>,
}

impl<C: Codec> Clone for Session<C> {
    fn clone(&self) -> Self {
        Self {
            handle: self.handle.clone(),
        }
    }
}

impl<C: Codec> std::fmt::Debug for Session<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

impl<S: Send + Sync, C: Codec> FromRequestParts<S> for Session<C> {
    type Rejection = MissingSessionLayer;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let handle = parts
            .extensions
            .get::<Handle<C>>()
            .cloned()
            .ok_or(MissingSessionLayer)?;
        Ok(Self { handle })
    }
}

impl<C: Codec> Session<C> {
    /// Runs `f` on the node session. Concurrent calls on clones take turns.
    async fn with<R>(
        &self,
        f: impl AsyncFnOnce(&mut tenure_node::Session<C>) -> Result<R, SessionError>,
    ) -> Result<R, SessionError> {
        let mut slot = self.handle.0.slot.lock().await;
        let session = slot.session().await?;
        let result = f(session).await;
        *lock(&self.handle.0.id) = session.id().filter(|_| session.is_attached()).cloned();
        result
    }

    /// Reads an attribute. `None` if absent. Never waits for another request's lock:
    /// it sees the value the last request that ended left (see the README's isolation
    /// rules). Calls on clones of one request's session take turns, so a `get` on one
    /// clone waits while a `get_mut` on another waits for its lock.
    pub async fn get<T: DeserializeOwned>(
        &self,
        key: impl AsKey<T>,
    ) -> Result<Option<T>, SessionError> {
        self.with(async |s| s.get(key).await).await
    }

    /// Takes an attribute for in-place mutation (see [`AttrMut`]). `None` if absent.
    /// It sees the latest value, and no other request changes it until this one ends.
    pub async fn get_mut<T>(&self, key: impl AsKey<T>) -> Result<Option<AttrMut<T>>, SessionError>
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        let guard = self
            .with(async |s| s.get_mut_guard(key, None::<fn() -> T>).await)
            .await?;
        Ok(OwnedMutexGuard::try_map(guard, Option::as_mut).ok())
    }

    /// Takes an attribute for in-place mutation, inserting `init()` if absent.
    pub async fn get_mut_or_insert_with<T>(
        &self,
        key: impl AsKey<T>,
        init: impl FnOnce() -> T,
    ) -> Result<AttrMut<T>, SessionError>
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        let guard = self
            .with(async |s| s.get_mut_guard(key, Some(init)).await)
            .await?;
        // `init` filled it if it was empty.
        OwnedMutexGuard::try_map(guard, Option::as_mut).map_err(|_| SessionError::Ended)
    }

    /// Sets an attribute.
    pub async fn insert<T: Serialize + Send>(
        &self,
        key: impl AsKey<T>,
        value: T,
    ) -> Result<(), SessionError> {
        self.with(async |s| s.insert(key, value).await).await
    }

    /// Removes an attribute; answers the value it had.
    pub async fn remove<T: DeserializeOwned>(
        &self,
        key: impl AsKey<T>,
    ) -> Result<Option<T>, SessionError> {
        self.with(async |s| s.remove(key).await).await
    }

    /// Removes an attribute without decoding it; true if it was present.
    pub async fn remove_value(&self, name: &str) -> Result<bool, SessionError> {
        self.with(async |s| s.remove_value(name).await).await
    }

    /// Chooses how long this session lives, e.g. "remember me" at login
    /// ([`SessionExpiry`](tenure_node::SessionExpiry)): the store's timeouts and the
    /// cookie's lifetime change with this request's other changes.
    pub async fn set_expiry(&self, expiry: tenure_node::SessionExpiry) -> Result<(), SessionError> {
        self.with(async |s| s.set_expiry(expiry).await).await
    }

    /// The session's own expiry, if it chose one; `None` for the node's defaults.
    pub async fn expiry(&self) -> Result<Option<tenure_node::SessionExpiry>, SessionError> {
        self.with(async |s| s.expiry_now().await).await
    }

    /// Names the principal (the user) this session belongs to, with this request's
    /// other changes: call it at login, after [`rotate_id`](Self::rotate_id).
    pub async fn set_principal(&self, principal: &str) -> Result<(), SessionError> {
        self.with(async |s| s.set_principal(principal).await).await
    }

    /// Takes the principal away; the session stays, as nobody's.
    pub async fn clear_principal(&self) -> Result<(), SessionError> {
        self.with(async |s| s.clear_principal().await).await
    }

    /// The session's principal, if it has one.
    pub async fn principal(&self) -> Result<Option<String>, SessionError> {
        self.with(async |s| s.principal_now().await).await
    }

    /// Removes every attribute; the session and its id stay.
    pub async fn clear(&self) -> Result<(), SessionError> {
        self.with(async |s| s.clear().await).await
    }

    /// True if the session has no attributes.
    pub async fn is_empty(&self) -> Result<bool, SessionError> {
        self.with(async |s| s.is_empty().await).await
    }

    /// The session id as of the last call: `None` until the session is first used
    /// in this request (a presented cookie is only a claim until then), then the id
    /// of the stored session (`None` if no presented cookie named a live one; with
    /// several cookies of the name, the first that did); the new id after
    /// [`rotate_id`](Self::rotate_id); `None` after [`delete`](Self::delete). A new
    /// session gets its id when the request ends. Treat it as a secret.
    pub fn id(&self) -> Option<SessionId> {
        lock(&self.handle.0.id).clone()
    }

    /// Gives the session a new id and retires the old one: call it on login
    /// (session fixation). The response carries the new cookie.
    pub async fn rotate_id(&self) -> Result<Option<SessionId>, SessionError> {
        self.with(async |s| s.rotate_id().await).await
    }

    /// Deletes the session (logout). The response clears the cookie, unless the
    /// handler stores something afterwards, which starts a new session.
    pub async fn delete(&self) -> Result<(), SessionError> {
        self.with(async |s| s.delete().await).await
    }
}
