//! The session cookie: its attributes, and optional signing or encryption with key
//! rotation.
//!
//! Whatever arrives, reading never fails: a missing, malformed, forged, oversized or
//! unverifiable cookie simply yields no session id, and the request starts a new
//! session. The id's shape is checked before anything is built from it.

use std::fmt;
use std::time::Duration;

use cookie::{Cookie, CookieJar, Key, SameSite};
use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue};
use tenure_core::SessionId;

/// A `Cookie` header value longer than this is ignored (browsers send at most a few
/// KiB; anything larger is not ours to parse).
const MAX_COOKIE_HEADER: usize = 8 * 1024;
/// A session cookie value longer than this is ignored: an id is 32 characters, its
/// signed or encrypted form under 100.
const MAX_VALUE: usize = 256;

/// How the cookie's value protects the id.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Protection {
    /// The id as is: it is already 192 random bits, unguessable.
    #[default]
    Plain,
    /// The id with an HMAC-SHA256 signature: tampering is detected. The first key
    /// signs; every key verifies (key rotation).
    Signed(Vec<Key>),
    /// The id encrypted and authenticated with AES-256-GCM: the client cannot read
    /// it. The first key encrypts; every key decrypts (key rotation).
    Private(Vec<Key>),
}

impl fmt::Debug for Protection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print keys.
        match self {
            Protection::Plain => f.write_str("Plain"),
            Protection::Signed(keys) => write!(f, "Signed({} keys)", keys.len()),
            Protection::Private(keys) => write!(f, "Private({} keys)", keys.len()),
        }
    }
}

/// The session cookie's settings. The defaults are the safe ones: `Secure`,
/// `HttpOnly`, `SameSite=Lax`, path `/`, no domain, and so the `__Host-` name prefix,
/// which browsers only accept under exactly those settings.
///
/// ```
/// use tenure_axum::CookieConfig;
/// let config = CookieConfig::default();
/// assert_eq!(config.cookie_name(), "__Host-tenure");
/// let mut local = CookieConfig::default();
/// local.secure = false; // plain-HTTP development
/// assert_eq!(local.cookie_name(), "tenure");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CookieConfig {
    /// Base name; `__Host-` is prepended when the settings allow it. Default `tenure`.
    pub name: String,
    /// Send only over HTTPS. Default true.
    pub secure: bool,
    /// Hide from scripts. Default true.
    pub http_only: bool,
    /// Cross-site policy. Default `Lax`.
    pub same_site: SameSite,
    /// Path scope. Default `/`.
    pub path: String,
    /// Domain scope. Default none (this host only).
    pub domain: Option<String>,
    /// Lifetime of the cookie; `None` makes it end with the browser session. When set,
    /// the cookie is re-sent on every response that uses the session, so it slides.
    pub max_age: Option<Duration>,
    /// Plain, signed or encrypted value.
    pub protection: Protection,
}

impl Default for CookieConfig {
    fn default() -> Self {
        Self {
            name: "tenure".into(),
            secure: true,
            http_only: true,
            same_site: SameSite::Lax,
            path: "/".into(),
            domain: None,
            max_age: None,
            protection: Protection::Plain,
        }
    }
}

impl CookieConfig {
    /// The cookie's name as sent: with the `__Host-` prefix when `secure`, path `/`
    /// and no domain allow it.
    pub fn cookie_name(&self) -> String {
        if self.secure && self.path == "/" && self.domain.is_none() {
            format!("__Host-{}", self.name)
        } else {
            self.name.clone()
        }
    }

    /// The session id a request presents, if any valid one.
    pub fn read(&self, headers: &HeaderMap) -> Option<SessionId> {
        self.read_presented(headers).map(|p| p.id)
    }

    /// The presented id, and whether it verified with a key other than the current
    /// one (then the cookie is re-issued under the current key).
    pub(crate) fn read_presented(&self, headers: &HeaderMap) -> Option<Presented> {
        let name = self.cookie_name();
        let value = headers
            .get_all(COOKIE)
            .iter()
            .filter(|h| h.len() <= MAX_COOKIE_HEADER)
            .filter_map(|h| h.to_str().ok())
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok)
            .find(|c| c.name() == name && c.value().len() <= MAX_VALUE)?;
        let (id, key_index) = match &self.protection {
            Protection::Plain => (value.value().to_string(), 0),
            Protection::Signed(keys) | Protection::Private(keys) => {
                let mut jar = CookieJar::new();
                jar.add_original(value.into_owned());
                keys.iter().enumerate().find_map(|(i, k)| {
                    let opened = match &self.protection {
                        Protection::Signed(_) => jar.signed(k).get(&name),
                        _ => jar.private(k).get(&name),
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

    /// Checks the settings: the name must be a cookie token, and signed or private
    /// cookies need at least one key.
    pub fn validate(&self) -> Result<(), CookieConfigError> {
        let token = |c: char| c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?={}".contains(c);
        if self.name.is_empty() || self.name.len() > 64 || !self.name.chars().all(token) {
            return Err(CookieConfigError::Name(self.name.clone()));
        }
        match &self.protection {
            Protection::Signed(keys) | Protection::Private(keys) if keys.is_empty() => {
                Err(CookieConfigError::NoKey)
            }
            _ => Ok(()),
        }
    }

    fn base(&self, value: String) -> Cookie<'static> {
        let mut cookie = Cookie::build((self.cookie_name(), value))
            .path(self.path.clone())
            .secure(self.secure)
            .http_only(self.http_only)
            .same_site(self.same_site)
            .build();
        if let Some(domain) = &self.domain {
            cookie.set_domain(domain.clone());
        }
        cookie
    }

    /// The `Set-Cookie` cookie that hands `id` to the client.
    pub fn cookie_for(&self, id: &SessionId) -> Cookie<'static> {
        self.cookie_lasting(id, self.max_age)
    }

    /// The `Set-Cookie` cookie for `id` with lifetime `max_age` (`None`: it ends with
    /// the browser session).
    fn cookie_lasting(&self, id: &SessionId, max_age: Option<Duration>) -> Cookie<'static> {
        let mut cookie = self.base(id.as_str().to_string());
        if let Some(age) = max_age {
            // Rounded up: a lifetime under a second left must not read as `Max-Age=0`,
            // which tells the browser to drop the cookie at once.
            let secs = age.as_secs() + u64::from(age.subsec_nanos() > 0);
            let secs = i64::try_from(secs).unwrap_or(i64::MAX);
            cookie.set_max_age(cookie::time::Duration::seconds(secs));
        }
        let keys = match &self.protection {
            Protection::Plain => return cookie,
            Protection::Signed(keys) | Protection::Private(keys) => keys,
        };
        let Some(key) = keys.first() else {
            // Ruled out by `validate`; never hand out an unprotected id.
            return self.removal();
        };
        let mut jar = CookieJar::new();
        match &self.protection {
            Protection::Signed(_) => jar.signed_mut(key).add(cookie),
            _ => jar.private_mut(key).add(cookie),
        }
        jar.delta()
            .next()
            .cloned()
            .unwrap_or_else(|| self.removal())
    }

    /// The `Set-Cookie` cookie that makes the client forget its session.
    pub fn removal(&self) -> Cookie<'static> {
        let mut cookie = self.base(String::new());
        cookie.make_removal();
        cookie
    }

    /// Sets or clears the cookie on a response: hands out the id that names the
    /// session after the request (`after`) when it differs from the presented one (new,
    /// rotated), clears it when no session is left, and, for a request that `used` the
    /// session, refreshes a sliding cookie or re-issues one verified by an old key.
    ///
    /// `lifetime` is the session's own cookie lifetime, if it chose one
    /// (`Some(None)`: a browser-session cookie); otherwise the configured `max_age`
    /// applies. `renew` re-sends the cookie (its lifetime changed).
    pub(crate) fn apply(
        &self,
        headers: &mut HeaderMap,
        presented: Option<&Presented>,
        after: Option<&SessionId>,
        used: bool,
        lifetime: Option<Option<Duration>>,
        renew: bool,
    ) {
        let max_age = lifetime.unwrap_or(self.max_age);
        let cookie = match (after, presented) {
            (Some(id), p) if p.map(|p| &p.id) != Some(id) => self.cookie_lasting(id, max_age),
            (Some(id), Some(p)) if renew || (used && (max_age.is_some() || p.reissue)) => {
                self.cookie_lasting(id, max_age)
            }
            (None, Some(_)) => self.removal(),
            _ => return,
        };
        if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
            headers.append(SET_COOKIE, value);
        }
    }
}

/// A session id as the request presented it.
#[derive(Debug, Clone)]
pub(crate) struct Presented {
    pub(crate) id: SessionId,
    /// Verified with an older key: re-issue under the current one.
    pub(crate) reissue: bool,
}

/// Cookie settings that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CookieConfigError {
    /// The name is empty, longer than 64 bytes, or not a cookie token.
    #[error("cookie name {0:?} is not a valid cookie token")]
    Name(String),
    /// Signed or private cookies were asked for without a key.
    #[error("signed or private cookies need at least one key")]
    NoKey,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(cookie: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_str(cookie).unwrap());
        h
    }

    fn roundtrip(config: &CookieConfig, id: &SessionId) -> Option<SessionId> {
        let c = config.cookie_for(id);
        config.read(&headers(&format!("other=1; {}={}", c.name(), c.value())))
    }

    #[test]
    fn plain_signed_and_private_round_trip() {
        let id = SessionId::generate().unwrap();
        let key = Key::generate();
        for protection in [
            Protection::Plain,
            Protection::Signed(vec![key.clone()]),
            Protection::Private(vec![key]),
        ] {
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
        assert_eq!(after.read(&header), Some(id));
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
    fn invalid_settings_are_refused() {
        assert!(CookieConfig::default().validate().is_ok());
        for name in ["", "a b", "a;b", "é", "a=b"] {
            let c = CookieConfig {
                name: name.into(),
                ..Default::default()
            };
            assert_eq!(c.validate(), Err(CookieConfigError::Name(name.into())));
        }
        let c = CookieConfig {
            protection: Protection::Private(vec![]),
            ..Default::default()
        };
        assert_eq!(c.validate(), Err(CookieConfigError::NoKey));
    }

    #[test]
    fn default_attributes_are_the_safe_ones() {
        let config = CookieConfig::default();
        let c = config
            .cookie_for(&SessionId::generate().unwrap())
            .to_string();
        for part in [
            "__Host-tenure=",
            "Secure",
            "HttpOnly",
            "SameSite=Lax",
            "Path=/",
        ] {
            assert!(c.contains(part), "{c} lacks {part}");
        }
        assert!(!c.contains("Domain"));
        let removal = config.removal().to_string();
        assert!(removal.contains("Max-Age=0"), "{removal}");
    }
}
