//! The hint codes, written once: scripts name the hint they want sent by one of these
//! codes (`acquire.lua`, `commit.lua`), and the pub/sub payload is the same code
//! followed by the session id. Everything in Rust that reads or writes a code goes
//! through [`HintKind`]; a test in `scripts.rs` checks the scripts use exactly these
//! codes.

use tenure_core::SessionId;
use tenure_store::Hint;

/// The kinds of hint that travel over the wire, each with its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HintKind {
    /// [`Hint::Recall`]: another node waits for a lock this node holds.
    Recall,
    /// [`Hint::Grant`]: a lock this node waits for is free for it.
    Grant,
}

/// The code of each kind: the single table every encoding and decoding reads.
pub(crate) const TABLE: [(HintKind, &str); 2] = [(HintKind::Recall, "R"), (HintKind::Grant, "G")];

impl HintKind {
    /// The code a script answers when it asks for no hint.
    pub(crate) const NONE: &'static str = "";

    /// This kind's code.
    pub(crate) fn code(self) -> &'static str {
        TABLE
            .iter()
            .find(|(kind, _)| *kind == self)
            .map_or(Self::NONE, |(_, code)| code)
    }

    /// The kind `code` stands for, if any.
    pub(crate) fn from_code(code: &str) -> Option<Self> {
        TABLE
            .iter()
            .find(|(_, c)| *c == code)
            .map(|(kind, _)| *kind)
    }

    /// The hint of this kind about `sid`.
    pub(crate) fn hint(self, sid: SessionId) -> Hint {
        match self {
            Self::Recall => Hint::Recall(sid),
            Self::Grant => Hint::Grant(sid),
        }
    }

    /// The kind and session of `hint`, if it is one that travels (not `Resync`, which
    /// the subscriber makes up locally).
    fn of(hint: &Hint) -> Option<(Self, &SessionId)> {
        match hint {
            Hint::Recall(sid) => Some((Self::Recall, sid)),
            Hint::Grant(sid) => Some((Self::Grant, sid)),
            _ => None,
        }
    }
}

/// The pub/sub payload for `hint`: its code, then the session id.
pub(crate) fn hint_payload(hint: &Hint) -> Option<String> {
    let (kind, sid) = HintKind::of(hint)?;
    Some(format!("{}{}", kind.code(), sid.as_str()))
}

/// The hint a pub/sub payload carries, if it is a well-formed one.
pub(crate) fn parse_hint(payload: &str) -> Option<Hint> {
    TABLE.iter().find_map(|(kind, code)| {
        let sid = SessionId::parse(payload.strip_prefix(code)?).ok()?;
        Some(kind.hint(sid))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_parse_and_reject_garbage() {
        let sid = SessionId::generate().unwrap();
        assert_eq!(
            parse_hint(&format!("R{}", sid.as_str())),
            Some(Hint::Recall(sid.clone()))
        );
        assert_eq!(
            parse_hint(&format!("G{}", sid.as_str())),
            Some(Hint::Grant(sid.clone()))
        );
        assert_eq!(parse_hint(&format!("X{}", sid.as_str())), None);
        assert_eq!(parse_hint("R"), None);
        assert_eq!(parse_hint(""), None);
        assert_eq!(parse_hint("Rnot an id"), None);
    }

    #[test]
    fn payloads_round_trip() {
        let sid = SessionId::generate().unwrap();
        for (kind, _) in TABLE {
            let hint = kind.hint(sid.clone());
            assert_eq!(
                hint_payload(&hint).as_deref().and_then(parse_hint),
                Some(hint)
            );
            assert_eq!(HintKind::from_code(kind.code()), Some(kind));
        }
        assert_eq!(hint_payload(&Hint::Resync), None);
        assert_eq!(HintKind::from_code(HintKind::NONE), None);
    }
}
