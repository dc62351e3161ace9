//! The store conformance suite against PostgreSQL, also with every hint discarded on
//! arrival: the protocol must hold without a single hint.

mod support;

mod delivered {
    use super::support::*;
    tenure_test::store_conformance!(connect, enabled = reachable());
}

mod without_hints {
    use super::support::*;
    tenure_test::store_conformance!(connect_lossy, hints = lossy, enabled = reachable());
}
