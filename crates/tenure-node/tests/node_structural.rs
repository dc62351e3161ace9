//! Structural comparison on a node: a large cart (500 items, about 50 kB encoded)
//! under `Key::structural` (or the node default `Comparison::Structural`) commits
//! only a small patch when one item changes, in the exclusive and the optimistic
//! mode; a store that refuses patches gets the whole value instead and nothing is
//! lost; concurrent requests on one node, write-behind policies and a session moving
//! between two nodes all end with exactly the expected cart at the store.
//!
//! Every check reads the cart back (from the store, and from a fresh node) and
//! compares it with the value tracked here, so a patch that applies wrongly fails.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tenure_core::{AsKey, Change, Codec, Delta, MessagePack, OwnerId, PatchRefused, SessionId};
use tenure_node::{
    Comparison, Consistency, Key, Node, NodeConfig, NodeStats, SessionError, WritePolicy,
};
use tenure_store::{CommitId, CommitReply, Fence, MemoryStore, OptimisticReply, Store, StoreError};
use tenure_test::{CommitPayload, CountingStore, Forward, Forwarding};

/// One line of the cart: about 100 bytes in MessagePack (named fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Item {
    sku: String,
    title: String,
    quantity: u32,
    price_cents: u64,
    tags: Vec<String>,
}

const ITEMS: usize = 500;

/// The cart, compared structurally whatever the node's default.
const CART: Key<Vec<Item>> = Key::structural("cart");
/// The same attribute under the node's default comparison.
const DEFAULT_CART: Key<Vec<Item>> = Key::new("cart");
/// The same attribute, always compared (and written) whole.
const BINARY_CART: Key<Vec<Item>> = Key::binary("cart");

fn item(i: usize) -> Item {
    Item {
        sku: format!("SKU-{i:06}"),
        title: format!("Test cart line number {i:03}, blue, size M"),
        quantity: 0,
        price_cents: 1_000 + i as u64 * 7,
        tags: vec!["gift".into(), format!("t{}", i % 10)],
    }
}

fn new_cart() -> Vec<Item> {
    (0..ITEMS).map(item).collect()
}

fn encoded_len<T: Serialize + ?Sized>(value: &T) -> usize {
    MessagePack.encode(value).expect("encodes").len()
}

/// The item a `(task, request)` pair changes: task `t` owns the items `i` with
/// `i % tasks == t`, so no two tasks ever change the same item.
fn owned_item(task: usize, tasks: usize, request: usize) -> usize {
    let per_task = ITEMS / tasks;
    task + tasks * ((request * 7) % per_task)
}

fn counting() -> CountingStore<MemoryStore> {
    CountingStore::new(MemoryStore::new())
}

/// Creates a session holding the new cart (inserted through `key`).
async fn create<K: AsKey<Vec<Item>>>(node: &Node, key: K) -> (SessionId, Vec<Item>) {
    let cart = new_cart();
    let mut s = node.session(None);
    s.insert(key, cart.clone()).await.expect("insert the cart");
    let id = s.end().await.expect("end").id.expect("created");
    (id, cart)
}

/// One request that adds one to the quantity of item `index`, through `key`.
async fn bump<K: AsKey<Vec<Item>>>(
    node: &Node,
    id: &SessionId,
    key: K,
    index: usize,
) -> Result<(), SessionError> {
    let mut s = node.session(Some(id.clone()));
    let cart = s.get_mut(key).await?.expect("the cart exists");
    cart[index].quantity += 1;
    s.end().await.map(|_| ())
}

/// The cart as the store has it (no node involved).
async fn stored_cart(store: &dyn Store, id: &SessionId) -> Vec<Item> {
    support::stored::<Vec<Item>>(store, id, "cart")
        .await
        .expect("a stored cart")
}

/// The cart as a node started now on `store` reads it.
async fn read_on_fresh_node(
    store: Arc<dyn Store>,
    config: &NodeConfig,
    id: &SessionId,
) -> Vec<Item> {
    let node = Node::start(store, config.clone())
        .await
        .expect("node starts");
    let mut s = node.session(Some(id.clone()));
    let cart = s.get(&CART).await.expect("get").expect("the cart exists");
    s.end().await.expect("end");
    node.shutdown().await.expect("shutdown");
    cart
}

/// What one request sent, as the store and the node counted it.
#[derive(Debug)]
struct Step {
    /// The payloads of the commits the request caused, in order.
    payloads: Vec<CommitPayload>,
    /// `NodeStats.patches` counted for the request.
    patches: u64,
    /// `NodeStats.patches_refused` counted for the request.
    refused: u64,
}

fn step(before: &NodeStats, after: &NodeStats, payloads: Vec<CommitPayload>) -> Step {
    Step {
        payloads,
        patches: after.patches - before.patches,
        refused: after.patches_refused - before.patches_refused,
    }
}

/// The payloads `store` recorded after the first `from`.
fn payloads_since(store: &CountingStore<impl Store>, from: usize) -> Vec<CommitPayload> {
    store.commit_payloads().into_iter().skip(from).collect()
}

/// Creates the cart through `key` on a node with `config` over `store` (a counting
/// store, whatever it wraps), then `requests` requests each add one to one item's
/// quantity through `key`. After each, the store holds exactly the tracked cart;
/// at the end a fresh node reads it too. Answers what each request sent.
async fn one_item_per_request<S, K>(
    store: CountingStore<S>,
    config: &NodeConfig,
    key: K,
    requests: usize,
) -> Vec<Step>
where
    S: Store,
    K: AsKey<Vec<Item>> + Copy,
{
    let shared: Arc<dyn Store> = Arc::new(store.clone());
    let node = Node::start(shared.clone(), config.clone())
        .await
        .expect("node starts");
    let (id, mut expected) = create(&node, key).await;
    let size = encoded_len(&expected);
    assert!(
        (40_000..70_000).contains(&size),
        "the cart is about 100 bytes an item: {size} bytes"
    );
    let mut steps = Vec::new();
    for r in 0..requests {
        let index = (r * 37 + 11) % ITEMS;
        let (stats, seen) = (node.stats(), store.commit_payloads().len());
        bump(&node, &id, key, index)
            .await
            .unwrap_or_else(|e| panic!("request {r} failed: {e}"));
        expected[index].quantity += 1;
        steps.push(step(&stats, &node.stats(), payloads_since(&store, seen)));
        assert_eq!(
            stored_cart(store.inner().as_ref(), &id).await,
            expected,
            "the stored cart after request {r}"
        );
    }
    node.shutdown().await.expect("shutdown");
    assert_eq!(read_on_fresh_node(shared, config, &id).await, expected);
    steps
}

/// Each request made exactly one commit, a patch of under 200 bytes, counted once.
fn assert_patched(steps: &[Step], optimistic: bool) {
    for (r, s) in steps.iter().enumerate() {
        assert_eq!(s.payloads.len(), 1, "request {r}: one commit: {s:?}");
        let p = &s.payloads[0];
        assert_eq!(p.optimistic, optimistic, "request {r}: {p:?}");
        assert!(p.encoded_bytes < 200, "request {r}: a small patch: {p:?}");
        assert_eq!(s.patches, 1, "request {r}: one patch counted: {s:?}");
        assert_eq!(
            s.refused, 0,
            "request {r}: the memory store applies it: {s:?}"
        );
    }
}

/// Each request made exactly one commit of the whole cart, and no patch was counted.
fn assert_whole(steps: &[Step]) {
    for (r, s) in steps.iter().enumerate() {
        assert_eq!(s.payloads.len(), 1, "request {r}: one commit: {s:?}");
        let p = &s.payloads[0];
        assert!(
            p.encoded_bytes > 40_000,
            "request {r}: the whole cart: {p:?}"
        );
        assert_eq!((s.patches, s.refused), (0, 0), "request {r}: {s:?}");
    }
}

fn optimistic() -> NodeConfig {
    support::config().with_consistency(Consistency::Optimistic)
}

// (a) one item changed per request, under Key::structural.

#[tokio::test]
async fn exclusive_one_item_change_commits_a_patch_under_200_bytes() {
    let steps = one_item_per_request(counting(), &support::config(), CART, 20).await;
    assert_patched(&steps, false);
}

#[tokio::test]
async fn exclusive_binary_comparison_commits_the_whole_cart() {
    let steps = one_item_per_request(counting(), &support::config(), DEFAULT_CART, 5).await;
    assert_whole(&steps);
}

#[tokio::test]
async fn optimistic_one_item_change_commits_a_patch_under_200_bytes() {
    let steps = one_item_per_request(counting(), &optimistic(), CART, 20).await;
    assert_patched(&steps, true);
}

#[tokio::test]
async fn optimistic_binary_comparison_commits_the_whole_cart() {
    let steps = one_item_per_request(counting(), &optimistic(), DEFAULT_CART, 5).await;
    assert_whole(&steps);
}

#[tokio::test]
async fn last_writer_wins_writes_whole_records_even_for_structural_keys() {
    let config = support::config().with_consistency(Consistency::LastWriterWins);
    let steps = one_item_per_request(counting(), &config, CART, 5).await;
    assert_whole(&steps);
}

/// Edits other than a quantity bump: a scalar whose encoding grows, a longer string,
/// an append, a removal and an insertion in the middle, two items swapped, a
/// truncation. Each is a patch well under the cart's size, and the store holds
/// exactly the edited cart after each.
async fn assorted_edits(config: NodeConfig) {
    type Edit = fn(&mut Vec<Item>);
    let edits: [(&str, Edit); 8] = [
        ("quantity 0 -> 100000", |c| c[3].quantity = 100_000),
        ("longer title", |c| {
            c[77].title = "a much longer title than the one this line had before".into()
        }),
        ("tag added", |c| c[120].tags.push("sale".into())),
        ("item appended", |c| c.push(item(9_999))),
        ("item removed in the middle", |c| {
            c.remove(250);
        }),
        ("item inserted in the middle", |c| {
            c.insert(100, item(7_777))
        }),
        ("two items swapped", |c| c.swap(10, 400)),
        ("last item dropped", |c| {
            c.pop();
        }),
    ];
    let store = counting();
    let shared: Arc<dyn Store> = Arc::new(store.clone());
    let node = Node::start(shared.clone(), config.clone()).await.unwrap();
    let (id, mut expected) = create(&node, CART).await;
    for (what, edit) in edits {
        let (stats, seen) = (node.stats(), store.commit_payloads().len());
        let mut s = node.session(Some(id.clone()));
        edit(s.get_mut(CART).await.unwrap().unwrap());
        s.end().await.unwrap_or_else(|e| panic!("{what}: {e}"));
        edit(&mut expected);
        let st = step(&stats, &node.stats(), payloads_since(&store, seen));
        assert_eq!(st.payloads.len(), 1, "{what}: {st:?}");
        assert!(st.payloads[0].encoded_bytes < 500, "{what}: {st:?}");
        assert_eq!((st.patches, st.refused), (1, 0), "{what}: {st:?}");
        assert_eq!(
            stored_cart(store.inner().as_ref(), &id).await,
            expected,
            "{what}"
        );
    }
    node.shutdown().await.unwrap();
    assert_eq!(read_on_fresh_node(shared, &config, &id).await, expected);
}

#[tokio::test]
async fn exclusive_assorted_edits_are_patched_exactly() {
    assorted_edits(support::config()).await;
}

#[tokio::test]
async fn optimistic_assorted_edits_are_patched_exactly() {
    assorted_edits(optimistic()).await;
}

/// `get_mut_or_insert_with`, `get_mut_guard` and `insert` note the key's comparison
/// as `get_mut` does.
async fn every_way_of_writing_patches(config: NodeConfig) {
    let store = counting();
    let node = Node::start(Arc::new(store.clone()), config).await.unwrap();
    let (id, mut expected) = create(&node, CART).await;
    for way in ["get_mut_or_insert_with", "get_mut_guard", "insert"] {
        let (stats, seen) = (node.stats(), store.commit_payloads().len());
        let mut s = node.session(Some(id.clone()));
        match way {
            "get_mut_or_insert_with" => {
                s.get_mut_or_insert_with(CART, Vec::new).await.unwrap()[5].quantity += 1;
            }
            "get_mut_guard" => {
                let mut guard = s
                    .get_mut_guard(CART, None::<fn() -> Vec<Item>>)
                    .await
                    .unwrap();
                guard.as_mut().expect("the cart exists")[5].quantity += 1;
            }
            _ => {
                let mut cart = s.get(CART).await.unwrap().unwrap();
                cart[5].quantity += 1;
                s.insert(CART, cart).await.unwrap();
            }
        }
        s.end().await.unwrap();
        expected[5].quantity += 1;
        let st = step(&stats, &node.stats(), payloads_since(&store, seen));
        assert_eq!(st.payloads.len(), 1, "{way}: {st:?}");
        assert!(st.payloads[0].encoded_bytes < 200, "{way}: {st:?}");
        assert_eq!((st.patches, st.refused), (1, 0), "{way}: {st:?}");
        assert_eq!(
            stored_cart(store.inner().as_ref(), &id).await,
            expected,
            "{way}"
        );
    }
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn exclusive_every_way_of_writing_a_structural_key_patches() {
    every_way_of_writing_patches(support::config()).await;
}

#[tokio::test]
async fn optimistic_every_way_of_writing_a_structural_key_patches() {
    every_way_of_writing_patches(optimistic()).await;
}

// (b) the node's default comparison.

fn structural_default(config: NodeConfig) -> NodeConfig {
    config.with_comparison(Comparison::Structural)
}

#[tokio::test]
async fn exclusive_node_default_structural_patches_plain_names() {
    let config = structural_default(support::config());
    assert_patched(
        &one_item_per_request(counting(), &config, "cart", 10).await,
        false,
    );
    assert_patched(
        &one_item_per_request(counting(), &config, DEFAULT_CART, 5).await,
        false,
    );
}

#[tokio::test]
async fn optimistic_node_default_structural_patches_plain_names() {
    let config = structural_default(optimistic());
    assert_patched(
        &one_item_per_request(counting(), &config, "cart", 10).await,
        true,
    );
    assert_patched(
        &one_item_per_request(counting(), &config, DEFAULT_CART, 5).await,
        true,
    );
}

#[tokio::test]
async fn exclusive_key_binary_writes_whole_on_a_structural_node() {
    let config = structural_default(support::config());
    assert_whole(&one_item_per_request(counting(), &config, BINARY_CART, 5).await);
}

#[tokio::test]
async fn optimistic_key_binary_writes_whole_on_a_structural_node() {
    let config = structural_default(optimistic());
    assert_whole(&one_item_per_request(counting(), &config, BINARY_CART, 5).await);
}

/// On one held session: requests through the plain name (structural by the node's
/// default) patch; a later request through `Key::binary` writes the whole cart, as
/// the key promises "whatever the node's default"; and the plain name patches again.
async fn binary_key_after_structural_requests(config: NodeConfig) {
    let optimistic = config.consistency == Consistency::Optimistic;
    let store = counting();
    let node = Node::start(Arc::new(store.clone()), config).await.unwrap();
    let (id, mut expected) = create(&node, "cart").await;
    for (index, binary) in [false, true, false, true].into_iter().enumerate() {
        let (stats, seen) = (node.stats(), store.commit_payloads().len());
        let sent = if binary {
            bump(&node, &id, BINARY_CART, index).await
        } else {
            bump(&node, &id, "cart", index).await
        };
        sent.unwrap_or_else(|e| panic!("request {index}: {e}"));
        expected[index].quantity += 1;
        let st = step(&stats, &node.stats(), payloads_since(&store, seen));
        assert_eq!(stored_cart(store.inner().as_ref(), &id).await, expected);
        println!("request {index} (binary key: {binary}): {st:?}");
        if binary {
            assert!(
                st.payloads.len() == 1 && st.payloads[0].encoded_bytes > 40_000 && st.patches == 0,
                "request {index}, through Key::binary after requests through the plain name: \
                 expected the whole cart, not a patch: {st:?}"
            );
        } else {
            assert_patched(std::slice::from_ref(&st), optimistic);
        }
    }
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn exclusive_key_binary_writes_whole_after_structural_requests_on_the_same_session() {
    binary_key_after_structural_requests(structural_default(support::config())).await;
}

#[tokio::test]
async fn optimistic_key_binary_writes_whole_after_structural_requests_on_the_same_session() {
    binary_key_after_structural_requests(structural_default(optimistic())).await;
}

// (c) a store that refuses patches.

/// Answers `PatchRefused` to some commits that carry a patch (every `every`-th one,
/// counting from the first; none if `every` is 0), and passes every other call to
/// the memory store.
#[derive(Debug)]
struct RefusePatches {
    inner: MemoryStore,
    every: u64,
    counts: Arc<Refusals>,
}

#[derive(Debug, Default)]
struct Refusals {
    /// Commits seen that carried a patch.
    patched: AtomicU64,
    /// Of those, the ones refused.
    refused: AtomicU64,
}

impl RefusePatches {
    fn refuse(&self, delta: &Delta) -> Option<PatchRefused> {
        if !delta.has_patches() {
            return None;
        }
        let n = self.counts.patched.fetch_add(1, Ordering::SeqCst);
        if self.every == 0 || n % self.every != 0 {
            return None;
        }
        self.counts.refused.fetch_add(1, Ordering::SeqCst);
        let attrs = delta
            .ops
            .iter()
            .filter(|op| matches!(op.change, Change::Patch { .. }))
            .map(|op| op.name.clone())
            .collect();
        Some(PatchRefused { attrs })
    }
}

#[async_trait]
impl Forward for RefusePatches {
    fn inner(&self) -> &dyn Store {
        &self.inner
    }

    async fn commit(
        &self,
        sid: &SessionId,
        owner: &OwnerId,
        fence: Fence,
        id: CommitId,
        delta: Delta,
        release: bool,
    ) -> Result<CommitReply, StoreError> {
        if let Some(refused) = self.refuse(&delta) {
            return Ok(CommitReply::PatchRefused(refused));
        }
        self.inner
            .commit(sid, owner, fence, id, delta, release)
            .await
    }

    async fn commit_optimistic(
        &self,
        sid: &SessionId,
        delta: Delta,
    ) -> Result<OptimisticReply, StoreError> {
        if let Some(refused) = self.refuse(&delta) {
            return Ok(OptimisticReply::PatchRefused(refused));
        }
        self.inner.commit_optimistic(sid, delta).await
    }
}

/// The node counts, a counting store in front, the refusing store behind it.
fn refusing(every: u64) -> (CountingStore<Forwarding<RefusePatches>>, Arc<Refusals>) {
    let counts = Arc::new(Refusals::default());
    let store = CountingStore::new(Forwarding(RefusePatches {
        inner: MemoryStore::new(),
        every,
        counts: counts.clone(),
    }));
    (store, counts)
}

/// Every patch refused: each request sends its patch, is refused, and sends the
/// same commit with the whole cart; it succeeds, and nothing is lost.
async fn every_patch_refused(config: NodeConfig) {
    let (store, refusals) = refusing(1);
    let requests = 40;
    let steps = one_item_per_request(store, &config, CART, requests).await;
    for (r, s) in steps.iter().enumerate() {
        assert_eq!(s.payloads.len(), 2, "request {r}: patch, then whole: {s:?}");
        assert!(s.payloads[0].encoded_bytes < 200, "request {r}: {s:?}");
        assert!(s.payloads[1].encoded_bytes > 40_000, "request {r}: {s:?}");
        assert_eq!((s.patches, s.refused), (0, 1), "request {r}: {s:?}");
    }
    assert_eq!(refusals.refused.load(Ordering::SeqCst), requests as u64);
}

#[tokio::test]
async fn exclusive_refused_patches_are_sent_again_whole_and_nothing_is_lost() {
    every_patch_refused(support::config()).await;
}

#[tokio::test]
async fn optimistic_refused_patches_are_sent_again_whole_and_nothing_is_lost() {
    every_patch_refused(optimistic()).await;
}

/// Every third patch refused: after a whole resend, the node patches against what
/// that resend stored (the memory store itself never refuses one).
async fn some_patches_refused(config: NodeConfig) {
    let (store, refusals) = refusing(3);
    let requests = 30;
    let steps = one_item_per_request(store, &config, CART, requests).await;
    let refused: u64 = steps.iter().map(|s| s.refused).sum();
    let patched: u64 = steps.iter().map(|s| s.patches).sum();
    assert_eq!(refused, refusals.refused.load(Ordering::SeqCst));
    assert_eq!(refused, requests as u64 / 3, "{steps:?}");
    assert_eq!(patched + refused, requests as u64, "{steps:?}");
    for (r, s) in steps.iter().enumerate() {
        let sizes: Vec<usize> = s.payloads.iter().map(|p| p.encoded_bytes).collect();
        if s.refused == 1 {
            assert!(
                sizes.len() == 2 && sizes[0] < 200 && sizes[1] > 40_000,
                "request {r}: {s:?}"
            );
        } else {
            assert!(sizes.len() == 1 && sizes[0] < 200, "request {r}: {s:?}");
        }
    }
}

#[tokio::test]
async fn exclusive_some_refused_patches_then_patches_again() {
    some_patches_refused(support::config()).await;
}

#[tokio::test]
async fn optimistic_some_refused_patches_then_patches_again() {
    some_patches_refused(optimistic()).await;
}

// (d) concurrency.

/// `tasks` tasks of `per_task` requests each on one session, task `t`'s request `k`
/// going to `nodes[(t + k) % nodes.len()]` and adding one to an item only task `t`
/// changes (optimistic conflicts are retried). Answers the number of increments
/// made to each item.
async fn concurrent_increments(
    nodes: &[Node],
    id: &SessionId,
    tasks: usize,
    per_task: usize,
) -> Vec<u32> {
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (nodes, id) = (nodes.to_vec(), id.clone());
        handles.push(tokio::spawn(async move {
            for k in 0..per_task {
                let node = &nodes[(t + k) % nodes.len()];
                let index = owned_item(t, tasks, k);
                let mut attempts = 0;
                loop {
                    attempts += 1;
                    match bump(node, &id, CART, index).await {
                        Ok(()) => break,
                        Err(e) if e.is_conflict() && attempts < 10_000 => continue,
                        Err(e) => panic!("task {t}, request {k} (attempt {attempts}): {e}"),
                    }
                }
            }
        }));
    }
    for h in handles {
        h.await.expect("task");
    }
    let mut counts = vec![0u32; ITEMS];
    for t in 0..tasks {
        for k in 0..per_task {
            counts[owned_item(t, tasks, k)] += 1;
        }
    }
    counts
}

fn expected_with(counts: &[u32]) -> Vec<Item> {
    let mut cart = new_cart();
    for (item, &n) in cart.iter_mut().zip(counts) {
        item.quantity = n;
    }
    cart
}

fn sum(nodes: &[Node], f: impl Fn(&NodeStats) -> u64) -> u64 {
    nodes.iter().map(|n| f(&n.stats())).sum()
}

/// Runs the concurrent workload on `nodes` (over `store`), shuts them down, and
/// checks that a fresh node reads every item's exact count, that patches were
/// sent and that the memory store never refused one.
async fn no_lost_update(store: Arc<dyn Store>, nodes: Vec<Node>, tasks: usize, per_task: usize) {
    let config = nodes[0].config().clone();
    let (id, _) = create(&nodes[0], CART).await;
    let counts = concurrent_increments(&nodes, &id, tasks, per_task).await;
    for n in &nodes {
        n.shutdown().await.expect("shutdown writes everything");
    }
    let patches = sum(&nodes, |s| s.patches);
    let refused = sum(&nodes, |s| s.patches_refused);
    println!(
        "{} requests: {} commits, {patches} patches, {refused} refused, {} conflicts, {} recalls",
        tasks * per_task,
        sum(&nodes, |s| s.commits),
        sum(&nodes, |s| s.conflicts),
        sum(&nodes, |s| s.recalls),
    );
    assert!(patches > 0, "changes went as patches");
    assert_eq!(refused, 0, "every patch the nodes sent applied");
    let expected = expected_with(&counts);
    assert_eq!(stored_cart(store.as_ref(), &id).await, expected);
    let read = read_on_fresh_node(store, &config, &id).await;
    let wrong: Vec<(usize, u32, u32)> = read
        .iter()
        .zip(&expected)
        .enumerate()
        .filter(|(_, (got, want))| got != want)
        .map(|(i, (got, want))| (i, got.quantity, want.quantity))
        .collect();
    assert!(
        wrong.is_empty(),
        "items (index, got, want) differ: {wrong:?}"
    );
    assert_eq!(read, expected);
}

async fn one_node(config: NodeConfig) {
    let (_, store) = support::memory();
    let nodes = support::nodes(store.clone(), 1, &config).await;
    no_lost_update(store, nodes, 8, 50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_node_concurrent_requests_lose_no_update() {
    one_node(support::config()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_node_concurrent_requests_lose_no_update_writing_every_50_ms() {
    one_node(support::config().with_write_policy(WritePolicy::every(Duration::from_millis(50))))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_node_concurrent_requests_lose_no_update_writing_after_5_updates() {
    one_node(support::config().with_write_policy(WritePolicy::after_updates(5))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_node_optimistic_concurrent_requests_retrying_conflicts_lose_no_update() {
    let config = optimistic();
    let (_, store) = support::memory();
    let nodes = support::nodes(store.clone(), 1, &config).await;
    no_lost_update(store, nodes, 8, 25).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_node_concurrent_requests_with_refused_patches_lose_no_update() {
    let (store, refusals) = refusing(3);
    let store: Arc<dyn Store> = Arc::new(store);
    let config = support::config().with_write_policy(WritePolicy::after_updates(3));
    let nodes = support::nodes(store.clone(), 1, &config).await;
    let (id, _) = create(&nodes[0], CART).await;
    let counts = concurrent_increments(&nodes, &id, 8, 30).await;
    nodes[0].shutdown().await.unwrap();
    let refused = refusals.refused.load(Ordering::SeqCst);
    assert!(refused > 0, "some patches were refused");
    assert_eq!(nodes[0].stats().patches_refused, refused);
    let expected = expected_with(&counts);
    assert_eq!(stored_cart(store.as_ref(), &id).await, expected);
    assert_eq!(read_on_fresh_node(store, &config, &id).await, expected);
}

/// Two nodes on one memory store: requests alternate between them, so the session
/// moves on (almost) every request, and each takeover is conditional (the node
/// remembers the copy it gave back).
async fn two_nodes(config: NodeConfig, tasks: usize, per_task: usize) {
    let (_, store) = support::memory();
    let nodes = support::nodes(store.clone(), 2, &config).await;
    no_lost_update(store, nodes.clone(), tasks, per_task).await;
    assert!(
        sum(&nodes, |s| s.recalls) > 0,
        "the session moved between the nodes"
    );
}

#[tokio::test(start_paused = true)]
async fn two_nodes_alternating_requests_lose_no_update() {
    two_nodes(support::config(), 1, 60).await;
}

#[tokio::test(start_paused = true)]
async fn two_nodes_concurrent_alternating_requests_lose_no_update() {
    two_nodes(support::config(), 4, 25).await;
}

#[tokio::test(start_paused = true)]
async fn two_nodes_concurrent_alternating_requests_lose_no_update_writing_every_50_ms() {
    let config = support::config().with_write_policy(WritePolicy::every(Duration::from_millis(50)));
    two_nodes(config, 4, 25).await;
}

/// Sequential alternation on a counting store: every commit after the creation,
/// including those of the requests that took the session from the other node, is a
/// patch of under 200 bytes (each node patches against the copy the takeover left
/// it, which the store's grant brought up to date).
#[tokio::test(start_paused = true)]
async fn two_nodes_every_commit_after_a_takeover_is_a_small_patch() {
    let store = counting();
    let shared: Arc<dyn Store> = Arc::new(store.clone());
    let config = support::config();
    let nodes = support::nodes(shared.clone(), 2, &config).await;
    let (id, mut expected) = create(&nodes[0], CART).await;
    let requests = 30;
    for r in 0..requests {
        let index = (r * 53 + 3) % ITEMS;
        bump(&nodes[(r + 1) % 2], &id, CART, index).await.unwrap();
        expected[index].quantity += 1;
    }
    for n in &nodes {
        n.shutdown().await.unwrap();
    }
    let payloads = store.commit_payloads();
    let with_ops: Vec<&CommitPayload> = payloads.iter().filter(|p| p.ops > 0).collect();
    assert_eq!(
        with_ops.len(),
        requests,
        "one commit with a change per request"
    );
    for p in &with_ops {
        assert!(p.encoded_bytes < 200, "{p:?}");
    }
    assert_eq!(sum(&nodes, |s| s.patches), requests as u64);
    assert_eq!(sum(&nodes, |s| s.patches_refused), 0);
    assert!(sum(&nodes, |s| s.recalls) >= requests as u64 - 1);
    assert_eq!(read_on_fresh_node(shared, &config, &id).await, expected);
}

// Around the edges: lost replies, a new id, two patched attributes, a takeover that
// leaves the cart out.

/// A commit whose reply is lost is sent again as it was (the same patch); the store
/// answers that it applied already, and the next patch is computed against what it
/// stored.
#[tokio::test(start_paused = true)]
async fn exclusive_patch_commits_whose_replies_are_lost_are_resolved_exactly() {
    let store = tenure_test::FaultyStore::new(MemoryStore::new());
    let shared: Arc<dyn Store> = Arc::new(store.clone());
    let config = support::config();
    let node = Node::start(shared.clone(), config.clone()).await.unwrap();
    let (id, mut expected) = create(&node, CART).await;
    for r in 0..12 {
        match r % 3 {
            0 => store.lose_next_replies(1),
            1 => store.fail_next(1),
            _ => {}
        }
        let index = (r * 41 + 5) % ITEMS;
        bump(&node, &id, CART, index)
            .await
            .unwrap_or_else(|e| panic!("request {r}: {e}"));
        expected[index].quantity += 1;
        assert_eq!(
            stored_cart(store.inner().as_ref(), &id).await,
            expected,
            "request {r}"
        );
    }
    let stats = node.stats();
    assert!(stats.commit_retries >= 8, "{stats:?}");
    assert_eq!((stats.patches, stats.patches_refused), (12, 0), "{stats:?}");
    node.shutdown().await.unwrap();
    assert_eq!(read_on_fresh_node(shared, &config, &id).await, expected);
}

/// After `rotate_id`, changes under the new id still go as patches that apply.
async fn patches_after_a_new_id(config: NodeConfig) {
    let store = counting();
    let node = Node::start(Arc::new(store.clone()), config).await.unwrap();
    let (mut id, mut expected) = create(&node, CART).await;
    for r in 0..6 {
        let (stats, seen) = (node.stats(), store.commit_payloads().len());
        let mut s = node.session(Some(id.clone()));
        if r % 2 == 1 {
            id = s.rotate_id().await.unwrap().expect("a new id");
        }
        s.get_mut(CART).await.unwrap().unwrap()[r].quantity += 1;
        s.end().await.unwrap();
        expected[r].quantity += 1;
        let st = step(&stats, &node.stats(), payloads_since(&store, seen));
        assert_eq!((st.patches, st.refused), (1, 0), "request {r}: {st:?}");
        assert!(st.payloads.iter().all(|p| p.encoded_bytes < 200), "{st:?}");
        assert_eq!(stored_cart(store.inner().as_ref(), &id).await, expected);
    }
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn exclusive_patches_apply_after_rotate_id() {
    patches_after_a_new_id(support::config()).await;
}

#[tokio::test]
async fn optimistic_patches_apply_after_rotate_id() {
    patches_after_a_new_id(optimistic()).await;
}

/// Two structural attributes changed in one request: one commit with two patches,
/// and with a store that refuses patches, one resend with both values whole.
async fn two_patched_attributes(config: NodeConfig, refuse: bool) {
    const WISHLIST: Key<Vec<Item>> = Key::structural("wishlist");
    let (store, _) = refusing(u64::from(refuse));
    let node = Node::start(Arc::new(store.clone()), config).await.unwrap();
    let mut s = node.session(None);
    s.insert(CART, new_cart()).await.unwrap();
    s.insert(WISHLIST, new_cart()).await.unwrap();
    let id = s.end().await.unwrap().id.unwrap();
    let (mut cart, mut wishlist) = (new_cart(), new_cart());
    for r in 0..5 {
        let (stats, seen) = (node.stats(), store.commit_payloads().len());
        let mut s = node.session(Some(id.clone()));
        s.get_mut(CART).await.unwrap().unwrap()[r].quantity += 1;
        s.get_mut(WISHLIST).await.unwrap().unwrap()[ITEMS - 1 - r].title = format!("wish {r}");
        s.end().await.unwrap();
        cart[r].quantity += 1;
        wishlist[ITEMS - 1 - r].title = format!("wish {r}");
        let st = step(&stats, &node.stats(), payloads_since(&store, seen));
        assert!(
            st.payloads[0].ops == 2 && st.payloads[0].encoded_bytes < 300,
            "{st:?}"
        );
        if refuse {
            assert_eq!(
                (st.patches, st.refused, st.payloads.len()),
                (0, 1, 2),
                "{st:?}"
            );
            assert!(st.payloads[1].encoded_bytes > 80_000, "{st:?}");
        } else {
            assert_eq!(
                (st.patches, st.refused, st.payloads.len()),
                (2, 0, 1),
                "{st:?}"
            );
        }
        let inner = store.inner().as_ref();
        assert_eq!(stored_cart(inner, &id).await, cart);
        assert_eq!(
            support::stored::<Vec<Item>>(inner, &id, "wishlist").await,
            Some(wishlist.clone())
        );
    }
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn exclusive_two_patched_attributes_in_one_commit() {
    two_patched_attributes(support::config(), false).await;
    two_patched_attributes(support::config(), true).await;
}

#[tokio::test]
async fn optimistic_two_patched_attributes_in_one_commit() {
    two_patched_attributes(optimistic(), false).await;
    two_patched_attributes(optimistic(), true).await;
}

/// Node A changes the cart, node B only a small counter, in turn: B's takeover of
/// the session leaves the cart out of A's next grant (A remembers it at its current
/// version), and A's patch is computed against that remembered copy and applies.
#[tokio::test(start_paused = true)]
async fn a_patch_against_a_cart_left_out_of_a_conditional_grant_applies() {
    let store = counting();
    let shared: Arc<dyn Store> = Arc::new(store.clone());
    let config = support::config();
    let nodes = support::nodes(shared.clone(), 2, &config).await;
    let (id, mut expected) = create(&nodes[0], CART).await;
    let rounds = 10;
    for r in 0..rounds {
        let mut s = nodes[1].session(Some(id.clone()));
        *s.get_mut_or_insert_with("visits", || 0u64).await.unwrap() += 1;
        s.end().await.unwrap();
        let (stats, seen) = (nodes[0].stats(), store.commit_payloads().len());
        let grants = store.grant_payloads().len();
        bump(&nodes[0], &id, CART, r).await.unwrap();
        expected[r].quantity += 1;
        let st = step(&stats, &nodes[0].stats(), payloads_since(&store, seen));
        let grant: Vec<_> = store.grant_payloads().into_iter().skip(grants).collect();
        assert!(
            grant.iter().all(|g| g.partial && g.payload_bytes < 1_000),
            "round {r}: the cart stays out of A's grant: {grant:?}"
        );
        assert_eq!((st.patches, st.refused), (1, 0), "round {r}: {st:?}");
        let changed: Vec<_> = st.payloads.iter().filter(|p| p.ops > 0).collect();
        assert!(
            changed.len() == 1 && changed[0].encoded_bytes < 200,
            "round {r}: {st:?}"
        );
        assert_eq!(stored_cart(store.inner().as_ref(), &id).await, expected);
    }
    for n in &nodes {
        n.shutdown().await.unwrap();
    }
    assert_eq!(read_on_fresh_node(shared, &config, &id).await, expected);
}
