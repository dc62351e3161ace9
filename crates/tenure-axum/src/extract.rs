//! The `Session` extractor.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use http::request::Parts;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tenure_core::{AsKey, Codec, MessagePack, SessionId};
use tenure_node::SessionError;
use tokio::sync::{Mutex, OwnedMappedMutexGuard, OwnedMutexGuard};

use crate::failure::MissingSessionLayer;

/// The request's node session, shared by the layer and the extractor. The layer takes
/// it back to end the request after the handler returns.
pub(crate) struct Handle<C: Codec>(pub(crate) Arc<Mutex<Option<tenure_node::Session<C>>>>);

impl<C: Codec> Clone for Handle<C> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

/// A guard on an attribute taken with [`Session::get_mut`]: dereference it to read or
/// change the value in place. The change is written when the request ends (if the
/// bytes changed). While it lives, other calls on the session answer
/// [`SessionError::Busy`]: drop it first.
pub type AttrMut<T, C = MessagePack> = OwnedMappedMutexGuard<Option<tenure_node::Session<C>>, T>;

/// The session of the current request. Nothing is loaded until the first call, so a
/// handler that takes the extractor but never uses it costs no store round trip.
///
/// ```
/// use axum::{routing::post, Router};
/// use tenure_axum::{Session, SessionFailure};
///
/// async fn bump(session: Session) -> Result<String, SessionFailure> {
///     let mut n = session.get_mut_or_insert_with("counter", || 0u64).await?;
///     *n += 1;
///     Ok(n.to_string())
/// }
/// let app: Router = Router::new().route("/counter", post(bump));
/// # let _ = app;
/// ```
pub struct Session<C: Codec = MessagePack> {
    handle: Handle<C>,
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
    /// The node session, unless a guard holds it or the request already ended.
    fn lock(&self) -> Result<OwnedMutexGuard<Option<tenure_node::Session<C>>>, SessionError> {
        let guard = self
            .handle
            .0
            .clone()
            .try_lock_owned()
            .map_err(|_| SessionError::Busy)?;
        if guard.is_none() {
            return Err(SessionError::Ended);
        }
        Ok(guard)
    }

    /// Runs `f` on the node session.
    async fn with<R>(
        &self,
        f: impl AsyncFnOnce(&mut tenure_node::Session<C>) -> Result<R, SessionError>,
    ) -> Result<R, SessionError> {
        let mut guard = self.lock()?;
        match guard.as_mut() {
            Some(session) => f(session).await,
            None => Err(SessionError::Ended),
        }
    }

    /// Reads an attribute.
    pub async fn get<T: DeserializeOwned>(
        &self,
        key: impl AsKey<T>,
    ) -> Result<Option<T>, SessionError> {
        self.with(async |s| s.get(key).await).await
    }

    /// Takes an attribute for in-place mutation (see [`AttrMut`]). `None` if absent.
    pub async fn get_mut<T>(
        &self,
        key: impl AsKey<T>,
    ) -> Result<Option<AttrMut<T, C>>, SessionError>
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        self.take_mut(key.name(), None::<fn() -> T>).await
    }

    /// Takes an attribute for in-place mutation, inserting `init()` if absent.
    pub async fn get_mut_or_insert_with<T>(
        &self,
        key: impl AsKey<T>,
        init: impl FnOnce() -> T,
    ) -> Result<AttrMut<T, C>, SessionError>
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        self.take_mut(key.name(), Some(init))
            .await?
            .ok_or(SessionError::Ended)
    }

    /// Takes `name` mutably in the node session (inserting `init()` if given and
    /// absent), then narrows the lock on the node session to that value.
    async fn take_mut<T>(
        &self,
        name: &str,
        init: Option<impl FnOnce() -> T>,
    ) -> Result<Option<AttrMut<T, C>>, SessionError>
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        let mut guard = self.lock()?;
        let Some(session) = guard.as_mut() else {
            return Err(SessionError::Ended);
        };
        match init {
            Some(init) => {
                session.get_mut_or_insert_with::<T>(name, init).await?;
            }
            None => {
                if session.get_mut::<T>(name).await?.is_none() {
                    return Ok(None);
                }
            }
        }
        Ok(OwnedMutexGuard::try_map(guard, |s| s.as_mut()?.taken_mut::<T>(name)).ok())
    }

    /// Sets an attribute.
    pub async fn insert<T: Serialize + Send>(
        &self,
        key: impl AsKey<T>,
        value: T,
    ) -> Result<(), SessionError> {
        self.with(async |s| s.insert(key, value).await).await
    }

    /// Removes an attribute.
    pub async fn remove(&self, name: &str) -> Result<(), SessionError> {
        self.with(async |s| s.remove(name).await).await
    }

    /// The session id, if the session exists at the store (see
    /// [`tenure_node::Session::id`]). Treat it as a secret.
    pub async fn id(&self) -> Result<Option<SessionId>, SessionError> {
        self.with(async |s| Ok(s.id().cloned())).await
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
