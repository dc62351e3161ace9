//! Values a request took with `get_mut`: kept decoded, re-encoded at the end.

use std::any::Any;

use serde::Serialize;
use tenure_core::{Bytes, Codec, EncodeError};

/// A decoded value held mutably by a request (`None`: the attribute is absent).
pub(crate) struct Slot<T>(pub(crate) Option<T>);

/// Type-erased access to a [`Slot`], so one request can hold values of many types.
pub(crate) trait MutSlot<C>: Send + Sync {
    fn encode(&self, codec: &C) -> Result<Option<Bytes>, EncodeError>;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn as_any(&self) -> &dyn Any;
}

impl<C: Codec, T: Serialize + Send + Sync + 'static> MutSlot<C> for Slot<T> {
    fn encode(&self, codec: &C) -> Result<Option<Bytes>, EncodeError> {
        self.0
            .as_ref()
            .map(|v| codec.encode(v).map(Bytes::from))
            .transpose()
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
