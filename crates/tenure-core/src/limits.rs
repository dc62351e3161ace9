//! Bounds on what one session may hold, checked before anything reaches a store.

/// A limit that an attribute or a session would exceed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// The attribute name is empty, too long, or holds a control character.
    #[error(
        "attribute name of {len} bytes is empty, longer than {max}, or holds a control character"
    )]
    Name {
        /// Length of the rejected name.
        len: usize,
        /// Longest name allowed.
        max: usize,
    },
    /// One encoded value is larger than allowed.
    #[error("attribute `{attr}` is {size} bytes encoded, above the limit of {max}")]
    ValueSize {
        /// The attribute.
        attr: String,
        /// Encoded size.
        size: usize,
        /// Limit.
        max: usize,
    },
    /// The session would hold more attributes than allowed.
    #[error("session would hold {count} attributes, above the limit of {max}")]
    Count {
        /// Attributes the session would hold.
        count: usize,
        /// Limit.
        max: usize,
    },
    /// The session's encoded attributes would add up to more than allowed.
    #[error("session would hold {size} bytes, above the limit of {max}")]
    SessionSize {
        /// Bytes the session would hold.
        size: usize,
        /// Limit.
        max: usize,
    },
    /// A principal is empty, too long, or holds a control character.
    #[error("principal of {len} bytes is empty, longer than {max}, or holds a control character")]
    Principal {
        /// Length of the rejected principal.
        len: usize,
        /// Longest principal allowed.
        max: usize,
    },
}

/// Attribute and session bounds.
///
/// ```
/// use tenure_core::Limits;
/// let limits = Limits::default();
/// assert!(limits.check_name("cart").is_ok());
/// assert!(limits.check_value("cart", 10 * 1024 * 1024).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest attribute name in bytes. Default 128.
    pub max_name_len: usize,
    /// Largest encoded attribute value in bytes. Default 1 MiB.
    pub max_value_bytes: usize,
    /// Most attributes in one session. Default 1024.
    pub max_attrs: usize,
    /// Largest session (sum of names and encoded values) in bytes. Default 4 MiB.
    pub max_session_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_name_len: 128,
            max_value_bytes: 1024 * 1024,
            max_attrs: 1024,
            max_session_bytes: 4 * 1024 * 1024,
        }
    }
}

impl Limits {
    /// Checks an attribute name.
    pub fn check_name(&self, name: &str) -> Result<(), LimitError> {
        if name.is_empty() || name.len() > self.max_name_len || name.chars().any(char::is_control) {
            return Err(LimitError::Name {
                len: name.len(),
                max: self.max_name_len,
            });
        }
        Ok(())
    }

    /// Checks one encoded value.
    pub fn check_value(&self, name: &str, size: usize) -> Result<(), LimitError> {
        if size > self.max_value_bytes {
            return Err(LimitError::ValueSize {
                attr: name.to_string(),
                size,
                max: self.max_value_bytes,
            });
        }
        Ok(())
    }

    /// Checks the totals of a whole session.
    pub fn check_session(&self, count: usize, size: usize) -> Result<(), LimitError> {
        if count > self.max_attrs {
            return Err(LimitError::Count {
                count,
                max: self.max_attrs,
            });
        }
        if size > self.max_session_bytes {
            return Err(LimitError::SessionSize {
                size,
                max: self.max_session_bytes,
            });
        }
        Ok(())
    }
}
