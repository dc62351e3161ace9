//! Session events on a Redis Cluster (issue 15; `src/slots.rs`): each slot's events
//! wait in its outbox until a mover takes them into the one log. These tests hold the
//! crash windows: an operation whose slot mark was lost (the crash between its script
//! and `schedule.lua`) is found by the slot pass; an untouched session whose expiry
//! was never scheduled is reported by it too; and movers racing on three handles, which
//! read the same outbox entries before either trims them, log every event exactly once.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::join_all;
use support::*;
use tenure_core::{SessionId, PRINCIPAL_ATTR};
use tenure_redis::fred::interfaces::KeysInterface;
use tenure_redis::{RedisConfig, RedisStore};
use tenure_store::{EventId, EventKind, Expiry, SessionEvent, Store};
use tenure_test::Poll;

async fn store(prefix: &str, slot_pass: usize) -> RedisStore {
    let url = cluster_url().expect("checked by `reachable`");
    RedisStore::connect(RedisConfig::new(url).prefix(prefix).slot_pass(slot_pass))
        .await
        .expect("connect to the cluster")
}

fn unique_prefix() -> String {
    format!("tce-{}", &SessionId::generate().unwrap().as_str()[..12])
}

/// Every event after `after`, and the position after them.
async fn read_all(
    store: &RedisStore,
    after: Option<EventId>,
) -> (Vec<SessionEvent>, Option<EventId>) {
    let mut position = after;
    let mut out = Vec::new();
    loop {
        let batch = store.events(position, 500).await.unwrap();
        assert!(!batch.missed);
        let Some(last) = batch.events.last() else {
            return (out, position);
        };
        position = Some(last.id);
        out.extend(batch.events);
    }
}

fn count_of(events: &[SessionEvent], sid: &SessionId, kind: &EventKind) -> usize {
    events
        .iter()
        .filter(|e| &e.session == sid && &e.kind == kind)
        .count()
}

/// Drops the pending and due slot marks: what a crash after an operation's script and
/// before its `schedule.lua` call leaves.
async fn lose_marks(store: &RedisStore, prefix: &str) {
    for name in ["pending", "due"] {
        let _: i64 = store
            .client()
            .del(format!("{prefix}:{{events}}:{name}"))
            .await
            .unwrap();
    }
}

#[test]
fn an_event_whose_slot_mark_was_lost_is_found_by_the_slot_pass() {
    if !reachable(cluster_url()) {
        return;
    }
    multi_thread_runtime().block_on(async {
        let prefix = unique_prefix();
        let store = store(&prefix, 16_384).await;
        let sid = SessionId::generate().unwrap();
        let attrs = vec![(PRINCIPAL_ATTR.to_string(), "ada".into())];
        store
            .create(&sid, attrs, Expiry::default(), None)
            .await
            .unwrap();
        lose_marks(&store, &prefix).await;
        let (events, position) = read_all(&store, None).await;
        assert!(
            events.iter().all(|e| e.session != sid),
            "with its mark lost the event waits in the slot's outbox: {events:?}"
        );
        store.maintain().await.unwrap();
        let (events, _) = read_all(&store, position).await;
        assert_eq!(
            count_of(&events, &sid, &EventKind::Created),
            1,
            "{events:?}"
        );
        let principal = EventKind::PrincipalSet {
            principal: "ada".into(),
        };
        assert_eq!(count_of(&events, &sid, &principal), 1, "{events:?}");
        let (again, _) = read_all(&store, None).await;
        assert_eq!(count_of(&again, &sid, &EventKind::Created), 1, "moved once");
        remove_all(&store, &prefix).await;
        store.quit().await;
    });
}

#[test]
fn an_untouched_expiry_never_scheduled_is_reported_by_the_slot_pass() {
    if !reachable(cluster_url()) {
        return;
    }
    multi_thread_runtime().block_on(async {
        let prefix = unique_prefix();
        let store = store(&prefix, 16_384).await;
        let sid = SessionId::generate().unwrap();
        let idle = Duration::from_millis(300);
        store
            .create(&sid, Vec::new(), Expiry::idle(idle), None)
            .await
            .unwrap();
        let (events, _) = read_all(&store, None).await;
        assert_eq!(count_of(&events, &sid, &EventKind::Created), 1);
        lose_marks(&store, &prefix).await;
        // No read will visit the slot now; only the round robin of `maintain` can.
        let poll = Poll::new(Duration::from_secs(30), "the expiry to be reported");
        loop {
            let (events, _) = read_all(&store, None).await;
            if count_of(&events, &sid, &EventKind::Expired) == 1 {
                break;
            }
            store.maintain().await.unwrap();
            poll.tick().await;
        }
        remove_all(&store, &prefix).await;
        store.quit().await;
    });
}

#[test]
fn racing_movers_on_three_handles_log_each_event_once() {
    if !reachable(cluster_url()) {
        return;
    }
    multi_thread_runtime().block_on(async {
        let prefix = unique_prefix();
        // Node 0 passes every slot in each `maintain` (moving any outbox it finds),
        // nodes 1 and 2 read events (moving the pending slots they take): the same
        // outbox entries are read by two movers before either trims them.
        let mut nodes = vec![store(&prefix, 16_384).await];
        for _ in 0..2 {
            nodes.push(store(&prefix, 64).await);
        }
        let stop = std::sync::atomic::AtomicBool::new(false);
        let movers = nodes.iter().enumerate().map(|(i, node)| {
            let stop = &stop;
            async move {
                let mut rounds = 0;
                loop {
                    if i == 0 {
                        node.maintain().await.unwrap();
                    } else {
                        node.events(None, 1).await.unwrap();
                    }
                    rounds += 1;
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        return rounds;
                    }
                }
            }
        });
        let work = async {
            let mut made = Vec::new();
            for round in 0..40 {
                let calls = (0..30).map(|i| {
                    let node = &nodes[i % 3];
                    async move {
                        let sid = SessionId::generate().unwrap();
                        node.create(&sid, Vec::new(), Expiry::default(), None)
                            .await
                            .unwrap();
                        if i % 2 == 0 {
                            assert!(node.delete(&sid).await.unwrap());
                        }
                        (sid, i % 2 == 0)
                    }
                });
                made.extend(join_all(calls).await);
                assert_eq!(made.len(), 30 * (round + 1));
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            made
        };
        let (made, reads) = tokio::join!(work, join_all(movers));
        assert!(reads.iter().all(|&n| n > 0), "every mover ran: {reads:?}");
        let (events, _) = read_all(&nodes[0], None).await;
        let mut per_session: BTreeMap<&SessionId, Vec<&EventKind>> = BTreeMap::new();
        for e in &events {
            per_session.entry(&e.session).or_default().push(&e.kind);
        }
        for (sid, deleted) in &made {
            let want: Vec<&EventKind> = if *deleted {
                vec![&EventKind::Created, &EventKind::Deleted]
            } else {
                vec![&EventKind::Created]
            };
            assert_eq!(
                per_session.get(sid).cloned().unwrap_or_default(),
                want,
                "each event once, in order, for {sid:?}"
            );
        }
        eprintln!(
            "measured: {} events of {} sessions logged once each with 3 handles moving ({reads:?} rounds)",
            events.len(),
            made.len()
        );
        remove_all(&nodes[0], &prefix).await;
        for node in nodes {
            node.quit().await;
        }
    });
}
