//! A flood of cookies with the session's name, over HTTP: only the first 32 of the
//! name are looked at and only the first 4 that verify are tried against the store, so
//! a request costs at most 4 store calls more than one without a cookie; never a 500.
//! Plain, signed and private cookies; exclusive and optimistic modes.

#[path = "support/cookie_app.rs"]
mod cookie_app;
mod support;

use cookie_app::{protections, CookieApp};
use http::StatusCode;
use tenure_node::Consistency;

/// Cookies of the name looked at per request (README, "Cookies").
const EXAMINED: usize = 32;
/// Verified ids tried per request.
const TRIED: u64 = 4;

/// `count` cookies of the name that do not verify (malformed ids, so no signature or
/// ciphertext either).
fn junk(count: usize) -> String {
    (0..count).map(|i| format!("tenure=!{i}; ")).collect()
}

#[tokio::test]
async fn a_hundred_unverifiable_cookies_before_the_valid_one_hide_it_at_no_store_cost() {
    for protection in protections() {
        let app = CookieApp::start(protection, Consistency::Exclusive).await;
        let good = app.session_at(2).await.cookie.unwrap();
        let (fresh, fresh_calls) = app.calls_of(app.post("other=1", "/n")).await;
        assert_eq!(fresh.body, "1");

        let flood = format!("{}{good}", junk(100));
        let (r, calls) = app.calls_of(app.post(&flood, "/n")).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            r.body, "1",
            "the valid cookie is past the first {EXAMINED}: unread"
        );
        assert_eq!(calls, fresh_calls, "the junk costs no store call");

        // Within the bound, the valid one is found.
        let within = format!("{}{good}", junk(EXAMINED - 1));
        let r = app.post(&within, "/n").await;
        assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "3"));
        let beyond = format!("{}{good}", junk(EXAMINED));
        assert_eq!(app.post(&beyond, "/n").await.body, "1");
        assert_eq!(
            app.get(&good, "/n").await.body,
            "3",
            "untouched by the flood"
        );
    }
}

#[tokio::test]
async fn well_formed_unknown_ids_cost_at_most_four_store_calls() {
    for consistency in [Consistency::Exclusive, Consistency::Optimistic] {
        for protection in protections() {
            let app = CookieApp::start(protection, consistency).await;
            let good = app.session_at(2).await.cookie.unwrap();
            let (_, fresh_calls) = app.calls_of(app.post("other=1", "/n")).await;
            let unknown = |count: usize| -> String {
                (0..count).map(|_| app.unknown_pair() + "; ").collect()
            };

            // 30 ids that verify but name no session, then the valid one: the first 4
            // are tried, one store call each, and the request starts a new session.
            let flood = format!("{}{good}", unknown(30));
            let (r, calls) = app.calls_of(app.post(&flood, "/n")).await;
            assert_eq!(r.status, StatusCode::OK, "{consistency:?}");
            assert_eq!(r.body, "1", "{consistency:?}: the valid id is the 31st");
            assert_eq!(calls, fresh_calls + TRIED, "{consistency:?}: bounded");
            assert!(r.set_cookie().is_some(), "the new session's cookie");

            // The valid one as the 4th verified id is still tried, and wins.
            let fourth = format!("{}{good}", unknown(3));
            let (r, calls) = app.calls_of(app.post(&fourth, "/n")).await;
            assert_eq!(r.body, "3", "{consistency:?}");
            let (_, alone_calls) = app.calls_of(app.post(&good, "/n")).await;
            assert_eq!(
                calls,
                alone_calls + 3,
                "{consistency:?}: one per unknown id"
            );

            // The same id many times is tried once.
            let repeated = format!("{}{good}", (app.unknown_pair() + "; ").repeat(10));
            let (r, calls) = app.calls_of(app.post(&repeated, "/n")).await;
            assert_eq!(r.body, "5", "{consistency:?}: repeats are one candidate");
            assert_eq!(calls, alone_calls + 1, "{consistency:?}");
        }
    }
}
