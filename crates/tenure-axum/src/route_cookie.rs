//! The route cookie: a cookie that names the node holding the session, for load
//! balancers that stick by a cookie the application sets (app-controlled stickiness:
//! HAProxy `use-server … if { req.cook(route) … }`, nginx's `sticky route`, AWS ALB's
//! application cookie, the role of Tomcat's `jvmRoute`).
//!
//! Forwarding ([`crate::forward`]) makes a request that reaches the wrong node cost
//! one hop instead of a handoff, but a balancer that sticks to the node it sent the
//! last request to keeps sending a session to the node that forwards it, so every
//! request after a miss pays the hop. With a route cookie the balancer learns the
//! holder from the holder's own answer: after a miss, the next request goes to the
//! holder again.
//!
//! The cookie is only a routing hint. It carries no session data and grants nothing:
//! a client that edits it only sends its requests to a node that forwards them.
//! It is sent when a request that used its session was served here and did not
//! already carry this node's value, so a session whose holder does not change costs
//! one `Set-Cookie` in all.

use cookie::Cookie;
use http::header::SET_COOKIE;
use http::{HeaderMap, HeaderValue};

use crate::cookies::{CookieConfig, CookieConfigError};
use crate::presented::request_cookies;

/// Longest route value accepted: a node name, not data.
const MAX_VALUE: usize = 64;

/// The route cookie a node sets: its name and this node's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RouteCookie {
    pub(crate) name: String,
    pub(crate) value: String,
}

impl RouteCookie {
    /// Checks that the name is a cookie token and the value a plain cookie value of
    /// letters, digits and `-._~:` (no quoting needed, nothing a balancer must decode).
    pub(crate) fn validate(&self) -> Result<(), CookieConfigError> {
        if !crate::cookies::is_token(&self.name) {
            return Err(CookieConfigError::Name(self.name.clone()));
        }
        let plain = |c: char| c.is_ascii_alphanumeric() || "-._~:".contains(c);
        if self.value.is_empty() || self.value.len() > MAX_VALUE || !self.value.chars().all(plain) {
            return Err(CookieConfigError::RouteValue(self.value.clone()));
        }
        Ok(())
    }

    /// Whether the request already carries this node's value (then nothing is sent).
    pub(crate) fn presented(&self, headers: &HeaderMap) -> bool {
        request_cookies(headers).any(|c| c.name() == self.name && c.value() == self.value)
    }

    /// Adds the `Set-Cookie` to a response, with the session cookie's scope and
    /// attributes (path, domain, `Secure`, `HttpOnly`, `SameSite`) and no lifetime: it
    /// ends with the browser session, and a later request re-learns it.
    pub(crate) fn set(&self, headers: &mut HeaderMap, session: &CookieConfig) {
        let mut cookie = Cookie::build((self.name.clone(), self.value.clone()))
            .path(session.path.clone())
            .secure(session.secure)
            .http_only(session.http_only)
            .same_site(session.same_site)
            .build();
        if let Some(domain) = &session.domain {
            cookie.set_domain(domain.clone());
        }
        if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
            headers.append(SET_COOKIE, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(name: &str, value: &str) -> RouteCookie {
        RouteCookie {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn names_and_values_are_checked() {
        assert!(route("route", "node-1").validate().is_ok());
        assert!(route("route", "10.0.0.7:8080").validate().is_ok());
        for name in ["", "a b", "a;b", "a=b"] {
            assert_eq!(
                route(name, "n").validate(),
                Err(CookieConfigError::Name(name.into()))
            );
        }
        let long = "n".repeat(MAX_VALUE + 1);
        for value in ["", "a b", "a;b", "\"q\"", "é", long.as_str()] {
            assert_eq!(
                route("route", value).validate(),
                Err(CookieConfigError::RouteValue(value.into()))
            );
        }
    }

    #[test]
    fn only_this_nodes_value_counts_as_presented() {
        let r = route("route", "node-1");
        let with = |cookie: &str| {
            let mut h = HeaderMap::new();
            h.insert(http::header::COOKIE, HeaderValue::from_str(cookie).unwrap());
            r.presented(&h)
        };
        assert!(with("a=b; route=node-1"));
        assert!(!with("route=node-2"));
        assert!(!with("router=node-1"));
        assert!(!r.presented(&HeaderMap::new()));
    }

    #[test]
    fn the_cookie_takes_the_session_cookies_scope() {
        let session = CookieConfig {
            path: "/app".into(),
            ..CookieConfig::default()
        };
        let mut h = HeaderMap::new();
        route("route", "node-1").set(&mut h, &session);
        let set = h.get(SET_COOKIE).unwrap().to_str().unwrap();
        for part in [
            "route=node-1",
            "Path=/app",
            "Secure",
            "HttpOnly",
            "SameSite=Lax",
        ] {
            assert!(set.contains(part), "{set} lacks {part}");
        }
        assert!(!set.contains("Max-Age"), "{set}");
    }
}
