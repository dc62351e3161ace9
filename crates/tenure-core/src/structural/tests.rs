//! Shapes the comparison must recognise; arbitrary pairs are in
//! `tenure-test/tests/patches.rs`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::*;
use crate::{Codec, MessagePack};

#[derive(Debug, Clone, Serialize)]
struct Item {
    sku: String,
    name: String,
    quantity: u32,
    price_cents: u64,
}

#[derive(Debug, Clone, Serialize)]
struct Cart {
    owner: String,
    items: Vec<Item>,
}

fn cart(n: usize) -> Cart {
    Cart {
        owner: "user-42".into(),
        items: (0..n)
            .map(|i| Item {
                sku: format!("sku-{i:06}"),
                name: format!("A product with a name of some length, number {i}"),
                quantity: 1,
                price_cents: 1999,
            })
            .collect(),
    }
}

fn enc<T: Serialize>(v: &T) -> Vec<u8> {
    MessagePack.encode(v).unwrap()
}

/// The patch from `a` to `b`, checked to give `b`.
fn patch(a: &[u8], b: &[u8]) -> Option<Patch> {
    let p = diff(9, a, b, &Budget::default())?;
    assert_eq!(p.apply(9, a).unwrap().as_ref(), b);
    Some(p)
}

#[test]
fn one_quantity_in_a_500_item_cart_is_a_few_bytes() {
    let mut c = cart(500);
    let old = enc(&c);
    c.items[250].quantity = 7;
    let new = enc(&c);
    let p = patch(&old, &new).unwrap();
    assert!(p.len() < 40, "{} bytes", p.len());
    assert!(new.len() > 40_000);
}

#[test]
fn replacing_one_item_costs_about_the_item() {
    let mut c = cart(500);
    let old = enc(&c);
    c.items[17] = Item {
        sku: "sku-new".into(),
        name: "Another product".into(),
        quantity: 2,
        price_cents: 500,
    };
    let new = enc(&c);
    let p = patch(&old, &new).unwrap();
    assert!(p.len() < 120, "{} bytes", p.len());
}

#[test]
fn append_truncate_insert_and_remove_are_one_splice_each() {
    let base = cart(100);
    let old = enc(&base);
    let mut appended = base.clone();
    appended.items.push(base.items[0].clone());
    let mut truncated = base.clone();
    truncated.items.truncate(60);
    let mut inserted = base.clone();
    inserted.items.insert(40, base.items[3].clone());
    let mut removed = base.clone();
    removed.items.remove(40);
    let one_item = enc(&base.items[0]).len();
    for (what, v) in [
        ("append", appended),
        ("truncate", truncated),
        ("insert", inserted),
        ("remove", removed),
    ] {
        let new = enc(&v);
        let p = patch(&old, &new).unwrap_or_else(|| panic!("{what}: no patch"));
        assert!(
            p.len() <= HEADER_LEN + 2 * SPLICE_HEADER_LEN + one_item + 3,
            "{what}: {} bytes",
            p.len()
        );
    }
}

#[test]
fn maps_by_key_keep_the_new_order() {
    let mut m: BTreeMap<String, u32> = (0..50).map(|i| (format!("k{i:02}"), i)).collect();
    let old = enc(&m);
    m.remove("k10");
    m.insert("k10a".into(), 5);
    m.insert("zz".into(), 1);
    m.insert("k33".into(), 0);
    let new = enc(&m);
    assert!(patch(&old, &new).is_some());
}

#[test]
fn one_small_change_is_one_splice_whatever_the_codec() {
    let json_old = br#"{"a":[1,2,3],"b":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#;
    let json_new = br#"{"a":[1,2,44],"b":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#;
    let p = diff(7, json_old, json_new, &Budget::default()).unwrap();
    assert_eq!(p.apply(7, json_old).unwrap().as_ref(), &json_new[..]);
    // The header, one splice header and the two bytes that differ.
    assert_eq!(p.len(), HEADER_LEN + SPLICE_HEADER_LEN + 2);
    // No budget is spent on it: it does not walk.
    let none = Budget {
        max_items: 0,
        max_depth: 0,
    };
    let mut c = cart(500);
    let old = enc(&c);
    c.items[400].quantity = 9;
    let new = enc(&c);
    let p = diff(1, &old, &new, &none).unwrap();
    assert_eq!(p.apply(1, &old).unwrap().as_ref(), &new[..]);
    assert!(p.len() < 40, "{} bytes", p.len());
}

#[test]
fn type_changes_and_scalars_are_replaced() {
    let old = enc(&(1u8, "text", vec![1u8, 2, 3]));
    let new = enc(&(1u8, 3.5f64, vec![1u8, 2, 3]));
    // Small values: the patch would not be smaller than the value.
    assert!(diff(1, &old, &new, &Budget::default()).is_none());
    let mut c = cart(50);
    let old = enc(&c);
    c.owner = "someone else".into();
    let new = enc(&c);
    assert!(patch(&old, &new).is_some());
}

#[test]
fn not_messagepack_or_out_of_budget_means_whole() {
    // Two changes further apart than one small splice: the structure is walked.
    let filler = "x".repeat(2 * ONE_SPLICE_MAX);
    let json_old = format!(r#"{{"a":[1,2,3],"b":"{filler}","c":1}}"#);
    let json_new = format!(r#"{{"a":[1,2,4],"b":"{filler}","c":2}}"#);
    assert!(diff(
        1,
        json_old.as_bytes(),
        json_new.as_bytes(),
        &Budget::default()
    )
    .is_none());
    let mut c = cart(500);
    let old = enc(&c);
    // Reaching item 400 reads the 400 before it in the old value: 2,000 items.
    c.items[100].quantity = 9;
    c.items[400].quantity = 9;
    let new = enc(&c);
    let tight = Budget {
        max_items: 1_000,
        ..Budget::default()
    };
    assert!(diff(1, &old, &new, &tight).is_none());
    // Past the depth, the differing sub-value is replaced: still a patch, larger.
    let shallow = Budget {
        max_depth: 2,
        ..Budget::default()
    };
    let p = diff(1, &old, &new, &shallow).unwrap();
    assert!(p.len() > patch(&old, &new).unwrap().len());
}

#[test]
fn deep_nesting_does_not_overflow_the_stack() {
    let mut old = vec![0x91u8; 100_000];
    old.push(0x01);
    let mut new = old.clone();
    *new.last_mut().unwrap() = 0x02;
    let p = diff(1, &old, &new, &Budget::default());
    if let Some(p) = p {
        assert_eq!(p.apply(1, &old).unwrap().as_ref(), &new[..]);
    }
}

#[test]
fn malformed_encodings_give_an_exact_patch_or_none() {
    let c = cart(10);
    let good = enc(&c);
    let mut truncated = good.clone();
    truncated.pop();
    // Claims far more elements than there are bytes.
    let huge = vec![0xdd, 0xff, 0xff, 0xff, 0xff, 0x01];
    for (a, b) in [
        (&good, &truncated),
        (&truncated, &good),
        (&huge, &good),
        (&good, &huge),
    ] {
        if let Some(p) = diff(1, a, b, &Budget::default()) {
            assert_eq!(p.apply(1, a).unwrap().as_ref(), &b[..]);
        }
    }
    assert!(diff(1, &huge, &good, &Budget::default()).is_none());
}
