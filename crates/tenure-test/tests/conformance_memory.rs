//! The embedded store against the store protocol's conformance suite.

tenure_test::store_conformance!(|| async { tenure_store::MemoryStore::new() });
