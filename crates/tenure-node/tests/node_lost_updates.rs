//! Lost updates: 3 nodes on one store, 10,000 increments of one counter from 20
//! concurrent tasks, each increment sent to a random node.
//!
//! - `Exclusive`: exactly 10,000 under every write policy, after shutdown.
//! - `Optimistic`: successes + typed conflicts = 10,000; the counter = successes.
//! - `LastWriterWins`: reports how many increments were lost.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tenure_core::{SessionId, WritePolicy};
use tenure_node::{Consistency, Node, NodeConfig, SessionError};
use tenure_store::{MemoryStore, Store};
use tenure_test::FaultyStore;

const TASKS: u64 = 20;
const INCREMENTS: u64 = 10_000;

async fn increment(node: &Node, id: &SessionId) -> Result<(), SessionError> {
    let mut s = node.session(Some(id.clone()));
    *s.get_mut::<u64>("counter").await?.expect("counter exists") += 1;
    s.end().await.map(|_| ())
}

#[derive(Debug, Default)]
struct Tally {
    ok: AtomicU64,
    conflicts: AtomicU64,
}

/// Runs the workload; every error other than a conflict fails the test.
async fn run(nodes: &[Node], id: &SessionId) -> Arc<Tally> {
    let tally = Arc::new(Tally::default());
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let nodes = nodes.to_vec();
        let id = id.clone();
        let tally = tally.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(t);
            for _ in 0..INCREMENTS / TASKS {
                let node = &nodes[rng.random_range(0..nodes.len())];
                match increment(node, &id).await {
                    Ok(()) => tally.ok.fetch_add(1, Ordering::Relaxed),
                    Err(e) if e.is_conflict() => tally.conflicts.fetch_add(1, Ordering::Relaxed),
                    Err(e) => panic!("increment failed: {e}"),
                };
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    tally
}

async fn exclusive_total(policy: WritePolicy) -> u64 {
    let (_, store) = support::memory();
    let mut config = support::config();
    config.write_policy = policy;
    let nodes = support::nodes(store.clone(), 3, &config).await;
    let id = support::new_counter_session(&nodes[0]).await;
    let tally = run(&nodes, &id).await;
    assert_eq!(
        tally.ok.load(Ordering::Relaxed),
        INCREMENTS,
        "every increment is acknowledged"
    );
    for n in &nodes {
        n.shutdown().await.expect("shutdown flush");
    }
    let handoffs: u64 = nodes.iter().map(|n| n.stats().recalls).sum();
    assert!(handoffs > 0, "the session moved between nodes");
    support::stored::<u64>(&*store, &id, "counter")
        .await
        .expect("counter")
}

#[tokio::test(start_paused = true)]
async fn exclusive_end_of_request_loses_nothing() {
    assert_eq!(
        exclusive_total(WritePolicy::end_of_request()).await,
        INCREMENTS
    );
}

#[tokio::test(start_paused = true)]
async fn exclusive_every_t_loses_nothing() {
    assert_eq!(
        exclusive_total(WritePolicy::every(Duration::from_millis(200))).await,
        INCREMENTS
    );
}

#[tokio::test(start_paused = true)]
async fn exclusive_after_updates_loses_nothing() {
    assert_eq!(
        exclusive_total(WritePolicy::after_updates(7)).await,
        INCREMENTS
    );
}

#[tokio::test(start_paused = true)]
async fn exclusive_after_requests_loses_nothing() {
    assert_eq!(
        exclusive_total(WritePolicy::after_requests(5)).await,
        INCREMENTS
    );
}

#[tokio::test(start_paused = true)]
async fn exclusive_manual_loses_nothing() {
    assert_eq!(exclusive_total(WritePolicy::manual()).await, INCREMENTS);
}

#[tokio::test(start_paused = true)]
async fn exclusive_combined_policy_loses_nothing() {
    let policy = WritePolicy::every(Duration::from_millis(100)).or_after_updates(10);
    assert_eq!(exclusive_total(policy).await, INCREMENTS);
}

/// The same on a multi-threaded runtime in real time: real parallelism on the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exclusive_multi_thread_loses_nothing() {
    let (_, store) = support::memory();
    let mut config = support::config();
    config.min_hold = Duration::from_millis(2);
    let nodes = support::nodes(store.clone(), 3, &config).await;
    let id = support::new_counter_session(&nodes[0]).await;
    let tally = run(&nodes, &id).await;
    assert_eq!(tally.ok.load(Ordering::Relaxed), INCREMENTS);
    for n in &nodes {
        n.shutdown().await.unwrap();
    }
    assert_eq!(
        support::stored::<u64>(&*store, &id, "counter").await,
        Some(INCREMENTS)
    );
}

/// A store whose replies take 1 ms (virtual), so concurrent requests interleave.
fn slow_store() -> Arc<dyn Store> {
    let store = FaultyStore::new(MemoryStore::new());
    store.set_reply_delay(Duration::from_millis(1));
    Arc::new(store)
}

fn mode_config(mode: Consistency) -> NodeConfig {
    let mut config = support::config();
    config.consistency = mode;
    config
}

#[tokio::test(start_paused = true)]
async fn optimistic_conflicts_are_typed_and_nothing_is_lost_silently() {
    let store = slow_store();
    let nodes = support::nodes(store.clone(), 3, &mode_config(Consistency::Optimistic)).await;
    let id = support::new_counter_session(&nodes[0]).await;
    let tally = run(&nodes, &id).await;
    let (ok, conflicts) = (
        tally.ok.load(Ordering::Relaxed),
        tally.conflicts.load(Ordering::Relaxed),
    );
    println!("optimistic: {ok} committed, {conflicts} conflicts");
    assert_eq!(ok + conflicts, INCREMENTS);
    assert!(
        conflicts > 0,
        "20 interleaved tasks must conflict sometimes"
    );
    assert_eq!(
        support::stored::<u64>(&*store, &id, "counter").await,
        Some(ok)
    );
    let counted: u64 = nodes.iter().map(|n| n.stats().conflicts).sum();
    assert_eq!(counted, conflicts);
}

#[tokio::test(start_paused = true)]
async fn last_writer_wins_loses_updates() {
    let store = slow_store();
    let nodes = support::nodes(store.clone(), 3, &mode_config(Consistency::LastWriterWins)).await;
    let id = support::new_counter_session(&nodes[0]).await;
    let tally = run(&nodes, &id).await;
    assert_eq!(
        tally.ok.load(Ordering::Relaxed),
        INCREMENTS,
        "every increment was acknowledged"
    );
    let stored = support::stored::<u64>(&*store, &id, "counter")
        .await
        .unwrap();
    let lost = INCREMENTS - stored;
    println!("last-writer-wins: {INCREMENTS} acknowledged, {stored} stored, {lost} lost");
    assert!(
        lost > 0,
        "last-writer-wins loses acknowledged increments under concurrency"
    );
}
