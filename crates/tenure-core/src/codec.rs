//! How attribute values become bytes.
//!
//! Change detection compares bytes, so a codec must be deterministic: the same value
//! always encodes to the same bytes. Both built-in codecs are, as long as the value's
//! `Serialize` is (a `HashMap` is not: its order varies, use a `BTreeMap`).

use std::fmt;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A value that could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not encode value: {message}")]
pub struct EncodeError {
    /// What the serializer said.
    pub message: String,
}

/// Bytes that do not decode as the requested type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not decode value: {message}")]
pub struct DecodeError {
    /// What the deserializer said.
    pub message: String,
}

/// Turns attribute values into bytes and back.
///
/// Implementations must be deterministic (equal values give equal bytes) and must
/// return an error, never panic, on any input bytes.
pub trait Codec: Clone + Send + Sync + fmt::Debug + 'static {
    /// Encodes a value.
    fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, EncodeError>;
    /// Decodes bytes as a `T`.
    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, DecodeError>;
}

/// MessagePack with struct fields by name: compact and self-describing, so a struct
/// may gain optional fields without breaking stored sessions. The default codec.
///
/// ```
/// use tenure_core::{Codec, MessagePack};
/// let bytes = MessagePack.encode(&(1u8, "a")).unwrap();
/// assert_eq!(MessagePack.decode::<(u8, String)>(&bytes).unwrap(), (1, "a".to_string()));
/// assert!(MessagePack.decode::<u8>(b"\xc1").is_err());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct MessagePack;

impl Codec for MessagePack {
    fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, EncodeError> {
        rmp_serde::to_vec_named(value).map_err(|e| EncodeError {
            message: e.to_string(),
        })
    }

    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, DecodeError> {
        let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
        // rmp-serde's default of 1024 levels overflows a 2 MiB thread stack in debug
        // builds; session values never need this many.
        de.set_max_depth(MAX_DEPTH);
        T::deserialize(&mut de).map_err(|e| DecodeError {
            message: e.to_string(),
        })
    }
}

/// Deepest nesting a MessagePack value may have before decoding fails.
pub const MAX_DEPTH: usize = 128;

/// JSON: larger, but readable in a store browser. Useful while debugging.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

impl Codec for Json {
    fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, EncodeError> {
        serde_json::to_vec(value).map_err(|e| EncodeError {
            message: e.to_string(),
        })
    }

    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, DecodeError> {
        serde_json::from_slice(bytes).map_err(|e| DecodeError {
            message: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Cart {
        items: Vec<String>,
        total: u64,
        tags: BTreeMap<String, i32>,
    }

    proptest! {
        #[test]
        fn roundtrip_is_exact_and_deterministic(items in proptest::collection::vec(".*", 0..8),
                                                 total in any::<u64>(),
                                                 tags in proptest::collection::btree_map(".*", any::<i32>(), 0..8)) {
            let cart = Cart { items, total, tags };
            for bytes in [MessagePack.encode(&cart).unwrap(), Json.encode(&cart).unwrap()] {
                prop_assert!(!bytes.is_empty());
            }
            let a = MessagePack.encode(&cart).unwrap();
            prop_assert_eq!(&a, &MessagePack.encode(&cart).unwrap());
            prop_assert_eq!(MessagePack.decode::<Cart>(&a).unwrap(), cart);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = MessagePack.decode::<Cart>(&bytes);
            let _ = MessagePack.decode::<serde_json::Value>(&bytes);
            let _ = MessagePack.decode::<Vec<String>>(&bytes);
            let _ = Json.decode::<Cart>(&bytes);
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let bytes = vec![0x91u8; 100_000]; // 100k nested one-element arrays
        let err = MessagePack.decode::<serde_json::Value>(&bytes).unwrap_err();
        assert!(err.message.contains("depth"), "{err}");
    }

    #[test]
    fn deep_json_nesting_is_an_error() {
        let json = "[".repeat(100_000);
        assert!(Json.decode::<serde_json::Value>(json.as_bytes()).is_err());
    }
}
