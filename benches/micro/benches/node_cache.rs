//! A request on a session the node holds: served from the near cache, no store call.
//!
//! Run with `cargo bench -p tenure-bench-micro --bench node_cache`.
#![allow(missing_docs)]

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use tenure_node::{Node, NodeConfig};
use tenure_store::MemoryStore;

fn cache_hits(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (node, id) = rt.block_on(async {
        let node = Node::start(Arc::new(MemoryStore::new()), NodeConfig::default())
            .await
            .expect("node");
        let mut s = node.session(None);
        s.insert("counter", 0u64).await.expect("insert");
        s.insert("cart", vec!["apple".to_string(), "pear".to_string()])
            .await
            .expect("insert");
        let id = s.end().await.expect("end").id.expect("created");
        (node, id)
    });

    let mut group = c.benchmark_group("near_cache_hit");
    group.bench_function("get_then_end", |b| {
        b.to_async(&rt).iter(|| async {
            let mut s = node.session(Some(id.clone()));
            let v = s.get::<u64>("counter").await.expect("get");
            s.end().await.expect("end");
            v
        })
    });
    group.bench_function("get_mut_unchanged_then_end", |b| {
        b.to_async(&rt).iter(|| async {
            let mut s = node.session(Some(id.clone()));
            let cart = s
                .get_mut::<Vec<String>>("cart")
                .await
                .expect("get_mut")
                .expect("present");
            let n = cart.len();
            let report = s.end().await.expect("end");
            assert!(!report.written, "an unchanged value makes no commit");
            n
        })
    });
    group.finish();
    assert_eq!(node.stats().commits, 1, "only the creation was written");

    // A change is detected by comparing bytes and written as a one-field commit (to
    // the in-memory store: this measures the node's side of a write).
    let mut group = c.benchmark_group("near_cache_write");
    let mut n = 0u64;
    group.bench_function("get_mut_changed_then_end", |b| {
        b.to_async(&rt).iter(|| {
            n += 1;
            let next = n;
            let node = node.clone();
            let id = id.clone();
            async move {
                let mut s = node.session(Some(id));
                *s.get_mut::<u64>("counter")
                    .await
                    .expect("get_mut")
                    .expect("present") = next;
                let report = s.end().await.expect("end");
                assert!(report.written, "a changed value is written");
            }
        })
    });
    group.finish();
}

criterion_group!(benches, cache_hits);
criterion_main!(benches);
