//! Change detection and delta building, without any I/O.
//!
//! Run with `cargo bench -p tenure-bench-micro --bench core`.
#![allow(missing_docs)]

use std::collections::BTreeMap;

use criterion::{criterion_group, criterion_main, Criterion};
use tenure_core::{Bytes, Codec, Delta, MessagePack, Snapshot};

fn core(c: &mut Criterion) {
    let cart: Vec<String> = (0..20).map(|i| format!("item-{i}")).collect();
    c.bench_function("codec/encode_cart_20_items", |b| {
        b.iter(|| MessagePack.encode(&cart).expect("encode"))
    });
    let bytes = MessagePack.encode(&cart).expect("encode");
    c.bench_function("codec/decode_cart_20_items", |b| {
        b.iter(|| MessagePack.decode::<Vec<String>>(&bytes).expect("decode"))
    });

    let attrs: BTreeMap<String, Bytes> = (0..100)
        .map(|i| (format!("attr{i}"), Bytes::from(vec![i as u8; 1_000])))
        .collect();
    let before = Snapshot::new(1, attrs.clone());
    let mut after = attrs;
    after.insert("attr7".into(), Bytes::from_static(b"changed"));
    c.bench_function("delta/diff_100_attrs_1kb_one_changed", |b| {
        b.iter(|| Delta::diff(&before, &after))
    });
    let delta = Delta::diff(&before, &after);
    c.bench_function("delta/encode_one_op", |b| b.iter(|| delta.encode()));
    c.bench_function("delta/encode_decode_one_op", |b| {
        b.iter(|| Delta::decode(&delta.encode()).expect("decode"))
    });
}

criterion_group!(benches, core);
criterion_main!(benches);
