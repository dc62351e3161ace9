//! Reading the session cookie: every cookie of the session's name, in the order the
//! request sent them, unquoted and verified, kept as an ordered list of candidate ids.
//!
//! Reading never fails: a missing, malformed, forged, oversized or unverifiable cookie
//! simply yields no candidate. Which candidate names a live session is for the store
//! to say when the session is first used ([`crate::handle`]); the first that does wins.
//!
//! Several cookies of one name arrive when the browser holds them for different paths
//! or domains (or a sibling subdomain set one). The work a request can cause is
//! bounded: at most [`MAX_EXAMINED`] cookies of the name are looked at, and at most
//! [`MAX_CANDIDATES`] verified ids are kept, so a cookie flood costs at most that many
//! store calls.

use cookie::{Cookie, CookieJar};
use http::header::COOKIE;
use http::HeaderMap;
use tenure_core::SessionId;

use crate::cookies::{CookieConfig, Protection};

/// A `Cookie` header value longer than this is ignored (browsers send at most a few
/// KiB; anything larger is not ours to parse).
const MAX_COOKIE_HEADER: usize = 8 * 1024;
/// A session cookie value longer than this is ignored: an id is 32 characters, its
/// signed or encrypted form under 100.
const MAX_VALUE: usize = 256;
/// Cookies of the session's name looked at per request, in the order sent; later ones
/// are ignored unread (this bounds the signature and decryption work).
pub(crate) const MAX_EXAMINED: usize = 32;
/// Verified ids kept per request, in the order sent: the most a request can ask the
/// store about before it starts a new session.
pub(crate) const MAX_CANDIDATES: usize = 4;

/// A session id as the request presented it, verified but not yet checked against
/// the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Presented {
    pub(crate) id: SessionId,
    /// Re-send the cookie when the session is used: it verified with a key other than
    /// the current one, or it was not the first cookie of the name (the browser holds
    /// another that comes first; if that one has the layer's path and domain, the new
    /// cookie replaces it).
    pub(crate) reissue: bool,
}

/// Every well-formed cookie a request sends, in order, from `Cookie` headers no longer
/// than [`MAX_COOKIE_HEADER`].
pub(crate) fn request_cookies(headers: &HeaderMap) -> impl Iterator<Item = Cookie<'_>> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter(|h| h.len() <= MAX_COOKIE_HEADER)
        .filter_map(|h| h.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
}

impl CookieConfig {
    /// The first valid session id a request presents, if any: the first cookie of the
    /// session's name (among the first few) that is well formed and, for signed or
    /// private cookies, verifies. Whether it names a live session is not checked; the
    /// layer tries the next valid one when it does not.
    pub fn read(&self, headers: &HeaderMap) -> Option<SessionId> {
        self.read_presented(headers)
            .into_iter()
            .next()
            .map(|p| p.id)
    }

    /// The verified ids a request presents, in the order sent, without repeats: at
    /// most [`MAX_CANDIDATES`], from the first [`MAX_EXAMINED`] cookies of the name.
    pub(crate) fn read_presented(&self, headers: &HeaderMap) -> Vec<Presented> {
        let name = self.cookie_name();
        let mut found: Vec<Presented> = Vec::new();
        let same_name = request_cookies(headers)
            .filter(|c| c.name() == name)
            .take(MAX_EXAMINED);
        for (position, cookie) in same_name.enumerate() {
            let Some(mut p) = self.verify(&name, &cookie) else {
                continue;
            };
            // Not the first of the name: the browser holds another that comes first.
            p.reissue |= position > 0;
            if found.iter().all(|f| f.id != p.id) {
                found.push(p);
            }
            if found.len() == MAX_CANDIDATES {
                break;
            }
        }
        found
    }

    /// One cookie's id, if its value is ours: unquoted (RFC 6265 allows a
    /// DQUOTE-wrapped value), verified or decrypted by one of the keys, well formed.
    fn verify(&self, name: &str, cookie: &Cookie<'_>) -> Option<Presented> {
        let value = cookie.value_trimmed();
        if value.len() > MAX_VALUE {
            return None;
        }
        let (id, key_index) = match &self.protection {
            Protection::Plain => (value.to_string(), 0),
            Protection::Signed(keys) | Protection::Private(keys) => {
                let jar = CookieJar::new();
                keys.iter().enumerate().find_map(|(i, key)| {
                    let sealed = Cookie::new(name.to_string(), value.to_string());
                    let opened = match &self.protection {
                        Protection::Signed(_) => jar.signed(key).verify(sealed),
                        _ => jar.private(key).decrypt(sealed),
                    };
                    opened.map(|c| (c.value().to_string(), i))
                })?
            }
        };
        let id = SessionId::parse(&id).ok()?;
        Some(Presented {
            id,
            reissue: key_index > 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cookie::Key;
    use http::HeaderValue;

    fn headers(cookie: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_str(cookie).unwrap());
        h
    }

    fn ids(config: &CookieConfig, cookie: &str) -> Vec<SessionId> {
        let read = config.read_presented(&headers(cookie));
        read.into_iter().map(|p| p.id).collect()
    }

    fn roundtrip(config: &CookieConfig, id: &SessionId) -> Option<SessionId> {
        let c = config.cookie_for(id);
        config.read(&headers(&format!("other=1; {}={}", c.name(), c.value())))
    }

    fn protections() -> [Protection; 3] {
        let key = Key::generate();
        [
            Protection::Plain,
            Protection::Signed(vec![key.clone()]),
            Protection::Private(vec![key]),
        ]
    }

    #[test]
    fn plain_signed_and_private_round_trip() {
        let id = SessionId::generate().unwrap();
        for protection in protections() {
            let config = CookieConfig {
                protection,
                ..CookieConfig::default()
            };
            assert_eq!(roundtrip(&config, &id).as_ref(), Some(&id), "{config:?}");
        }
    }

    #[test]
    fn private_value_hides_the_id_and_tampering_fails() {
        let id = SessionId::generate().unwrap();
        let config = CookieConfig {
            protection: Protection::Private(vec![Key::generate()]),
            ..Default::default()
        };
        let c = config.cookie_for(&id);
        assert!(!c.value().contains(id.as_str()));
        let mut forged = c.value().to_string();
        forged.replace_range(..1, if forged.starts_with('A') { "B" } else { "A" });
        assert_eq!(
            config.read(&headers(&format!("{}={forged}", c.name()))),
            None
        );
    }

    #[test]
    fn rotated_keys_still_verify_and_unknown_keys_do_not() {
        let id = SessionId::generate().unwrap();
        let (old, new) = (Key::generate(), Key::generate());
        let before = CookieConfig {
            protection: Protection::Signed(vec![old.clone()]),
            ..Default::default()
        };
        let c = before.cookie_for(&id);
        let header = headers(&format!("{}={}", c.name(), c.value()));
        let after = CookieConfig {
            protection: Protection::Signed(vec![new.clone(), old]),
            ..Default::default()
        };
        assert_eq!(after.read(&header), Some(id.clone()));
        assert!(
            after.read_presented(&header)[0].reissue,
            "old key: re-issue"
        );
        let stranger = CookieConfig {
            protection: Protection::Signed(vec![new]),
            ..Default::default()
        };
        assert_eq!(stranger.read(&header), None);
    }

    #[test]
    fn bad_cookies_yield_no_id() {
        let config = CookieConfig::default();
        let name = config.cookie_name();
        let good = SessionId::generate().unwrap();
        for bad in [
            String::new(),
            format!("{name}="),
            format!("{name}=\"\""),
            format!("{name}=\"{good}"),
            format!("{name}=\"{good}\"\""),
            format!("{name}=../../etc/passwd"),
            format!("{name}=short"),
            format!("{name}={}", "a".repeat(10_000)),
            format!("{name}={}é", good),
            format!("tenure={good}"), // without the prefix: not our cookie
            "\u{0}\u{1}garbage;;;==".to_string(),
        ] {
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&bad) {
                h.insert(COOKIE, v);
            }
            assert_eq!(config.read(&h), None, "{bad:?}");
        }
        assert_eq!(config.read(&headers(&format!("{name}={good}"))), Some(good));
    }

    #[test]
    fn every_verified_cookie_of_the_name_is_a_candidate_in_order() {
        for protection in protections() {
            let config = CookieConfig {
                protection,
                ..CookieConfig::default()
            };
            let name = config.cookie_name();
            let (a, b) = (
                SessionId::generate().unwrap(),
                SessionId::generate().unwrap(),
            );
            let (ca, cb) = (config.cookie_for(&a), config.cookie_for(&b));
            let header = format!(
                "{name}=!!!; x=1; {name}={}; {name}={}; {name}={}",
                ca.value(),
                cb.value(),
                ca.value()
            );
            assert_eq!(ids(&config, &header), vec![a.clone(), b], "{config:?}");
            let read = config.read_presented(&headers(&header));
            assert!(
                read.iter().all(|p| p.reissue),
                "not first of the name: re-set"
            );
            let quoted = format!("{name}=\"{}\"", ca.value());
            assert_eq!(ids(&config, &quoted), vec![a], "quoted, {config:?}");
            assert!(!config.read_presented(&headers(&quoted))[0].reissue);
        }
    }

    #[test]
    fn candidates_and_examined_cookies_are_bounded() {
        let config = CookieConfig::default();
        let name = config.cookie_name();
        let fresh = || SessionId::generate().unwrap();
        let many: Vec<SessionId> = (0..MAX_CANDIDATES + 3).map(|_| fresh()).collect();
        let header: Vec<String> = many.iter().map(|id| format!("{name}={id}")).collect();
        assert_eq!(ids(&config, &header.join("; ")), many[..MAX_CANDIDATES]);

        let good = fresh();
        let flood = format!("{name}=!!!; ").repeat(MAX_EXAMINED - 1);
        let within = format!("{flood}{name}={good}");
        assert_eq!(ids(&config, &within), vec![good.clone()]);
        let beyond = format!("{flood}{name}=!!!; {name}={good}");
        assert_eq!(ids(&config, &beyond), Vec::<SessionId>::new());
    }
}
