//! A fixed hash tag for each of the 16,384 cluster slots, so that a script on a
//! session can be given keys of its slot that are the same for every session there
//! (the slot key, the principal index shards: `scripts/index.lua`).
//!
//! The tags are the shortest decimal numbers that hash to each slot, found once per
//! process (about 170,000 CRC16s of a few bytes: under a few milliseconds).

use std::sync::OnceLock;

/// Slots in a Redis Cluster.
pub(crate) const SLOTS: usize = 16_384;

fn table() -> &'static [String] {
    static TABLE: OnceLock<Vec<String>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut tags = vec![String::new(); SLOTS];
        let mut missing = SLOTS;
        let mut n: u64 = 0;
        while missing > 0 {
            let tag = n.to_string();
            let slot = usize::from(fred::util::redis_keyslot(tag.as_bytes()));
            if let Some(entry) = tags.get_mut(slot) {
                if entry.is_empty() {
                    *entry = tag;
                    missing -= 1;
                }
            }
            n += 1;
        }
        tags
    })
}

/// The tag of `slot` (taken modulo [`SLOTS`]).
pub(crate) fn tag_of_slot(slot: usize) -> &'static str {
    &table()[slot % SLOTS]
}

/// The tag of the slot `key` hashes to.
pub(crate) fn tag_of_key(key: &str) -> &'static str {
    tag_of_slot(usize::from(fred::util::redis_keyslot(key.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_slot_has_its_own_tag() {
        let mut seen = std::collections::HashSet::new();
        for slot in 0..SLOTS {
            let tag = tag_of_slot(slot);
            assert_eq!(usize::from(fred::util::redis_keyslot(tag.as_bytes())), slot);
            assert_eq!(
                usize::from(fred::util::redis_keyslot(
                    format!("app:x:{{{tag}}}").as_bytes()
                )),
                slot
            );
            assert!(seen.insert(tag));
        }
        assert!(tag_of_slot(SLOTS + 3) == tag_of_slot(3));
        let key = "app:{abc}:m";
        assert_eq!(
            fred::util::redis_keyslot(key.as_bytes()),
            fred::util::redis_keyslot(format!("p:{{{}}}", tag_of_key(key)).as_bytes())
        );
    }
}
