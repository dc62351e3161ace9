//! Structural comparison of a 500-item cart (about 50 KB of MessagePack): the patch
//! for one changed item, against encoding and plain byte comparison for reference.
//!
//! Run with `cargo bench -p tenure-bench-micro --bench structural`.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use serde::Serialize;
use tenure_core::structural::{self, Budget};
use tenure_core::{Codec, MessagePack};

const ITEMS: usize = 500;
const CHANGED: usize = 250;
const BASE_VERSION: u64 = 7;

#[derive(Debug, Clone, Serialize)]
struct Item {
    sku: String,
    name: String,
    quantity: u32,
    price_cents: u64,
}

#[derive(Debug, Clone, Serialize)]
struct Cart {
    items: Vec<Item>,
}

/// One item, about 100 bytes encoded (named MessagePack): 31 bytes of map header and
/// keys, an 11-byte SKU, a 54-byte name, a 1-byte quantity, a 3-byte price.
fn item(i: usize, label: &str) -> Item {
    Item {
        sku: format!("SKU-{i:06}"),
        name: format!("{label} product number {i:06}, colour blue, size M....")
            .chars()
            .take(52)
            .collect(),
        quantity: 1,
        price_cents: 1_000 + (i as u64 % 9_000),
    }
}

fn encode(cart: &Cart) -> Vec<u8> {
    MessagePack.encode(cart).expect("encode")
}

fn structural(c: &mut Criterion) {
    let budget = Budget::default();
    let cart = Cart {
        items: (0..ITEMS).map(|i| item(i, "Widget")).collect(),
    };
    let old = encode(&cart);

    let mut quantity = cart.clone();
    quantity.items[CHANGED].quantity = 2;
    let new_quantity = encode(&quantity);

    let mut replaced = cart.clone();
    replaced.items[CHANGED] = item(ITEMS + CHANGED, "Gadget");
    let new_replaced = encode(&replaced);

    let equal = old.clone();

    let quantity_patch =
        structural::diff(BASE_VERSION, &old, &new_quantity, &budget).expect("quantity patch");
    let replace_patch =
        structural::diff(BASE_VERSION, &old, &new_replaced, &budget).expect("replace patch");
    assert_eq!(
        quantity_patch
            .apply(BASE_VERSION, &old)
            .expect("apply")
            .as_ref(),
        &new_quantity[..]
    );
    assert!(structural::diff(BASE_VERSION, &old, &equal, &budget).is_none());
    eprintln!(
        "structural: item {} bytes, cart {} bytes ({} items); quantity patch {} bytes; \
         replace-item patch {} bytes (replaced item {} bytes, cart after {} bytes)",
        encode_item(&cart.items[0]),
        old.len(),
        ITEMS,
        quantity_patch.len(),
        replace_patch.len(),
        encode_item(&replaced.items[CHANGED]),
        new_replaced.len(),
    );

    let mut group = c.benchmark_group("structural");
    group.bench_function("encode_cart", |b| b.iter(|| encode(black_box(&cart))));
    group.bench_function("diff_quantity", |b| {
        b.iter(|| {
            structural::diff(
                BASE_VERSION,
                black_box(&old),
                black_box(&new_quantity),
                &budget,
            )
        })
    });
    group.bench_function("diff_replace_item", |b| {
        b.iter(|| {
            structural::diff(
                BASE_VERSION,
                black_box(&old),
                black_box(&new_replaced),
                &budget,
            )
        })
    });
    group.bench_function("diff_unchanged_equal_bytes", |b| {
        b.iter(|| structural::diff(BASE_VERSION, black_box(&old), black_box(&equal), &budget))
    });
    group.bench_function("apply_quantity_patch", |b| {
        b.iter(|| {
            black_box(&quantity_patch)
                .apply(BASE_VERSION, black_box(&old))
                .expect("apply")
        })
    });
    group.bench_function("binary_compare", |b| {
        b.iter(|| black_box(&old[..]) == black_box(&new_quantity[..]))
    });
    group.finish();
}

fn encode_item(item: &Item) -> usize {
    MessagePack.encode(item).expect("encode").len()
}

criterion_group!(benches, structural);
criterion_main!(benches);
