//! What a [`FaultProxy`](super::FaultProxy) is told to do, and what it counted: the
//! settings every connection watches, switched at run time through a [`ProxyHandle`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

/// One direction of a proxied connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the client (e.g. a node) to the upstream (e.g. Redis).
    ToUpstream,
    /// From the upstream back to the client.
    ToClient,
}

/// What the proxy does with connections as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Forward bytes (after any [`Settings::latency`], unless stalled).
    #[default]
    PassThrough,
    /// Accept and read, but forward nothing and answer nothing, in both directions,
    /// on current and new connections. The bytes are lost, so a connection that lost
    /// any is closed when the black hole ends (its stream cannot be trusted any more,
    /// as TCP would reset it); one that lost none goes on, and a connection accepted
    /// during the black hole reaches the upstream only then.
    BlackHole,
    /// Close each new connection as soon as it is accepted; current ones go on.
    Refuse,
}

/// The proxy's settings at one moment (see [`ProxyHandle::settings`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Settings {
    /// What happens to connections as a whole.
    pub mode: Mode,
    /// Bytes towards the upstream are held (read, kept in order, not delivered).
    pub stall_to_upstream: bool,
    /// Bytes towards the client are held.
    pub stall_to_client: bool,
    /// Added to every chunk towards the upstream, from the moment it was read.
    pub latency_to_upstream: Duration,
    /// Added to every chunk towards the client.
    pub latency_to_client: Duration,
    /// Counts [`ProxyHandle::drop_connections`]; a connection closes when it changes.
    pub(super) epoch: u64,
}

impl Settings {
    /// Whether bytes in `direction` are held.
    pub fn stalled(&self, direction: Direction) -> bool {
        match direction {
            Direction::ToUpstream => self.stall_to_upstream,
            Direction::ToClient => self.stall_to_client,
        }
    }

    /// The latency added in `direction`.
    pub fn latency(&self, direction: Direction) -> Duration {
        match direction {
            Direction::ToUpstream => self.latency_to_upstream,
            Direction::ToClient => self.latency_to_client,
        }
    }
}

/// What the proxy counted since it started (see [`ProxyHandle::stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProxyStats {
    /// Connections accepted, refused ones included.
    pub accepted: u64,
    /// Connections closed at once under [`Mode::Refuse`].
    pub refused: u64,
    /// Connections open now.
    pub open: u64,
    /// Connections closed by [`ProxyHandle::drop_connections`].
    pub dropped: u64,
    /// Connections closed because they lost bytes in a black hole.
    pub holed: u64,
    /// Connections whose upstream could not be reached.
    pub upstream_failures: u64,
    /// Bytes delivered to the upstream.
    pub bytes_to_upstream: u64,
    /// Bytes delivered to clients.
    pub bytes_to_client: u64,
    /// Bytes read and thrown away in a black hole.
    pub discarded: u64,
}

/// The live counters behind [`ProxyStats`].
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) accepted: AtomicU64,
    pub(super) refused: AtomicU64,
    pub(super) open: AtomicU64,
    pub(super) dropped: AtomicU64,
    pub(super) holed: AtomicU64,
    pub(super) upstream_failures: AtomicU64,
    pub(super) bytes_to_upstream: AtomicU64,
    pub(super) bytes_to_client: AtomicU64,
    pub(super) discarded: AtomicU64,
}

impl Counters {
    /// Adds `n` to `counter`.
    pub(super) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The counter for bytes delivered in `direction`.
    pub(super) fn delivered(&self, direction: Direction) -> &AtomicU64 {
        match direction {
            Direction::ToUpstream => &self.bytes_to_upstream,
            Direction::ToClient => &self.bytes_to_client,
        }
    }

    fn snapshot(&self) -> ProxyStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ProxyStats {
            accepted: get(&self.accepted),
            refused: get(&self.refused),
            open: get(&self.open),
            dropped: get(&self.dropped),
            holed: get(&self.holed),
            upstream_failures: get(&self.upstream_failures),
            bytes_to_upstream: get(&self.bytes_to_upstream),
            bytes_to_client: get(&self.bytes_to_client),
            discarded: get(&self.discarded),
        }
    }
}

/// Switches a running [`FaultProxy`](super::FaultProxy)'s faults; cheap to clone.
/// Every change applies at once to current and new connections.
#[derive(Debug, Clone)]
pub struct ProxyHandle {
    pub(super) settings: Arc<watch::Sender<Settings>>,
    pub(super) counters: Arc<Counters>,
}

impl ProxyHandle {
    /// The settings now.
    pub fn settings(&self) -> Settings {
        *self.settings.borrow()
    }

    /// What the proxy counted so far.
    pub fn stats(&self) -> ProxyStats {
        self.counters.snapshot()
    }

    /// Clears every fault: pass-through, no stall, no latency. Held bytes are
    /// delivered.
    pub fn pass_through(&self) {
        self.settings.send_modify(|s| {
            *s = Settings {
                epoch: s.epoch,
                ..Settings::default()
            }
        });
    }

    /// Sets the [`Mode`] (stalls and latencies stay as they are).
    pub fn set_mode(&self, mode: Mode) {
        self.settings.send_modify(|s| s.mode = mode);
    }

    /// [`Mode::BlackHole`].
    pub fn black_hole(&self) {
        self.set_mode(Mode::BlackHole);
    }

    /// [`Mode::Refuse`].
    pub fn refuse(&self) {
        self.set_mode(Mode::Refuse);
    }

    /// Holds all bytes in both directions, on current and new connections, until
    /// [`ProxyHandle::unstall`] (or [`ProxyHandle::pass_through`]) delivers them in
    /// order. A client whose bytes are held fills the proxy's queue, then its own
    /// socket buffers, and then waits.
    pub fn stall(&self) {
        self.settings.send_modify(|s| {
            s.stall_to_upstream = true;
            s.stall_to_client = true;
        });
    }

    /// Holds the bytes in one direction only (or, with `stalled: false`, delivers them).
    pub fn stall_direction(&self, direction: Direction, stalled: bool) {
        self.settings.send_modify(|s| match direction {
            Direction::ToUpstream => s.stall_to_upstream = stalled,
            Direction::ToClient => s.stall_to_client = stalled,
        });
    }

    /// Delivers what is held, in both directions, and holds nothing more.
    pub fn unstall(&self) {
        self.settings.send_modify(|s| {
            s.stall_to_upstream = false;
            s.stall_to_client = false;
        });
    }

    /// Adds `latency` to every chunk read in `direction` from now on (zero: none).
    pub fn set_latency(&self, direction: Direction, latency: Duration) {
        self.settings.send_modify(|s| match direction {
            Direction::ToUpstream => s.latency_to_upstream = latency,
            Direction::ToClient => s.latency_to_client = latency,
        });
    }

    /// Closes every current connection (held bytes are lost); new ones are accepted
    /// as the mode says.
    pub fn drop_connections(&self) {
        self.settings
            .send_modify(|s| s.epoch = s.epoch.wrapping_add(1));
    }
}
