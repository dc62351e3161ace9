//! Property tests of structural comparison (`tenure_core::structural`) and patch
//! application (`tenure_core::Patch::apply`) on arbitrary pairs of MessagePack
//! values. The same patches run against each store in the conformance cases
//! `patches_apply_exactly` and `optimistic_patches_apply_exactly`.

use proptest::prelude::*;
use tenure_core::patch::Patch;
use tenure_core::structural::{diff, Budget};
use tenure_core::Bytes;
use tenure_test::values::{self, Value};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Applying the patch to the old encoding gives exactly the new encoding.
    #[test]
    fn a_patch_gives_exactly_the_new_encoding((old, new) in values::pair(), version in 1u64..1 << 53) {
        let (a, b) = (values::encode(&old), values::encode(&new));
        if let Some(p) = diff(version, &a, &b, &Budget::default()) {
            prop_assert!(p.len() < b.len(), "a patch is smaller than the value");
            prop_assert_eq!(p.apply(version, &a).unwrap().to_vec(), b.clone());
            prop_assert!(p.apply(version + 1, &a).is_err(), "another base version is refused");
        }
    }

    /// Any budget gives a right patch or none.
    #[test]
    fn any_budget_gives_a_right_patch_or_none((old, new) in values::related(), depth in 0usize..6, items in 0usize..200) {
        let (a, b) = (values::encode(&old), values::encode(&new));
        let budget = Budget { max_depth: depth, max_items: items };
        if let Some(p) = diff(3, &a, &b, &budget) {
            prop_assert_eq!(p.apply(3, &a).unwrap().to_vec(), b.clone());
        }
    }

    /// Arbitrary bytes as a patch never panic, and never apply to a base they do not
    /// name.
    #[test]
    fn arbitrary_patch_bytes_are_refused_or_exact(bytes in proptest::collection::vec(any::<u8>(), 0..128), old in values::value()) {
        let a = values::encode(&old);
        let _ = Patch::from_bytes(Bytes::from(bytes)).apply(1, &a);
    }

    /// Arbitrary bytes as either side are not patched unless both are MessagePack.
    #[test]
    fn arbitrary_encodings_never_panic(a in proptest::collection::vec(any::<u8>(), 0..96), b in proptest::collection::vec(any::<u8>(), 0..96)) {
        if let Some(p) = diff(1, &a, &b, &Budget::default()) {
            prop_assert_eq!(p.apply(1, &a).unwrap().to_vec(), b.clone());
        }
    }
}

/// One to three small edits (a scalar replaced, inserted or removed) of a value
/// over 200 bytes are patched, in at most 250 bytes, in 95 % of draws: the
/// comparison does not fall back to whole values for small edits.
#[test]
fn small_edits_of_larger_values_are_patched() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut large, mut patched) = (0, 0);
    for _ in 0..5_000 {
        let (old, new) = values::nudged().new_tree(&mut runner).unwrap().current();
        let (a, b) = (values::encode(&old), values::encode(&new));
        // Edits that replace most of the value are rightly written whole.
        let replaced_whole = matches!(
            (&old, &new),
            (Value::Array(_), Value::Array(_)) | (Value::Map(_), Value::Map(_))
        );
        if a.len() >= 200 && b.len() >= 200 && replaced_whole && a != b {
            large += 1;
            if let Some(p) = diff(1, &a, &b, &Budget::default()) {
                if p.len() <= 250 {
                    patched += 1;
                }
            }
        }
    }
    assert!(large >= 100, "only {large} large related pairs drawn");
    assert!(
        patched * 20 >= large * 19,
        "only {patched} of {large} small edits of values over 200 bytes were patched in 250 bytes or less"
    );
}
