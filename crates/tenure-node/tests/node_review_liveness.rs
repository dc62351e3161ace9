//! Review of node liveness (I15, I17): what a node serves from its copies once its
//! own liveness is unconfirmed, and reincarnation racing an acquisition.

mod review_support;

use std::sync::Arc;

use review_support::{config, counter_session, switched, Switches, SECOND};
use tenure_node::Node;
use tenure_store::Store;
use tenure_test::wait_until;
use tokio::sync::oneshot;
use tokio::time::sleep;

/// A request is in flight on holder H when H's keep-alives stop reaching the store
/// (H is paused, or cut off). Past the liveness TTL, node W takes the session at once
/// (I15) and stores counter = 1. H's request then reads `counter` again: I17 and the
/// README say a node "serves nothing from memory once its own liveness is
/// unconfirmed", so the read must not come from H's copy. (Found in review: it did,
/// answering 0; the per-access check looked at the lease, not the liveness.)
#[tokio::test(start_paused = true)]
async fn a_request_in_flight_reads_nothing_from_memory_once_liveness_is_unconfirmed() {
    let (memory, h_store, sw) = switched();
    let h = Node::start(h_store, config()).await.unwrap();
    let w = Node::start(Arc::new(memory.clone()) as Arc<dyn Store>, config())
        .await
        .unwrap();
    let id = counter_session(&h).await;

    let (attached_tx, attached) = oneshot::channel();
    let (go, go_rx) = oneshot::channel::<()>();
    let r = {
        let (h, id) = (h.clone(), id.clone());
        tokio::spawn(async move {
            let mut s = h.session(Some(id));
            assert_eq!(s.get::<u64>("counter").await.unwrap(), Some(0));
            let _ = attached_tx.send(());
            let _ = go_rx.await;
            let later = s.get::<u64>("counter").await;
            let end = s.end().await;
            (later, end.map(|_| ()))
        })
    };
    attached.await.unwrap();

    Switches::set(&sw.fail_keep_alive, true);
    sleep(4 * SECOND).await; // H's liveness (3 s) ran out at the store

    let mut s = w.session(Some(id.clone()));
    *s.get_mut::<u64>("counter").await.unwrap().unwrap() += 1;
    s.end().await.unwrap();
    assert_eq!(
        review_support::stored_u64(&memory, &id, "counter").await,
        Some(1)
    );

    let _ = go.send(());
    let (later, end) = r.await.unwrap();
    println!("H's in-flight request read {later:?}, ended {end:?}");
    assert!(
        !matches!(later, Ok(Some(0))),
        "served 0 from H's copy after W stored 1"
    );
}

/// H's keep-alives fail past the TTL; H asks for a session (its acquisition is sent
/// under the old owner id and is slow to arrive); meanwhile H learns of the lapse and
/// reincarnates, giving back the copies of the old id it holds *then*. The store then
/// grants the session to the dead old id, and H installs that copy. W takes the
/// session at once (its holder is dead) and stores 1; H, alive again under its new
/// id, must not serve the old copy. (Found in review: the copy was never given back
/// and H served 0.)
#[tokio::test(start_paused = true)]
async fn a_grant_under_the_lapsed_owner_id_is_not_served_after_reincarnation() {
    let (memory, h_store, sw) = switched();
    let h = Node::start(h_store, config()).await.unwrap();
    let w = Node::start(Arc::new(memory.clone()) as Arc<dyn Store>, config())
        .await
        .unwrap();
    let id = counter_session(&w).await;
    w.release(&id).await.unwrap();

    let old = h.owner();
    Switches::set(&sw.fail_keep_alive, true);
    sleep(3500 * tokio::time::Duration::from_millis(1)).await;

    sw.acquires_pass(false);
    let r1 = {
        let (h, id) = (h.clone(), id.clone());
        tokio::spawn(async move {
            let mut s = h.session(Some(id));
            let v = s.get::<u64>("counter").await;
            let _ = s.end().await;
            v
        })
    };
    wait_until(5 * SECOND, "H's acquire is on its way", || async {
        sw.held() == 1
    })
    .await;
    Switches::set(&sw.fail_keep_alive, false);
    wait_until(5 * SECOND, "H reincarnates", || async { h.owner() != old }).await;
    sw.acquires_pass(true);
    // The request the grant was for may read the grant's snapshot (fresh when it was
    // granted) or be refused (nothing stored): either is safe.
    let first = r1.await.unwrap();
    assert!(
        matches!(
            first,
            Ok(Some(0)) | Err(tenure_node::SessionError::TenureLost)
        ),
        "{first:?}"
    );
    println!(
        "H holds the session: {}; H's stats: {:?}",
        h.holds(&id),
        h.stats()
    );

    let mut s = w.session(Some(id.clone()));
    *s.get_mut::<u64>("counter").await.unwrap().unwrap() += 1;
    s.end().await.unwrap();
    assert_eq!(
        review_support::stored_u64(&memory, &id, "counter").await,
        Some(1)
    );

    let mut s = h.session(Some(id.clone()));
    let seen = s.get::<u64>("counter").await;
    println!("H serves {seen:?}");
    assert!(
        !matches!(seen, Ok(Some(0))),
        "H served 0 from a copy under its dead owner id after W stored 1"
    );
}

/// One keep-alive is delayed on its way to the store (a stalled link, fault (d) of the
/// suite) and arrives after the TTL: a plain lapse, not `store_data_lost`, since only
/// the reply time bounds when the store saw it. (Found in review: the node compared
/// the send time and reported data loss.)
#[tokio::test(start_paused = true)]
async fn a_late_keep_alive_is_a_lapse_not_store_data_loss() {
    let (memory, h_store, sw) = switched();
    let h = Node::start(h_store, config()).await.unwrap();
    let id = counter_session(&h).await;
    sleep(1500 * tokio::time::Duration::from_millis(1)).await; // t = 1.5: one keep-alive done at t = 1
    sw.keep_alive_delay_ms
        .store(3200, std::sync::atomic::Ordering::SeqCst); // the one sent at t = 2 arrives at 5.2
    wait_until(10 * SECOND, "the lapse is noticed", || async {
        h.stats().liveness_lapses == 1
    })
    .await;
    sw.keep_alive_delay_ms
        .store(0, std::sync::atomic::Ordering::SeqCst);
    assert!(
        memory.load(&id).await.unwrap().is_some(),
        "the store kept the session"
    );
    let stats = h.stats();
    println!("{stats:?}");
    assert_eq!(
        stats.store_data_lost, 0,
        "the store lost nothing: a late keep-alive is a lapse"
    );
}
