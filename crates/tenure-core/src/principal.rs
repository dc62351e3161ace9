//! A session's principal: who the session belongs to (a user id), so that a store can
//! list a user's sessions and end them all ("log out everywhere").
//!
//! The principal travels as a reserved attribute, [`PRINCIPAL_ATTR`], whose stored
//! bytes are the principal's UTF-8 text itself (not encoded by the app's codec): so
//! it reaches every node with the session in every mode, moves with it through
//! `rotate_id`, commits atomically with the request's other changes, and a store can
//! read it without knowing the app's codec.

use crate::limits::LimitError;

/// The reserved attribute that holds a session's principal. Its name starts with a NUL
/// byte, which the session API refuses in names, so it cannot clash with an app's
/// attribute.
pub const PRINCIPAL_ATTR: &str = "\u{0}tenure.principal";

/// Longest principal in bytes.
pub const MAX_PRINCIPAL_LEN: usize = 256;

/// Checks a principal: 1 to [`MAX_PRINCIPAL_LEN`] bytes, no control characters (so it
/// prints safely in logs and in `tenure inspect`, and cannot forge a key separator).
///
/// ```
/// use tenure_core::principal::check_principal;
/// assert!(check_principal("user-42").is_ok());
/// assert!(check_principal("").is_err());
/// assert!(check_principal("a\nb").is_err());
/// ```
pub fn check_principal(principal: &str) -> Result<(), LimitError> {
    if principal.is_empty()
        || principal.len() > MAX_PRINCIPAL_LEN
        || principal.chars().any(char::is_control)
    {
        return Err(LimitError::Principal {
            len: principal.len(),
            max: MAX_PRINCIPAL_LEN,
        });
    }
    Ok(())
}

/// The principal held in a stored [`PRINCIPAL_ATTR`] value, if it is one (a value that
/// is not valid UTF-8, or fails [`check_principal`], is none).
pub fn principal_of(bytes: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(bytes).ok()?;
    check_principal(text).ok()?;
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_are_checked() {
        assert!(check_principal("user-42").is_ok());
        assert!(check_principal(&"x".repeat(MAX_PRINCIPAL_LEN)).is_ok());
        assert!(check_principal(&"x".repeat(MAX_PRINCIPAL_LEN + 1)).is_err());
        assert!(check_principal("").is_err());
        assert!(check_principal("a\u{0}b").is_err());
        assert_eq!(principal_of(b"ada"), Some("ada"));
        assert_eq!(principal_of(&[0xff, 0xfe]), None);
        assert_eq!(principal_of(b""), None);
    }
}
