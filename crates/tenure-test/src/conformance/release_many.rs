//! Cases about [`Store::release_many`]: each item answers exactly what a commit with
//! nothing to write and `release` would have answered, in order, and applies as that
//! commit would (the lock freed, reserved for the head waiter, I2a on a resend).

use std::sync::Arc;

use tenure_core::Delta;
use tenure_store::{CommitReply, Release, Store};

use super::util::*;

/// A batch of releases: held sessions are freed (another owner is granted each at
/// once, with a higher fence and the data as committed), a session queued for is
/// reserved for its head waiter, a wrong fence and an unknown session answer `Stale`
/// and change nothing, answers come in the order of the items, and the same batch
/// sent again answers `AlreadyApplied` for the ones that applied.
pub async fn release_many_answers_each_item_as_its_commit(store: Arc<dyn Store>) {
    let s = &*store;
    let (a, b, w, x) = (owner("a"), owner("b"), owner("w"), owner("x"));
    let (free1, free2, waited, foreign, unknown) = (sid(), sid(), sid(), sid(), sid());
    for (id, n) in [
        (&free1, "1"),
        (&free2, "2"),
        (&waited, "3"),
        (&foreign, "4"),
    ] {
        create(s, id, &[("n", n)]).await;
    }
    let f1 = granted(s, &free1, &a, LONG, "a acquires free1").await.fence;
    let v1 = committed(s, &free1, &a, f1, sets(&[("n", "10")]), false, "a commits").await;
    let f2 = granted(s, &free2, &a, LONG, "a acquires free2").await.fence;
    let fw = granted(s, &waited, &a, LONG, "a acquires waited")
        .await
        .fence;
    queued(s, &waited, &w, LONG, "w waits for waited").await;
    let fb = granted(s, &foreign, &b, LONG, "b acquires foreign")
        .await
        .fence;
    let items = vec![
        Release {
            sid: free1.clone(),
            fence: f1,
            id: next_commit_id(),
        },
        Release {
            sid: foreign.clone(),
            fence: fb,
            id: next_commit_id(),
        },
        Release {
            sid: free2.clone(),
            fence: f2,
            id: next_commit_id(),
        },
        Release {
            sid: unknown.clone(),
            fence: f1,
            id: next_commit_id(),
        },
        Release {
            sid: waited.clone(),
            fence: fw,
            id: next_commit_id(),
        },
    ];
    let answers: Vec<CommitReply> = ok(s.release_many(&a, &items).await, "release_many")
        .into_iter()
        .map(|r| ok(r, "release_many item"))
        .collect();
    assert_eq!(answers.len(), items.len(), "one answer per item");
    let stale = CommitReply::Stale {
        delta: Delta::default(),
    };
    assert_eq!(
        answers,
        vec![
            CommitReply::Committed { version: v1 },
            stale.clone(),
            CommitReply::Committed { version: 1 },
            stale,
            CommitReply::Committed { version: 1 },
        ],
        "answers in the order of the items: released (the version unchanged), another \
         owner's session Stale, released, unknown Stale, released"
    );
    let g1 = granted(s, &free1, &x, LONG, "x acquires free1 after the batch").await;
    assert!(g1.fence > f1, "a new grant takes a new fence");
    assert_eq!(value(&g1.snapshot, "n").as_deref(), Some("10"));
    granted(s, &free2, &x, LONG, "x acquires free2 after the batch").await;
    assert_eq!(
        queued(s, &waited, &x, LONG, "x after the release of waited").await,
        2,
        "I3: a released session is reserved for its head waiter"
    );
    granted(s, &waited, &w, LONG, "the head waiter after the batch").await;
    committed(
        s,
        &foreign,
        &b,
        fb,
        sets(&[("n", "40")]),
        false,
        "b still holds foreign",
    )
    .await;

    let again: Vec<CommitReply> = ok(s.release_many(&a, &items).await, "release_many again")
        .into_iter()
        .map(|r| ok(r, "release_many item again"))
        .collect();
    assert!(
        matches!(again[0], CommitReply::AlreadyApplied { version } if version == v1),
        "I2a: a resent release answers AlreadyApplied, got {:?}",
        again[0]
    );
    assert!(
        matches!(again[1], CommitReply::Stale { .. }),
        "a resent Stale item stays Stale, got {:?}",
        again[1]
    );
    let g1_again = granted(s, &free1, &x, LONG, "x still holds free1").await;
    assert_eq!(g1_again.fence, g1.fence, "the resent batch freed nothing");
}

/// An empty batch answers nothing and calls nothing that fails.
pub async fn release_many_of_nothing(store: Arc<dyn Store>) {
    let answers = ok(store.release_many(&owner("a"), &[]).await, "release_many");
    assert!(answers.is_empty(), "no items, no answers");
}
