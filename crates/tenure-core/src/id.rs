//! Session ids and node (owner) ids.
//!
//! A [`SessionId`] is the secret a client presents, so it comes only from
//! [`SessionId::generate`] (the OS CSPRNG) or from [`SessionId::parse`], which checks its
//! shape before any store key is built from it. Its `Debug` form is redacted so that an
//! id never lands whole in a log by accident.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// Random bytes in a generated id: 192 bits, above the 128-bit floor.
const ID_BYTES: usize = 24;
/// Shortest id accepted by [`SessionId::parse`]: 22 base64url characters carry 128 bits.
const MIN_ID_LEN: usize = 22;
/// Longest id accepted by [`SessionId::parse`].
const MAX_ID_LEN: usize = 64;
/// Longest owner id.
const MAX_OWNER_LEN: usize = 64;

/// An id that failed its shape check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The id is shorter or longer than allowed.
    #[error("id length {len} is outside {min}..={max}")]
    Length {
        /// Length of the rejected input.
        len: usize,
        /// Shortest accepted length.
        min: usize,
        /// Longest accepted length.
        max: usize,
    },
    /// The id holds a character outside its alphabet.
    #[error("id holds a character outside its alphabet")]
    Alphabet,
    /// The OS random number generator failed.
    #[error("the OS random number generator failed: {0}")]
    Random(String),
}

/// The id of one session: at least 128 random bits, base64url without padding.
///
/// ```
/// use tenure_core::SessionId;
/// let id = SessionId::generate().unwrap();
/// assert_eq!(SessionId::parse(id.as_str()).unwrap(), id);
/// assert!(SessionId::parse("../../etc/passwd").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(Box<str>);

impl SessionId {
    /// A new id of 192 bits read from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, IdError> {
        let mut raw = [0u8; ID_BYTES];
        getrandom::fill(&mut raw).map_err(|e| IdError::Random(e.to_string()))?;
        Ok(Self(URL_SAFE_NO_PAD.encode(raw).into_boxed_str()))
    }

    /// Checks the shape of an id received from outside (22 to 64 base64url characters).
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if !(MIN_ID_LEN..=MAX_ID_LEN).contains(&s.len()) {
            return Err(IdError::Length {
                len: s.len(),
                min: MIN_ID_LEN,
                max: MAX_ID_LEN,
            });
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(IdError::Alphabet);
        }
        Ok(Self(s.into()))
    }

    /// The id as text, for a cookie or a store key. Treat it as a secret.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first characters of the id, safe to show in logs and pages.
    pub fn prefix(&self) -> &str {
        &self.0[..6]
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({}…)", self.prefix())
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for SessionId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The id of one node (one app-server process) as the store knows it: the owner of a
/// tenure and of a place in a waiting queue.
///
/// ```
/// use tenure_core::OwnerId;
/// let a = OwnerId::generate("web").unwrap();
/// assert!(a.as_str().starts_with("web-"));
/// assert!(OwnerId::new("bad owner").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OwnerId(Box<str>);

impl OwnerId {
    /// An owner id from a fixed name (1 to 64 of `A-Z a-z 0-9 - _ . :`).
    ///
    /// Two live nodes must never share an owner id; prefer [`OwnerId::generate`].
    pub fn new(name: &str) -> Result<Self, IdError> {
        if name.is_empty() || name.len() > MAX_OWNER_LEN {
            return Err(IdError::Length {
                len: name.len(),
                min: 1,
                max: MAX_OWNER_LEN,
            });
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        {
            return Err(IdError::Alphabet);
        }
        Ok(Self(name.into()))
    }

    /// A unique owner id: `label` followed by 64 random bits.
    pub fn generate(label: &str) -> Result<Self, IdError> {
        let mut raw = [0u8; 8];
        getrandom::fill(&mut raw).map_err(|e| IdError::Random(e.to_string()))?;
        let mut label: String = label.chars().take(MAX_OWNER_LEN - 17).collect();
        if label.is_empty() {
            label.push_str("node");
        }
        Self::new(&format!("{label}-{:016x}", u64::from_le_bytes(raw)))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OwnerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OwnerId({})", self.0)
    }
}

impl fmt::Display for OwnerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_long_distinct_and_parse() {
        let a = SessionId::generate().unwrap();
        let b = SessionId::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 32);
        assert_eq!(SessionId::parse(a.as_str()).unwrap(), a);
    }

    #[test]
    fn debug_is_redacted() {
        let a = SessionId::generate().unwrap();
        assert!(!format!("{a:?}").contains(a.as_str()));
    }

    #[test]
    fn bad_shapes_are_rejected() {
        assert!(matches!(
            SessionId::parse("short"),
            Err(IdError::Length { .. })
        ));
        assert!(matches!(
            SessionId::parse(&"a".repeat(65)),
            Err(IdError::Length { .. })
        ));
        assert_eq!(
            SessionId::parse("aaaaaaaaaaaaaaaaaaaaa{b}"),
            Err(IdError::Alphabet)
        );
        assert_eq!(
            SessionId::parse("aaaaaaaaaaaaaaaaaaaaaaaé"),
            Err(IdError::Alphabet)
        );
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in ".*") {
            let _ = SessionId::parse(&s);
            let _ = OwnerId::new(&s);
        }
    }
}
