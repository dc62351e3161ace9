//! Values a request took with `get_mut`: kept decoded, re-encoded at the end.
//!
//! Each value sits behind a lock of its own, so a framework can hand out a guard on
//! one attribute that borrows nothing else of the session: other calls on the session
//! go on while the guard lives. Only the same attribute is out of reach meanwhile,
//! and that is answered with `SessionError::Borrowed`, never a wait on oneself.

use std::any::Any;
use std::sync::Arc;

use serde::Serialize;
use tenure_core::{Bytes, Codec, EncodeError};
use tokio::sync::Mutex;

/// A decoded value taken mutably by a request (`None`: the attribute is absent).
pub(crate) type Shared<T> = Arc<Mutex<Option<T>>>;

/// A [`Shared`] value under its type.
pub(crate) struct Slot<T>(pub(crate) Shared<T>);

/// Why a slot could not be read.
#[derive(Debug)]
pub(crate) enum SlotError {
    /// A guard on the value is alive.
    Borrowed,
    /// The value does not encode.
    Encode(EncodeError),
}

/// Type-erased access to a [`Slot`], so one request can hold values of many types.
pub(crate) trait MutSlot<C>: Send + Sync {
    fn encode(&self, codec: &C) -> Result<Option<Bytes>, SlotError>;
    /// A guard on the value is alive.
    fn borrowed(&self) -> bool;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn as_any(&self) -> &dyn Any;
}

impl<C: Codec, T: Serialize + Send + Sync + 'static> MutSlot<C> for Slot<T> {
    fn encode(&self, codec: &C) -> Result<Option<Bytes>, SlotError> {
        let value = self.0.try_lock().map_err(|_| SlotError::Borrowed)?;
        value
            .as_ref()
            .map(|v| codec.encode(v).map(Bytes::from))
            .transpose()
            .map_err(SlotError::Encode)
    }

    fn borrowed(&self) -> bool {
        self.0.try_lock().is_err()
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
