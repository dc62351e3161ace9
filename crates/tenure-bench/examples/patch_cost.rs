//! What applying patches costs Redis: one node, one session with workload (f)'s
//! 500-item cart, 2,000 sequential changes of one item's quantity, with binary and
//! with structural comparison, each on a private `redis-server`.
//!
//! `cargo run --release -p tenure-bench --example patch_cost [-- PATH-TO-redis-server]`

use std::path::PathBuf;
use std::sync::Arc;

use tenure_bench::app::{self, CartItem};
use tenure_bench::redis_server::RedisServer;
use tenure_node::{Comparison, Key, Node, NodeConfig};
use tenure_redis::{RedisConfig, RedisStore};

const ITEMS: Key<Vec<CartItem>> = Key::new(app::ITEMS);
const CHANGES: u32 = 2_000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let binary = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("redis-server"), PathBuf::from);
    for comparison in [Comparison::Binary, Comparison::Structural] {
        let redis = RedisServer::start(&binary).await?;
        let store = RedisStore::connect(RedisConfig::new(redis.url()).prefix("cost")).await?;
        let node = Node::start(
            Arc::new(store.clone()),
            NodeConfig::default().with_comparison(comparison),
        )
        .await?;
        let mut s = node.session(None);
        s.insert(&ITEMS, app::filled_cart(500).ok_or("cart")?)
            .await?;
        let id = s.end().await?.id.ok_or("no id")?;
        let before = redis.meter().stats().await?;
        let started = std::time::Instant::now();
        for i in 0..CHANGES {
            let mut s = node.session(Some(id.clone()));
            let cart = s.get_mut(&ITEMS).await?.ok_or("no cart")?;
            app::set_quantity(cart, (i as usize * 7919) % 500, 2 + i % 1000);
            s.end().await?;
        }
        let elapsed = started.elapsed();
        let after = redis.meter().stats().await?;
        let stats = node.stats();
        println!(
            "{comparison:?}: {:.0} changes/s, Redis CPU {:.0} µs per change, {:.0} bytes to and from Redis per change, {} patches, {} refused",
            f64::from(CHANGES) / elapsed.as_secs_f64(),
            (after.cpu_micros - before.cpu_micros) as f64 / f64::from(CHANGES),
            (after.net_bytes() - before.net_bytes()) as f64 / f64::from(CHANGES),
            stats.patches,
            stats.patches_refused,
        );
        node.shutdown().await?;
        store.quit().await;
        redis.stop().await;
    }
    Ok(())
}
