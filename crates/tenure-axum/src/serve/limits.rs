//! [`ServerLimits`]: how long a client may take, and how many may be connected.

use std::time::Duration;

/// Most connections by default, whatever the file limit.
const MAX_CONNECTIONS_CAP: usize = 10_000;

/// The file limit assumed where it cannot be read (outside Linux): the usual soft
/// limit of a shell.
const ASSUMED_FILE_LIMIT: u64 = 1_024;

/// What [`serve`](super::serve) allows a client, so that slow or idle clients cannot
/// hold a server's connections or files.
///
/// | limit | default | what happens past it |
/// |---|---|---|
/// | [`header_read_timeout`](Self::header_read_timeout) | 10 s | the connection is closed |
/// | [`idle_timeout`](Self::idle_timeout) | 60 s | the idle keep-alive connection is closed |
/// | [`body_read_timeout`](Self::body_read_timeout) | 30 s | the handler reads an error, the client gets `408` and the connection is closed |
/// | [`max_connections`](Self::max_connections) | ¾ of the soft file limit, at most 10,000 | new connections wait in the listen backlog until one closes |
/// | [`shutdown_timeout`](Self::shutdown_timeout) | 10 s | requests still running at shutdown are cut off |
/// | [`drain_linger`](Self::drain_linger) | 1 s | idle connections are closed at shutdown |
///
/// The connection bound sits below the file limit so that the files a server also
/// needs (its store's connections, logs) stay available and a new client is
/// answered once the timeouts shed slow ones.
///
/// ```
/// use std::time::Duration;
/// use tenure_axum::serve::ServerLimits;
///
/// let limits = ServerLimits::new()
///     .header_read_timeout(Duration::from_secs(5))
///     .max_connections(2_000);
/// assert_eq!(limits.header_read(), Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLimits {
    header_read: Duration,
    idle: Duration,
    body_read: Duration,
    max_connections: usize,
    shutdown: Duration,
    linger: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            idle: Duration::from_secs(60),
            body_read: Duration::from_secs(30),
            max_connections: default_max_connections(),
            shutdown: Duration::from_secs(10),
            linger: Duration::from_secs(1),
        }
    }
}

impl ServerLimits {
    /// The defaults (see the table above).
    pub fn new() -> Self {
        Self::default()
    }

    /// Longest a client may take to send a request's line and headers, counted from
    /// the connection's start for its first request and from the first byte for a
    /// later one on a keep-alive connection. A client that connects and sends
    /// nothing is closed after this too.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read = timeout;
        self
    }

    /// Longest a keep-alive connection may stay open between two requests.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle = timeout;
        self
    }

    /// Longest a request's body may take to arrive, counted from the handler's first
    /// read of it (a handler that never reads the body is never cut off by it).
    pub fn body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_read = timeout;
        self
    }

    /// Most connections served at once (at least 1).
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// At shutdown, how long requests in flight may take to finish before their
    /// connections are cut.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown = timeout;
        self
    }

    /// At shutdown, how long an idle keep-alive connection is kept open. A proxy in
    /// front (such as `tenure route`) may be about to send a request on it: within
    /// the linger that request is served (with `Connection: close`) instead of
    /// meeting a reset it could not safely retry; by the end the proxy has seen the
    /// refused connections and stopped choosing this server. Zero closes idle
    /// connections at once.
    pub fn drain_linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }

    /// See [`header_read_timeout`](Self::header_read_timeout).
    pub fn header_read(&self) -> Duration {
        self.header_read
    }

    /// See [`idle_timeout`](Self::idle_timeout).
    pub fn idle(&self) -> Duration {
        self.idle
    }

    /// See [`body_read_timeout`](Self::body_read_timeout).
    pub fn body_read(&self) -> Duration {
        self.body_read
    }

    /// See [`max_connections`](Self::max_connections).
    pub fn connections(&self) -> usize {
        self.max_connections
    }

    /// See [`shutdown_timeout`](Self::shutdown_timeout).
    pub fn shutdown(&self) -> Duration {
        self.shutdown
    }

    /// See [`drain_linger`](Self::drain_linger).
    pub fn linger(&self) -> Duration {
        self.linger
    }
}

/// Three quarters of the soft file limit, at most 10,000: the other
/// quarter stays for the store's connections and everything else a process opens.
pub fn default_max_connections() -> usize {
    let limit = file_limit().unwrap_or(ASSUMED_FILE_LIMIT);
    let three_quarters = usize::try_from(limit / 4 * 3).unwrap_or(MAX_CONNECTIONS_CAP);
    three_quarters.clamp(1, MAX_CONNECTIONS_CAP)
}

/// The soft limit on open files (`RLIMIT_NOFILE`), where it can be read without
/// `unsafe` (Linux's `/proc/self/limits`).
pub fn file_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_file_limit(&text)
}

fn parse_file_limit(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()?;
    // "unlimited" does not occur for files on Linux; treat it as no information.
    soft.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_file_limit_is_read_from_proc_limits() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \n\
                    Max cpu time              unlimited            unlimited            seconds   \n\
                    Max open files            256                  4096                 files     \n";
        assert_eq!(parse_file_limit(text), Some(256));
        assert_eq!(parse_file_limit("nothing here"), None);
    }

    #[test]
    fn the_default_bound_stays_below_the_file_limit() {
        let max = default_max_connections() as u64;
        assert!(max >= 1 && max <= MAX_CONNECTIONS_CAP as u64);
        if let Some(limit) = file_limit() {
            assert!(max < limit, "{max} connections, file limit {limit}");
        }
    }

    #[test]
    fn at_least_one_connection() {
        assert_eq!(ServerLimits::new().max_connections(0).connections(), 1);
    }
}
