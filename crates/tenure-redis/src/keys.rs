//! The key layout: every key of one session carries the session id as its hash tag,
//! so a session lives in one cluster slot and one script can touch all of it.

use tenure_core::{OwnerId, SessionId};

use crate::slot_tags::tag_of_key;

/// The keys of one session: `:m` meta, `:a` values, `:v` versions, `:o` the index of
/// each value kept apart, `:b:<name>` its chunks, `:f` the lingering fence. On one
/// server a script is given the meta key only and derives the others
/// (`session_keys` in `values.lua`); on a cluster it is given the five fixed keys and
/// the slot key ([`slot_key`]), so that Redis checks they are all on the node before
/// the script runs and answers `TRYAGAIN` while a slot migration has moved some of
/// them.
#[derive(Debug, Clone)]
pub(crate) struct SessionKeys {
    /// Meta hash: version, timestamps, expiry, lock and queue.
    pub(crate) meta: String,
    /// Values, versions, index, fence and slot keys, on a cluster.
    declared: Option<[String; 5]>,
}

impl SessionKeys {
    pub(crate) fn new(prefix: &str, sid: &SessionId, clustered: bool) -> Self {
        let base = format!("{prefix}:{{{}}}:", sid.as_str());
        let meta = format!("{base}m");
        let declared = clustered.then(|| {
            let [a, v, o, f] = ["a", "v", "o", "f"].map(|s| format!("{base}{s}"));
            [a, v, o, f, slot_key(prefix, tag_of_key(&meta))]
        });
        Self { meta, declared }
    }

    /// The tag of the session's cluster slot.
    pub(crate) fn slot_tag(&self) -> &'static str {
        tag_of_key(&self.meta)
    }

    /// The keys a script is given for this session, in the order it reads them.
    pub(crate) fn script_keys(&self) -> impl Iterator<Item = String> + '_ {
        std::iter::once(self.meta.clone()).chain(self.declared.iter().flatten().cloned())
    }
}

fn push_hex(key: &mut String, bytes: &[u8]) {
    use std::fmt::Write;
    for b in bytes {
        let _ = write!(key, "{b:02x}");
    }
}

/// The principal index of `principal` on one server (`index.lua`): the principal's
/// bytes in hex, so that any text makes a key that keeps its hash tag and cannot reach
/// another principal's.
pub(crate) fn principal_index(prefix: &str, principal: &[u8]) -> String {
    let mut key = format!("{prefix}:p:{{");
    push_hex(&mut key, principal);
    key.push('}');
    key
}

/// The shard of `principal`'s index in the slot tagged `tag`, on a cluster.
pub(crate) fn index_shard(prefix: &str, tag: &str, principal: &[u8]) -> String {
    let mut key = format!("{prefix}:p:{{{tag}}}:");
    push_hex(&mut key, principal);
    key
}

/// The directory of the slots holding `principal`'s shards, on a cluster
/// (`scripts/directory.lua`).
pub(crate) fn directory(prefix: &str, principal: &[u8]) -> String {
    let mut key = format!("{prefix}:d:{{");
    push_hex(&mut key, principal);
    key.push('}');
    key
}

/// The slot key of the slot tagged `tag` (`scripts/index.lua`): the principals whose
/// shard there asks the slot pass for a later horizon.
pub(crate) fn slot_key(prefix: &str, tag: &str) -> String {
    format!("{prefix}:x:{{{tag}}}")
}

/// The expiring set and the event stream (`log.lua`).
pub(crate) fn log_keys(prefix: &str) -> [String; 2] {
    [format!("{prefix}:expiring"), format!("{prefix}:events")]
}

/// The event keys of a cluster, all in one slot (`log.lua`): the log the outboxes are
/// moved to, an expiring set kept empty (the events script's first key), the per-slot
/// cursor of moved entries, the pending slots and the slots' scheduled expiry passes.
#[derive(Debug, Clone)]
pub(crate) struct ClusterLog {
    pub(crate) log: String,
    pub(crate) expiring: String,
    pub(crate) moved: String,
    pub(crate) pending: String,
    pub(crate) due: String,
}

impl ClusterLog {
    pub(crate) fn new(prefix: &str) -> Self {
        let key = |name: &str| format!("{prefix}:{{events}}:{name}");
        Self {
            log: key("log"),
            expiring: key("expiring"),
            moved: key("moved"),
            pending: key("pending"),
            due: key("due"),
        }
    }
}

/// The outbox of the slot tagged `tag` on a cluster (`log.lua`).
pub(crate) fn outbox(prefix: &str, tag: &str) -> String {
    format!("{prefix}:o:{{{tag}}}")
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
        assert_eq!(keys.script_keys().count(), 6);
        let tag = keys.slot_tag();
        assert_eq!(slot(&slot_key("app", tag)), s);
        assert_eq!(slot(&index_shard("app", tag, b"u")), s);
        assert_eq!(
            SessionKeys::new("app", &sid, false).script_keys().count(),
            1
        );
        assert_eq!(meta_key_session("app", &keys.meta), Some(sid.clone()));
        assert_eq!(meta_key_session("other", &keys.meta), None);
    }

    #[test]
    fn principal_indexes_are_hex() {
        assert_eq!(principal_index("app", b"u{1}"), "app:p:{757b317d}");
        assert_eq!(principal_index("app", "ü".as_bytes()), "app:p:{c3bc}");
        assert_eq!(index_shard("app", "12", b"u"), "app:p:{12}:75");
        assert_eq!(directory("app", b"u"), "app:d:{75}");
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
