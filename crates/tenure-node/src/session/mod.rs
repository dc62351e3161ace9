//! The request-scoped session handle.
//!
//! | file | what it holds |
//! |---|---|
//! | this one | [`Session`]: access tracking, values taken mutably, the write set |
//! | [`backing`] | what backs the request by consistency mode, behind one interface |
//! | [`held`] | the exclusive mode: admitted to a held session, attribute locks |
//! | [`loaded`] | the optimistic and last-writer-wins modes: a per-request load and commit |
//! | [`principal`] | who the session belongs to: [`Session::set_principal`] |
//! | [`slots`] | values taken with `get_mut`, each behind a lock of its own |

mod access;
mod backing;
mod held;
mod loaded;
mod principal;
mod slots;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tenure_core::{AsKey, Bytes, Codec, MessagePack, SessionId, Tracker};
use tokio::sync::OwnedMutexGuard;

use crate::expiry::{SessionExpiry, EXPIRY_ATTR};
use crate::inner::NodeInner;
use crate::locks::ReqId;
use crate::SessionError;
use access::encode_err;
use backing::Backing;
use slots::MutSlot;

/// What [`Session::end`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndReport {
    /// The session's id after the request; `None` if no session exists (nothing was
    /// ever stored, or it was deleted). A client should present this id next time.
    pub id: Option<SessionId>,
    /// The request created the session.
    pub created: bool,
    /// Attributes the request changed (its write set).
    pub changed: usize,
    /// The request's changes reached the store before `end` returned.
    pub written: bool,
    /// The request used the session at all (a handle never used asks nothing of the
    /// store, and its `id` is only the presented one, unchecked).
    pub used: bool,
}

/// A guard on one attribute taken with [`Session::get_mut_guard`]: it borrows that
/// attribute only, so the session stays usable while it lives.
pub type AttrGuard<T> = OwnedMutexGuard<Option<T>>;

/// One request's handle on one session.
///
/// Every access is tracked: attributes only read are never written back; attributes
/// taken with [`get_mut`](Self::get_mut) are re-encoded at the end and written only if
/// their bytes changed; [`insert`](Self::insert) and [`remove`](Self::remove) always
/// count.
///
/// **Isolation (exclusive mode).** A `get` takes no lock and never waits: it sees the
/// attribute as the last request that ended left it (or as this request changed it).
/// `get_mut`, `insert` and `remove` take the attribute exclusively until the request
/// ends: `get_mut` always sees the latest value, and no other request changes it until
/// this one is done, so read-modify-write through `get_mut` never loses an update.
/// A request that ended has its changes in the node's memory at once, before the store
/// has them, so the next request does not wait for its commit; instead every request's
/// [`end`](Self::end) waits until the store has every change the request saw, and
/// fails if the commit carrying them fails.
/// A `get` followed by `get_mut` of the same attribute is fine (the `get_mut` sees the
/// latest value, which may be newer than the `get`'s); an `insert` computed from an
/// earlier `get` is a blind write: use `get_mut` to update a value from its current
/// one. Two requests that take two attributes mutably in opposite orders would wait
/// for each other: the second is refused with [`SessionError::Deadlock`].
///
/// Call [`end`](Self::end) when the request is done: it applies the write policy
/// (by default, it returns once the store has the changes). Dropping the handle
/// without `end` discards the request's changes.
pub struct Session<C: Codec = MessagePack> {
    node: Arc<NodeInner<C>>,
    id: Option<SessionId>,
    req: ReqId,
    /// `None` until first used: nothing asked of the store.
    backing: Option<Backing>,
    tracker: Tracker,
    slots: BTreeMap<String, Box<dyn MutSlot<C>>>,
    /// Attributes this request changed through a key that compares structurally (or
    /// while the node's default does): their changes go to the store as patches.
    structural: BTreeSet<String>,
    /// New store timeouts this request set ([`Session::set_expiry`]).
    timeouts: Option<tenure_core::Expiry>,
    finished: bool,
    /// Forwarded here by another node: served only from a copy held here (I19).
    forwarded: bool,
}

impl<C: Codec> fmt::Debug for Session<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field(
                "state",
                &self.backing.as_ref().map_or("unused", Backing::kind),
            )
            .finish_non_exhaustive()
    }
}

impl<C: Codec> Session<C> {
    pub(crate) fn new(node: Arc<NodeInner<C>>, id: Option<SessionId>) -> Self {
        let req = node.next_req();
        Self {
            node,
            id,
            req,
            backing: None,
            tracker: Tracker::default(),
            slots: BTreeMap::new(),
            structural: BTreeSet::new(),
            timeouts: None,
            finished: false,
            forwarded: false,
        }
    }

    /// Marks the request as forwarded here by another node (the HTTP layer does this
    /// for a request with a valid forwarding token): it is served only if this node
    /// holds the session, and its first use answers [`SessionError::NotHere`] instead
    /// of acquiring the session (I19), so a late forward never takes a session from
    /// the node it moved to.
    pub fn set_forwarded(&mut self) {
        self.forwarded = true;
    }

    /// The session's id: the one presented, until the request finds it does not exist
    /// (then `None`), rotates it, or deletes it. A new session gets its id at `end`.
    pub fn id(&self) -> Option<&SessionId> {
        self.id.as_ref()
    }

    /// True once the handle was used, so its [`id`](Self::id) is checked.
    pub fn is_attached(&self) -> bool {
        self.backing.is_some()
    }

    /// True once the request has found that no stored session backs this handle.
    pub fn is_new(&self) -> bool {
        matches!(self.backing, Some(Backing::New))
    }

    /// Reads an attribute. `None` if absent. Never waits for other requests.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use tenure_node::{Node, NodeConfig};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::start(Arc::new(tenure_store::MemoryStore::new()), NodeConfig::default()).await?;
    /// use tenure_core::Key;
    /// const VISITS: Key<u32> = Key::new("visits");
    /// let mut s = node.session(None);
    /// assert_eq!(s.get(&VISITS).await?, None);
    /// s.insert(&VISITS, 1).await?;
    /// assert_eq!(s.get(&VISITS).await?, Some(1));
    /// assert_eq!(s.get::<u32>("visits").await?, Some(1));
    /// # Ok(()) }
    /// ```
    pub async fn get<T: DeserializeOwned>(
        &mut self,
        key: impl AsKey<T>,
    ) -> Result<Option<T>, SessionError> {
        let name = key.name();
        self.prepare(name, false).await?;
        let base = self.base(name);
        self.tracker.read(name, base.as_ref());
        self.view(name, base)?
            .map(|bytes| self.decode(name, &bytes))
            .transpose()
    }

    /// Takes an attribute for in-place mutation. `None` if absent. The value is
    /// re-encoded when the request ends and written only if its bytes changed.
    pub async fn get_mut<T>(&mut self, key: impl AsKey<T>) -> Result<Option<&mut T>, SessionError>
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        let name = key.name();
        self.compare(name, key.comparison());
        let shared = self.take_slot::<T>(name, None::<fn() -> T>).await?;
        Ok(self.exclusive_slot(name, shared)?.as_mut())
    }

    /// Takes an attribute for in-place mutation, inserting `init()` if absent.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use tenure_node::{Node, NodeConfig};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::start(Arc::new(tenure_store::MemoryStore::new()), NodeConfig::default()).await?;
    /// let mut s = node.session(None);
    /// *s.get_mut_or_insert_with("counter", || 0u64).await? += 1;
    /// let id = s.end().await?.id.unwrap();
    /// let mut s = node.session(Some(id));
    /// assert_eq!(s.get::<u64>("counter").await?, Some(1));
    /// # Ok(()) }
    /// ```
    pub async fn get_mut_or_insert_with<T>(
        &mut self,
        key: impl AsKey<T>,
        init: impl FnOnce() -> T,
    ) -> Result<&mut T, SessionError>
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        let name = key.name();
        self.compare(name, key.comparison());
        let shared = self.take_slot::<T>(name, Some(init)).await?;
        self.exclusive_slot(name, shared)?
            .as_mut()
            .ok_or(SessionError::Ended)
    }

    /// Like [`get_mut`](Self::get_mut) (with `init` like
    /// [`get_mut_or_insert_with`](Self::get_mut_or_insert_with)), but answers a guard
    /// that borrows only this attribute, not the handle: for framework integrations
    /// that share one handle between calls. While the guard lives, reading or taking
    /// the same attribute again answers [`SessionError::Borrowed`]; every other
    /// attribute stays usable.
    pub async fn get_mut_guard<T>(
        &mut self,
        key: impl AsKey<T>,
        init: Option<impl FnOnce() -> T>,
    ) -> Result<AttrGuard<T>, SessionError>
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        let name = key.name();
        self.compare(name, key.comparison());
        let shared = self.take_slot::<T>(name, init).await?;
        shared.try_lock_owned().map_err(|_| SessionError::Borrowed {
            attr: name.to_string(),
        })
    }

    /// Sets an attribute.
    pub async fn insert<T: Serialize>(
        &mut self,
        key: impl AsKey<T>,
        value: T,
    ) -> Result<(), SessionError> {
        let name = key.name();
        self.compare(name, key.comparison());
        self.prepare(name, true).await?;
        let bytes = self
            .node
            .codec
            .encode(&value)
            .map_err(|source| encode_err(name, source))?;
        self.node.config.limits.check_value(name, bytes.len())?;
        self.replace(name, Some(Bytes::from(bytes)))
    }

    /// Removes an attribute; answers the value it had (`None` if absent).
    pub async fn remove<T: DeserializeOwned>(
        &mut self,
        key: impl AsKey<T>,
    ) -> Result<Option<T>, SessionError> {
        let name = key.name();
        self.prepare(name, true).await?;
        // Decoded before anything changes: a remove that fails removes nothing.
        let old = self
            .view(name, self.base(name))?
            .map(|bytes| self.decode(name, &bytes))
            .transpose()?;
        self.replace(name, None)?;
        Ok(old)
    }

    /// Removes an attribute without decoding it; true if it was present.
    pub async fn remove_value(&mut self, name: &str) -> Result<bool, SessionError> {
        Ok(self.take_out(name).await?.is_some())
    }

    /// Removes every attribute (the session itself stays, with its id; use
    /// [`delete`](Self::delete) to end it).
    pub async fn clear(&mut self) -> Result<(), SessionError> {
        for name in self.present().await? {
            self.take_out(&name).await?;
        }
        Ok(())
    }

    /// True if the session has no attributes (as this request sees it).
    pub async fn is_empty(&mut self) -> Result<bool, SessionError> {
        Ok(self.present().await?.is_empty())
    }

    /// Chooses how long this session lives (e.g. "remember me" at login), from the
    /// end of this request on: the store's timeouts change in the same commit as the
    /// request's other changes (so a failed request changes neither), and the cookie
    /// follows ([`SessionExpiry`] says how). A new session is created with it.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use tenure_node::{Node, NodeConfig};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::start(Arc::new(tenure_store::MemoryStore::new()), NodeConfig::default()).await?;
    /// use std::time::Duration;
    /// use tenure_node::SessionExpiry;
    /// let mut s = node.session(None);
    /// s.insert("user", "ada".to_string()).await?;
    /// let month = SessionExpiry::OnInactivity(Duration::from_secs(30 * 24 * 3600));
    /// s.set_expiry(month).await?;
    /// assert_eq!(s.expiry(), Some(month));
    /// let id = s.end().await?.id.unwrap();
    /// assert_eq!(node.session(Some(id)).expiry_now().await?, Some(month));
    /// # Ok(()) }
    /// ```
    pub async fn set_expiry(&mut self, expiry: SessionExpiry) -> Result<(), SessionError> {
        self.prepare(EXPIRY_ATTR, true).await?;
        let bytes = self
            .node
            .codec
            .encode(&expiry)
            .map_err(|source| encode_err(EXPIRY_ATTR, source))?;
        self.tracker.write(EXPIRY_ATTR, Some(Bytes::from(bytes)));
        self.timeouts = Some(expiry.timeouts(self.node.config.expiry, SystemTime::now()));
        Ok(())
    }

    /// The session's own expiry as this request sees it, if it has one (set by
    /// [`set_expiry`](Self::set_expiry), in this or an earlier request); `None` for
    /// the node's defaults, or while the handle is unused.
    pub fn expiry(&self) -> Option<SessionExpiry> {
        let bytes = self.view(EXPIRY_ATTR, self.base(EXPIRY_ATTR)).ok()??;
        self.decode(EXPIRY_ATTR, &bytes).ok()
    }

    /// Like [`expiry`](Self::expiry), attaching the handle first.
    pub async fn expiry_now(&mut self) -> Result<Option<SessionExpiry>, SessionError> {
        self.attach().await?;
        Ok(self.expiry())
    }

    /// Whether this request changed the session's expiry.
    pub fn expiry_changed(&self) -> bool {
        self.timeouts.is_some()
    }

    /// Deletes the session at the store (logout). The handle then behaves as a new,
    /// empty session: anything inserted afterwards creates a fresh one at `end`.
    pub async fn delete(&mut self) -> Result<(), SessionError> {
        self.attach().await?;
        if let Some(backing) = &mut self.backing {
            backing.delete(&self.node, self.id.as_ref()).await?;
        }
        self.id = None;
        self.tracker = Tracker::default();
        self.slots.clear();
        self.timeouts = None;
        Ok(())
    }

    /// Gives the session a new id and makes the old one invalid (against session
    /// fixation: call it when the user logs in). Answers the new id; `None` for a
    /// session not stored yet, which gets a fresh id at `end` anyway.
    pub async fn rotate_id(&mut self) -> Result<Option<SessionId>, SessionError> {
        self.attach().await?;
        let Some(backing) = &mut self.backing else {
            return Ok(None);
        };
        let new = backing.rotate(&self.node, self.id.as_ref()).await?;
        if let Some(new) = &new {
            self.id = Some(new.clone());
        }
        Ok(new)
    }

    /// Ends the request: works out what changed, applies the write policy, releases
    /// the request's attribute locks. Under the end-of-request policy it returns
    /// success only once the store has this request's changes and every change of
    /// other requests it read (they may still be on their way when it reads them).
    pub async fn end(mut self) -> Result<EndReport, SessionError> {
        if self.finished {
            return Err(SessionError::Ended);
        }
        self.finished = true;
        let mut report = EndReport {
            id: self.id.clone(),
            ..EndReport::default()
        };
        let Some(backing) = self.backing.take() else {
            return Ok(report);
        };
        report.used = true;
        let (changes, rewrite) = self.changes(&backing)?;
        report.changed = changes.len();
        let structural = std::mem::take(&mut self.structural);
        let ended = backing
            .end(
                &self.node,
                self.id.clone(),
                changes,
                rewrite,
                self.timeouts,
                structural,
            )
            .await?;
        report.id = ended.id;
        report.created = ended.created;
        report.written = ended.written;
        Ok(report)
    }
}
