//! Change detection: only what really changed travels.

mod support;

use std::sync::Arc;

use tenure_core::WriteScope;
use tenure_node::Node;
use tenure_store::MemoryStore;
use tenure_test::CountingStore;

async fn big_session(
    scope: WriteScope,
) -> (CountingStore<MemoryStore>, Node, tenure_core::SessionId) {
    let store = CountingStore::new(MemoryStore::new());
    let mut config = support::config();
    config.write_scope = scope;
    let node = Node::start(Arc::new(store.clone()), config).await.unwrap();
    let mut s = node.session(None);
    s.insert("blob", "x".repeat(100_000)).await.unwrap();
    s.insert("small", "abcdefghij".to_string()).await.unwrap();
    let id = s.end().await.unwrap().id.unwrap();
    (store, node, id)
}

#[tokio::test]
async fn one_small_change_in_a_100_kb_session_commits_under_200_bytes() {
    let (store, node, id) = big_session(WriteScope::Modified).await;
    let before = store.counts();
    let mut s = node.session(Some(id.clone()));
    assert_eq!(
        s.get::<String>("blob").await.unwrap().map(|b| b.len()),
        Some(100_000)
    );
    *s.get_mut::<String>("small").await.unwrap().unwrap() = "ABCDEFGHIJ".into();
    s.end().await.unwrap();
    assert_eq!((store.counts() - before).commit, 1);
    let payload = store.last_commit_payload().unwrap();
    println!("commit payload: {payload:?}");
    assert_eq!(payload.ops, 1);
    assert!(payload.encoded_bytes < 200, "{payload:?}");
    assert_eq!(
        support::stored::<String>(store.inner().as_ref(), &id, "small")
            .await
            .as_deref(),
        Some("ABCDEFGHIJ")
    );
}

#[tokio::test]
async fn get_mut_without_a_change_and_read_only_requests_write_nothing() {
    let (store, node, id) = big_session(WriteScope::Modified).await;
    let before = store.counts();
    let mut s = node.session(Some(id.clone()));
    let small = s.get_mut::<String>("small").await.unwrap().unwrap();
    small.push('!');
    small.pop(); // mutated in place, back to the same bytes
    let blob = s.get_mut::<String>("blob").await.unwrap().unwrap();
    assert_eq!(blob.len(), 100_000);
    let report = s.end().await.unwrap();
    assert_eq!(report.changed, 0);
    let mut s = node.session(Some(id.clone()));
    s.get::<String>("blob").await.unwrap();
    s.get::<String>("small").await.unwrap();
    s.get::<String>("absent").await.unwrap();
    s.end().await.unwrap();
    assert_eq!((store.counts() - before).total(), 0);
}

#[tokio::test]
async fn write_scopes_accessed_and_whole_write_more_for_comparison() {
    let (store, node, id) = big_session(WriteScope::Accessed).await;
    let mut s = node.session(Some(id.clone()));
    s.get::<String>("blob").await.unwrap();
    *s.get_mut::<String>("small").await.unwrap().unwrap() = "0123456789".into();
    s.end().await.unwrap();
    let accessed = store.last_commit_payload().unwrap();
    assert_eq!(accessed.ops, 2, "accessed scope writes what was read too");

    let (store, node, id) = big_session(WriteScope::Whole).await;
    let mut s = node.session(Some(id.clone()));
    *s.get_mut::<String>("small").await.unwrap().unwrap() = "0123456789".into();
    s.end().await.unwrap();
    let whole = store.last_commit_payload().unwrap();
    assert_eq!(whole.ops, 2);
    assert!(
        whole.encoded_bytes > 100_000,
        "whole-session scope writes everything: {whole:?}"
    );
}

#[tokio::test]
async fn insert_always_counts_and_remove_is_written() {
    let (store, node, id) = big_session(WriteScope::Modified).await;
    let mut s = node.session(Some(id.clone()));
    s.insert("small", "abcdefghij".to_string()).await.unwrap(); // same bytes, still a write
    s.remove_value("blob").await.unwrap();
    s.end().await.unwrap();
    let p = store.last_commit_payload().unwrap();
    assert_eq!(p.ops, 2);
    let snap = tenure_store::Store::load(store.inner().as_ref(), &id)
        .await
        .unwrap()
        .unwrap();
    assert!(snap.value("blob").is_none());
}
