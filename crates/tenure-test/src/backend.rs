//! Where a backend's tests find their server, and whether they may skip without one.
//!
//! A backend's tests read its URL from an environment variable (`TENURE_REDIS_URL`,
//! `TENURE_REDIS_CLUSTER_URL`, ...). Without one they print "skipped" and pass, unless
//! `TENURE_REQUIRE_BACKENDS=1` (as in `scripts/test` and CI), which makes a missing
//! backend a failure, so nothing is skipped silently.

/// True if `TENURE_REQUIRE_BACKENDS=1`: a missing backend must fail the test.
pub fn backends_required() -> bool {
    std::env::var("TENURE_REQUIRE_BACKENDS").is_ok_and(|v| v == "1")
}

/// The URL in `var`, else `default`; `None` means "skip".
///
/// # Panics
///
/// If neither is set and [`backends_required`].
pub fn backend_url(var: &str, default: Option<&str>) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            let url = default.map(str::to_string);
            assert!(
                url.is_some() || !backends_required(),
                "{var} is not set, and TENURE_REQUIRE_BACKENDS=1 requires it"
            );
            if url.is_none() {
                eprintln!("skipped: {var} is not set");
            }
            url
        }
    }
}
