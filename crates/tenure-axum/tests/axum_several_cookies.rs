//! Several cookies of the session's name, over HTTP: the first that verifies and names
//! a live session wins, the others are ignored; a later winner re-sets the cookie; a
//! quoted value is unquoted. Plain, signed and private cookies; one cookie costs no
//! store call more than before, and each skipped id costs one.

#[path = "support/cookie_app.rs"]
mod cookie_app;
mod support;

use cookie_app::{forged, pair_of, protections, CookieApp};
use http::StatusCode;
use tenure_axum::Protection;
use tenure_node::Consistency;

#[tokio::test]
async fn an_invalid_first_cookie_does_not_hide_the_valid_session() {
    for protection in protections() {
        let plain = matches!(protection, Protection::Plain);
        let app = CookieApp::start(protection, Consistency::Exclusive).await;
        let real = app.session_at(2).await;
        let good = real.cookie.clone().unwrap();
        let (alone, alone_calls) = app.calls_of(app.post(&good, "/n")).await;
        assert_eq!(alone.body, "3");
        let mut bad = vec!["tenure=!!!".to_string(), "tenure=".to_string()];
        if !plain {
            bad.push(forged(&good)); // a forged signature or ciphertext
        }
        let mut n = 3;
        for first in bad {
            n += 1;
            let cookie = format!("{first}; other=1; {good}");
            let (r, calls) = app.calls_of(app.post(&cookie, "/n")).await;
            assert_eq!(r.status, StatusCode::OK, "{cookie}");
            assert_eq!(
                r.body,
                n.to_string(),
                "the valid session continues: {cookie}"
            );
            assert_eq!(
                calls, alone_calls,
                "an unverifiable cookie costs no store call"
            );
            // The valid cookie was not the first of the name: the response re-sets it,
            // for the same session.
            let set = r.set_cookie().expect("the winning cookie is re-set");
            n += 1;
            assert_eq!(app.post(&pair_of(&set), "/n").await.body, n.to_string());
        }
    }
}

#[tokio::test]
async fn a_dead_first_id_gives_way_to_a_live_second() {
    for consistency in [Consistency::Exclusive, Consistency::Optimistic] {
        for protection in protections() {
            let app = CookieApp::start(protection, consistency).await;
            let live = app.session_at(5).await.cookie.unwrap();
            let deleted = app.session_at(1).await.cookie.unwrap();
            assert_eq!(app.post(&deleted, "/logout").await.body, "bye");
            let expired = app.session_at(1).await.cookie.unwrap();
            assert_eq!(app.post(&expired, "/expire").await.body, "expired");
            let (_, alone_calls) = app.calls_of(app.get(&live, "/n")).await;
            let mut n = 5;
            for dead in [deleted, expired, app.unknown_pair()] {
                let cookie = format!("{dead}; {live}");
                let (r, calls) = app.calls_of(app.post(&cookie, "/n")).await;
                n += 1;
                assert_eq!(r.body, n.to_string(), "{consistency:?}: the live one wins");
                // A read of the live one alone costs `alone_calls`; the write adds its
                // commit, and the dead id one acquire (or load).
                let commit = 1;
                assert_eq!(calls, alone_calls + commit + 1, "{consistency:?} {dead}");
                let set = r.set_cookie().expect("the winner is re-set");
                assert_eq!(app.get(&pair_of(&set), "/n").await.body, n.to_string());
            }
            // Both dead: a new session, and the cookie is replaced.
            let cookie = format!("{}; {}", app.unknown_pair(), app.unknown_pair());
            let r = app.post(&cookie, "/n").await;
            assert_eq!(r.body, "1", "{consistency:?}: none live, a new session");
            assert_eq!(app.get(&live, "/n").await.body, n.to_string());
        }
    }
}

#[tokio::test]
async fn of_two_live_sessions_the_first_wins_at_no_extra_cost() {
    for protection in protections() {
        let app = CookieApp::start(protection, Consistency::Exclusive).await;
        let first = app.session_at(1).await.cookie.unwrap();
        let second = app.session_at(10).await.cookie.unwrap();
        let (_, alone_calls) = app.calls_of(app.post(&first, "/n")).await;
        let both = format!("{first}; {second}");
        let (r, calls) = app.calls_of(app.post(&both, "/n")).await;
        assert_eq!(r.body, "3", "the first cookie's session");
        assert_eq!(calls, alone_calls, "a live first id costs nothing extra");
        assert_eq!(r.set_cookie(), None, "the first won: nothing to re-set");
        assert_eq!(app.get(&second, "/n").await.body, "10", "second untouched");
        let reversed = format!("{second}; {first}");
        assert_eq!(app.post(&reversed, "/n").await.body, "11");
    }
}

#[tokio::test]
async fn a_quoted_value_is_unquoted() {
    for protection in protections() {
        let app = CookieApp::start(protection, Consistency::Exclusive).await;
        let pair = app.session_at(2).await.cookie.unwrap();
        let (name, value) = pair.split_once('=').unwrap();
        let (_, alone_calls) = app.calls_of(app.get(&pair, "/n")).await;
        let quoted = format!("{name}=\"{value}\"");
        let (r, calls) = app.calls_of(app.post(&quoted, "/n")).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (StatusCode::OK, "3"),
            "{quoted}"
        );
        assert_eq!(calls, alone_calls + 1, "the read's calls and the commit");
        assert_eq!(r.set_cookie(), None, "the same id: nothing to re-set");
        // Unbalanced quotes are not a value of ours.
        for broken in [format!("{name}=\"{value}"), format!("{name}={value}\"")] {
            assert_eq!(app.post(&broken, "/n").await.body, "1", "{broken}");
        }
        assert_eq!(app.get(&pair, "/n").await.body, "3");
    }
}
