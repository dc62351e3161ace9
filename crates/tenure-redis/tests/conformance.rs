//! The store conformance suite against one Redis server and against a Redis Cluster,
//! each also with every hint discarded on arrival (`set_drop_hints`): the protocol
//! must hold without a single hint.

mod support;

mod single {
    use super::support::*;
    tenure_test::store_conformance!(|| connect(single_url()), enabled = reachable(single_url()));
}

mod single_without_hints {
    use super::support::*;
    tenure_test::store_conformance!(
        || connect_lossy(single_url()),
        hints = lossy,
        enabled = reachable(single_url())
    );
}

mod cluster {
    use super::support::*;
    tenure_test::store_conformance!(
        || connect(cluster_url()),
        enabled = reachable(cluster_url())
    );
}

mod cluster_without_hints {
    use super::support::*;
    tenure_test::store_conformance!(
        || connect_lossy(cluster_url()),
        hints = lossy,
        enabled = reachable(cluster_url())
    );
}
