//! The route cookie between processes: three `tenure serve --route-cookie` nodes on
//! Redis behind `tenure route --route-cookie` at affinity 0.9. The router sticks to the
//! node the cookie names, which is always the session's holder (the holder names
//! itself, also in forwarded answers), so only the router's random picks (one request
//! in ten, two in three of them to another node) are forwarded. A router that stuck
//! to the node it last sent to would, after its first miss, keep sending the session
//! to a node that forwards it: most requests.

mod support;

use std::net::SocketAddr;
use tenure_store::Inspect as _;

use http::StatusCode;
use support::*;
use tenure_cli::demo::front::{self, FrontConfig};
use tenure_cli::serve::{listen, plain_http_cookies};

const ROUTE: &str = "tenure-route";
const TOTAL: u64 = 1_000;

async fn routed_router(nodes: &[SocketAddr]) -> SocketAddr {
    let mut config = FrontConfig::new(0.9, plain_http_cookies().cookie_name(), 11);
    config.route_cookie = Some(ROUTE.into());
    let router = front::router_with(nodes, config);
    let (addr, _task) = listen(router, 0, std::future::pending()).await.unwrap();
    addr
}

async fn forwards(addr: SocketAddr) -> u64 {
    let (status, body) = Browser::new().send("GET", addr, "/stats").await;
    assert_eq!(status, StatusCode::OK);
    body.lines()
        .find_map(|l| l.strip_prefix("forwards "))
        .and_then(|n| n.parse().ok())
        .expect("a forwards counter")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_that_follows_the_route_cookie_forwards_only_its_misses() {
    let prefix = unique_prefix("route-cookie");
    let url = single_url();
    let Some(store) = redis(url.clone(), &prefix).await else {
        return;
    };
    let url = url.unwrap();
    let mut nodes = Vec::new();
    for name in ["node-a", "node-b", "node-c"] {
        let extra = ["--route-cookie", ROUTE];
        nodes.push(NodeProcess::start_with(&url, &prefix, name, None, &extra).await);
    }
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.addr).collect();
    let front = routed_router(&addrs).await;
    let mut browser = Browser::new();
    for i in 1..=TOTAL {
        let (status, body) = browser.send("POST", front, "/counter").await;
        assert_eq!((status, body), (StatusCode::OK, i.to_string()), "exact");
        let route = browser.other(ROUTE).expect("the holder named itself");
        assert!(
            addrs.iter().any(|a| a.to_string() == route),
            "the route names a node: {route}"
        );
    }
    let mut total = 0;
    for addr in &addrs {
        total += forwards(*addr).await;
    }
    println!("route cookie: {TOTAL} increments at affinity 0.9, {total} forwarded");
    // Expected about TOTAL / 10 * 2 / 3 = 67; sticking to the last node sent to
    // forwards several hundred.
    assert!(total > 0, "the router's random picks reach other nodes");
    assert!(
        total < TOTAL / 5,
        "only misses are forwarded: {total} of {TOTAL}"
    );
    for node in nodes {
        node.stop().await;
    }
    let inspector = tenure_redis::Inspector::new(store.clone());
    for sid in inspector.list(usize::MAX).await.unwrap() {
        inspector.delete(&sid).await.unwrap();
    }
    store.quit().await;
}
