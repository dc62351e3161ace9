//! Attribute names as PostgreSQL's `text` holds them.
//!
//! `text` cannot hold a NUL byte, and the names Tenure reserves for itself start with
//! one (`\0tenure.expiry`, [`PRINCIPAL_ATTR`](tenure_core::PRINCIPAL_ATTR)). So a name
//! is stored with each NUL written as U+FFFE followed by `0`, and each U+FFFE (a
//! noncharacter, which no application name is expected to hold, but may) written
//! twice: a prefix-free code, so two names never share a stored form, and every
//! stored form decodes to the one name it came from.

use std::borrow::Cow;

/// The escape character: a Unicode noncharacter.
const ESCAPE: char = '\u{FFFE}';

/// `name` as stored.
pub(crate) fn to_pg(name: &str) -> Cow<'_, str> {
    if !name.contains(['\0', ESCAPE]) {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() + 8);
    for c in name.chars() {
        match c {
            '\0' => {
                out.push(ESCAPE);
                out.push('0');
            }
            ESCAPE => {
                out.push(ESCAPE);
                out.push(ESCAPE);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The name a stored form came from. A form no name makes (an escape followed by
/// anything else) is kept as it is, so a hand-written row still reads.
pub(crate) fn from_pg(stored: String) -> String {
    if !stored.contains(ESCAPE) {
        return stored;
    }
    let mut out = String::with_capacity(stored.len());
    let mut chars = stored.chars().peekable();
    while let Some(c) = chars.next() {
        if c != ESCAPE {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('0') => {
                chars.next();
                out.push('\0');
            }
            Some(&ESCAPE) => {
                chars.next();
                out.push(ESCAPE);
            }
            _ => out.push(ESCAPE),
        }
    }
    out
}

/// A column of names, decoded; NULL is none.
pub(crate) fn all_from_pg(stored: Option<Vec<String>>) -> Vec<String> {
    stored
        .unwrap_or_default()
        .into_iter()
        .map(from_pg)
        .collect()
}

/// The stored form of `name` as an SQL literal, for statements and the schema
/// (an `E''` string with the escape as `\uFFFE`; the name holds no quote or
/// backslash, which it is checked for).
pub(crate) fn sql_literal(name: &str) -> Option<String> {
    let plain = |b: u8| b == 0 || (b.is_ascii_graphic() && b != b'\'' && b != b'\\');
    if !name.bytes().all(plain) {
        return None;
    }
    Some(format!("E'{}'", to_pg(name).replace(ESCAPE, "\\uFFFE")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tenure_core::PRINCIPAL_ATTR;

    #[test]
    fn names_round_trip_and_never_collide() {
        let names = [
            "plain",
            "",
            "\0tenure.principal",
            "\u{FFFE}0tenure.principal",
            "a\0b\0",
            "\u{FFFE}",
            "\u{FFFE}\u{FFFE}",
            "x\u{FFFE}0",
        ];
        let mut stored = std::collections::HashSet::new();
        for name in names {
            let pg = to_pg(name).into_owned();
            assert!(!pg.contains('\0'), "{name:?}");
            assert_eq!(from_pg(pg.clone()), name);
            assert!(stored.insert(pg), "two names share a stored form: {name:?}");
        }
        assert!(matches!(to_pg("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn the_principal_name_is_an_sql_literal() {
        assert_eq!(
            sql_literal(PRINCIPAL_ATTR).as_deref(),
            Some("E'\\uFFFE0tenure.principal'")
        );
        assert_eq!(sql_literal("a'b"), None);
    }
}
