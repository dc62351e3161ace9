//! The session cookie: its attributes, optional signing or encryption with key
//! rotation, and the `Set-Cookie` a response carries. Reading the cookie from a
//! request is in [`crate::presented`].

use std::fmt;
use std::time::Duration;

use cookie::{Cookie, CookieJar, Key, SameSite};
use http::header::SET_COOKIE;
use http::{HeaderMap, HeaderValue};
use tenure_core::SessionId;

use crate::presented::Presented;

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

    /// Checks the settings: the name must be a cookie token, and signed or private
    /// cookies need at least one key.
    pub fn validate(&self) -> Result<(), CookieConfigError> {
        if !is_token(&self.name) {
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
    /// session, refreshes a sliding cookie or re-issues one marked
    /// [`reissue`](Presented::reissue) (verified by an old key, or not the first cookie
    /// of the name).
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

/// Whether `name` can be a cookie's name: a token (RFC 6265) of 1 to 64 bytes.
pub(crate) fn is_token(name: &str) -> bool {
    let token = |c: char| c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?={}".contains(c);
    !name.is_empty() && name.len() <= 64 && name.chars().all(token)
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
    /// The route cookie's value is empty, longer than 64 bytes, or holds a character
    /// other than letters, digits and `-._~:`.
    #[error("route cookie value {0:?} must be 1 to 64 letters, digits or -._~:")]
    RouteValue(String),
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn apply_sets_re_sends_or_clears_the_cookie() {
        let config = CookieConfig::default();
        let (a, b) = (
            SessionId::generate().unwrap(),
            SessionId::generate().unwrap(),
        );
        let set = |presented: Option<&Presented>, after: Option<&SessionId>, used: bool| {
            let mut h = HeaderMap::new();
            config.apply(&mut h, presented, after, used, None, false);
            h.get(SET_COOKIE).map(|v| v.to_str().unwrap().to_string())
        };
        let first = Presented {
            id: a.clone(),
            reissue: false,
        };
        let later = Presented {
            id: a.clone(),
            reissue: true,
        };
        assert_eq!(set(Some(&first), Some(&a), true), None, "unchanged");
        let again = set(Some(&later), Some(&a), true).expect("a later cookie won");
        assert!(again.contains(a.as_str()), "{again}");
        assert_eq!(
            set(Some(&later), Some(&a), false),
            None,
            "not used: a claim"
        );
        let new = set(Some(&first), Some(&b), true).expect("a new id");
        assert!(new.contains(b.as_str()), "{new}");
        assert!(set(None, Some(&b), true).is_some(), "a new session");
        let gone = set(Some(&first), None, true).expect("cleared");
        assert!(gone.contains("Max-Age=0"), "{gone}");
        assert_eq!(set(None, None, true), None);
    }
}
