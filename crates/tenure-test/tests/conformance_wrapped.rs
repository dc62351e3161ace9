//! The wrappers are stores too: with every fault off, the suite must pass through them
//! (delegation, hint forwarding). Also checks `run_all` and its failure report.

use std::sync::Arc;

use tenure_store::{MemoryStore, Store};
use tenure_test::{CountingStore, FaultyStore};

mod counting_over_faulty {
    tenure_test::store_conformance!(|| async {
        tenure_test::CountingStore::new(tenure_test::FaultyStore::new(
            tenure_store::MemoryStore::new(),
        ))
    });
}

async fn shared_dyn_store() -> FaultyStore<dyn Store> {
    let inner: Arc<dyn Store> = Arc::new(MemoryStore::new());
    FaultyStore::from_arc(inner)
}

mod faulty_over_dyn {
    tenure_test::store_conformance!(super::shared_dyn_store);
}

#[tokio::test]
async fn run_all_passes_on_the_memory_store() {
    tenure_test::conformance::run_all(|| async { CountingStore::new(MemoryStore::new()) }).await;
}

#[tokio::test]
#[should_panic(expected = "conformance case `fifo_grant_order` failed: store.create failed")]
async fn run_all_names_the_failing_case() {
    tenure_test::conformance::run_all(|| async {
        let store = FaultyStore::new(MemoryStore::new());
        store.set_unavailable(true);
        store
    })
    .await;
}

#[test]
fn the_case_table_lists_every_case_once() {
    let names: Vec<&str> = tenure_test::conformance::CASES
        .iter()
        .map(|c| c.name)
        .collect();
    let mut unique = names.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "duplicate case in {names:?}");
    assert!(names.len() >= 25, "cases: {names:?}");
}
