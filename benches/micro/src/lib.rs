//! Criterion micro-benchmarks of Tenure. Run with `cargo bench -p tenure-bench-micro`.
