//! The key layout: every key of one session carries the session id as its hash tag,
//! so a session lives in one cluster slot and one script can touch all of it.

use tenure_core::{OwnerId, SessionId};

/// The keys of one session: `:m` meta, `:a` values, `:v` versions, `:o` the index of
/// each value kept apart, `:b:<name>` its chunks, `:f` the lingering fence. On one
/// server a script is given the meta key only and derives the others
/// (`session_keys` in `values.lua`); on a cluster it is given the five fixed keys, so
/// that Redis checks they are all on the node before the script runs and answers
/// `TRYAGAIN` while a slot migration has moved some of them.
#[derive(Debug, Clone)]
pub(crate) struct SessionKeys {
    /// Meta hash: version, timestamps, expiry, lock and queue.
    pub(crate) meta: String,
    /// Values, versions, index and fence keys, on a cluster.
    declared: Option<[String; 4]>,
}

impl SessionKeys {
    pub(crate) fn new(prefix: &str, sid: &SessionId, clustered: bool) -> Self {
        let base = format!("{prefix}:{{{}}}:", sid.as_str());
        let declared = clustered.then(|| ["a", "v", "o", "f"].map(|s| format!("{base}{s}")));
        Self {
            meta: format!("{base}m"),
            declared,
        }
    }

    /// The keys a script is given for this session, in the order it reads them.
    pub(crate) fn script_keys(&self) -> impl Iterator<Item = String> + '_ {
        std::iter::once(self.meta.clone()).chain(self.declared.iter().flatten().cloned())
    }
}

/// The principal index of `principal` (`index.lua`): the principal's bytes in hex,
/// so that any text makes a key that keeps its hash tag and cannot reach another
/// principal's.
pub(crate) fn principal_index(prefix: &str, principal: &str) -> String {
    use std::fmt::Write;
    let mut key = format!("{prefix}:p:{{");
    for b in principal.bytes() {
        let _ = write!(key, "{b:02x}");
    }
    key.push('}');
    key
}

/// The expiring set and the event stream (`log.lua`).
pub(crate) fn log_keys(prefix: &str) -> [String; 2] {
    [format!("{prefix}:expiring"), format!("{prefix}:events")]
}

/// The pub/sub channel that carries hints for `owner`.
pub(crate) fn hint_channel(prefix: &str, owner: &OwnerId) -> String {
    format!("{prefix}:hints:{{{}}}", owner.as_str())
}

/// The liveness key of `owner` (I15), in the owner's own slot.
pub(crate) fn liveness_key(prefix: &str, owner: &OwnerId) -> String {
    format!("{prefix}:live:{{{}}}", owner.as_str())
}

/// The owner a hint channel belongs to, if `channel` is one of this prefix's.
pub(crate) fn channel_owner(prefix: &str, channel: &str) -> Option<OwnerId> {
    let rest = channel.strip_prefix(prefix)?.strip_prefix(":hints:{")?;
    OwnerId::new(rest.strip_suffix('}')?).ok()
}

/// The pattern matching every session's meta key under `prefix`, for `SCAN`.
pub(crate) fn meta_pattern(prefix: &str) -> String {
    let mut escaped = String::with_capacity(prefix.len());
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    format!("{escaped}:{{*}}:m")
}

/// The session id in a meta key, if it is one of this prefix's.
pub(crate) fn meta_key_session(prefix: &str, key: &str) -> Option<SessionId> {
    let rest = key.strip_prefix(prefix)?.strip_prefix(":{")?;
    SessionId::parse(rest.strip_suffix("}:m")?).ok()
}

/// Checks a key prefix: 1 to 64 printable ASCII characters without braces (which
/// would change the hash tag) or whitespace.
pub(crate) fn valid_prefix(prefix: &str) -> bool {
    (1..=64).contains(&prefix.len())
        && prefix
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'{' && b != b'}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_the_session_hash_tag() {
        let sid = SessionId::generate().unwrap();
        let keys = SessionKeys::new("app", &sid, true);
        let slot = |k: &str| fred::util::redis_keyslot(k.as_bytes());
        let s = slot(&keys.meta);
        // The keys the scripts derive from the meta key.
        let base = keys.meta.strip_suffix('m').unwrap();
        for suffix in ["a", "v", "o", "f", "b:cart", "b:}:m"] {
            assert_eq!(slot(&format!("{base}{suffix}")), s, "{suffix}");
        }
        assert!(keys.script_keys().all(|k| slot(&k) == s));
        assert_eq!(keys.script_keys().count(), 5);
        assert_eq!(
            SessionKeys::new("app", &sid, false).script_keys().count(),
            1
        );
        assert_eq!(meta_key_session("app", &keys.meta), Some(sid.clone()));
        assert_eq!(meta_key_session("other", &keys.meta), None);
    }

    #[test]
    fn principal_indexes_are_hex() {
        assert_eq!(principal_index("app", "u{1}"), "app:p:{757b317d}");
        assert_eq!(principal_index("app", "ü"), "app:p:{c3bc}");
    }

    #[test]
    fn hint_channels_round_trip() {
        let owner = OwnerId::generate("web").unwrap();
        let ch = hint_channel("app", &owner);
        assert_eq!(channel_owner("app", &ch), Some(owner));
        assert_eq!(channel_owner("app2", &ch), None);
    }

    #[test]
    fn prefixes_are_checked() {
        assert!(valid_prefix("tenure"));
        assert!(valid_prefix("app:v2"));
        assert!(!valid_prefix(""));
        assert!(!valid_prefix("a{b}"));
        assert!(!valid_prefix("has space"));
        assert!(!valid_prefix(&"x".repeat(65)));
        assert_eq!(meta_pattern("a*b"), "a\\*b:{*}:m");
    }
}
