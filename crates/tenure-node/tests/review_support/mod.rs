//! A store wrapper for the review tests: switches that fail commits or keep-alives,
//! hold acquisitions at a gate, and lose `rotate_id` replies, each on its own.
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tenure_core::{Codec, MessagePack, OwnerId, SessionId};
use tenure_store::{MemoryStore, RotateReply, Store, StoreError};
use tenure_test::{Call, Forward, Forwarding};
use tokio::sync::watch;

/// The switches, shared between a test and the wrapper its node uses.
#[derive(Debug)]
pub struct Switches {
    pub fail_commits: AtomicBool,
    pub fail_keep_alive: AtomicBool,
    pub lose_rotate_reply: AtomicBool,
    /// Acquisitions wait here (before they reach the store) while it is closed.
    gate: watch::Sender<bool>,
    pub held_acquires: AtomicUsize,
    /// Keep-alives (not registrations) take this long to reach the store.
    pub keep_alive_delay_ms: AtomicU64,
}

impl Default for Switches {
    fn default() -> Self {
        Self {
            fail_commits: AtomicBool::new(false),
            fail_keep_alive: AtomicBool::new(false),
            lose_rotate_reply: AtomicBool::new(false),
            gate: watch::Sender::new(true),
            held_acquires: AtomicUsize::new(0),
            keep_alive_delay_ms: AtomicU64::new(0),
        }
    }
}

impl Switches {
    pub fn set(flag: &AtomicBool, on: bool) {
        flag.store(on, Ordering::SeqCst);
    }

    /// Closes (`false`) or opens (`true`) the acquire gate.
    pub fn acquires_pass(&self, open: bool) {
        self.gate.send_replace(open);
    }

    pub fn held(&self) -> usize {
        self.held_acquires.load(Ordering::SeqCst)
    }
}

#[derive(Debug)]
pub struct Switched {
    inner: Arc<dyn Store>,
    s: Arc<Switches>,
}

#[async_trait]
impl Forward for Switched {
    fn inner(&self) -> &dyn Store {
        &*self.inner
    }

    async fn before(&self, call: &Call<'_>) -> Result<(), StoreError> {
        match call {
            Call::Commit { .. } if self.s.fail_commits.load(Ordering::SeqCst) => {
                Err(StoreError::Unavailable("review: commits fail".into()))
            }
            Call::KeepAlive {
                register: false, ..
            } if self.s.fail_keep_alive.load(Ordering::SeqCst) => {
                Err(StoreError::Unavailable("review: keep-alives fail".into()))
            }
            Call::KeepAlive {
                register: false, ..
            } if self.s.keep_alive_delay_ms.load(Ordering::SeqCst) > 0 => {
                let ms = self.s.keep_alive_delay_ms.load(Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(())
            }
            Call::Acquire { .. } if !*self.s.gate.borrow() => {
                self.s.held_acquires.fetch_add(1, Ordering::SeqCst);
                let mut rx = self.s.gate.subscribe();
                let _ = rx.wait_for(|open| *open).await;
                self.s.held_acquires.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    async fn rotate_id(
        &self,
        old: &SessionId,
        new: &SessionId,
        holder: Option<(&OwnerId, tenure_store::Fence)>,
    ) -> Result<RotateReply, StoreError> {
        let reply = self.inner.rotate_id(old, new, holder).await;
        if self.s.lose_rotate_reply.swap(false, Ordering::SeqCst) {
            return Err(StoreError::Unavailable(
                "review: rotate_id reply lost".into(),
            ));
        }
        reply
    }
}

/// A memory store, a switched wrapper of it, and the switches.
pub fn switched() -> (MemoryStore, Arc<dyn Store>, Arc<Switches>) {
    let memory = MemoryStore::new();
    let s = Arc::new(Switches::default());
    let store: Arc<dyn Store> = Arc::new(Forwarding(Switched {
        inner: Arc::new(memory.clone()),
        s: s.clone(),
    }));
    (memory, store, s)
}

/// One attribute as stored (no node involved).
pub async fn stored_u64(store: &MemoryStore, id: &SessionId, name: &str) -> Option<u64> {
    let snap = store.load(id).await.expect("load")?;
    snap.value(name)
        .map(|b| MessagePack.decode(b).expect("decodes"))
}

pub const SECOND: Duration = Duration::from_secs(1);

/// The node settings the review tests share.
pub fn config() -> tenure_node::NodeConfig {
    let mut c = tenure_node::NodeConfig::default();
    c.label = "review".into();
    c
}

/// A new session on `node` with `counter = 0`, ended (stored).
pub async fn counter_session(node: &tenure_node::Node) -> SessionId {
    let mut s = node.session(None);
    s.insert("counter", 0u64).await.expect("insert");
    s.end().await.expect("end").id.expect("created")
}
