//! How a request reaches its attributes: attaching on first use, locking writes,
//! reading through its own changes, and working out its write set at the end.

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tenure_core::{Bytes, Codec, Comparison, WriteScope};

use std::time::SystemTime;

use crate::expiry::{reserved, SessionExpiry, EXPIRY_ATTR};
use crate::session::backing::Backing;
use crate::session::slots::{Shared, Slot, SlotError};
use crate::session::Session;
use crate::tenure::held::Rewrite;
use crate::SessionError;

impl<C: Codec> Session<C> {
    pub(super) fn decode<T: DeserializeOwned>(
        &self,
        name: &str,
        bytes: &[u8],
    ) -> Result<T, SessionError> {
        self.node
            .codec
            .decode(bytes)
            .map_err(|source| SessionError::Decode {
                attr: name.to_string(),
                source,
            })
    }

    /// Notes how a change to `name` is to be written: the key's choice, else the
    /// node's default. The last key this request used for it decides.
    pub(super) fn compare(&mut self, name: &str, chosen: Option<Comparison>) {
        if chosen.unwrap_or(self.node.config.comparison) == Comparison::Structural {
            self.structural.insert(name.to_string());
        } else {
            self.structural.remove(name);
        }
    }

    /// The first use of the handle: find the session (held, loaded or new).
    pub(super) async fn attach(&mut self) -> Result<&mut Backing, SessionError> {
        if self.finished {
            return Err(SessionError::Ended);
        }
        if self.backing.is_none() {
            let mut backing =
                Backing::attach(&self.node, self.id.as_ref(), self.req, self.forwarded).await?;
            if self
                .own_expiry(&backing)
                .is_some_and(|e| e.ended(SystemTime::now()))
            {
                // Past the date it chose: ended for every request, as an expired
                // session is; the store may still hold its bytes until its timeout.
                backing.delete(&self.node, self.id.as_ref()).await?;
            }
            if matches!(backing, Backing::New) {
                self.id = None;
            }
            self.backing = Some(backing);
        }
        self.backing.as_mut().ok_or(SessionError::Ended)
    }

    /// The expiry the session chose, as stored.
    fn own_expiry(&self, backing: &Backing) -> Option<SessionExpiry> {
        let bytes = backing.value(EXPIRY_ATTR)?;
        self.decode(EXPIRY_ATTR, &bytes).ok()
    }

    /// Checks the name, attaches, and (for a write) locks the attribute.
    pub(super) async fn prepare(&mut self, name: &str, write: bool) -> Result<(), SessionError> {
        // Reserved names hold a control character, which `check_name` refuses: only
        // Tenure itself reaches them.
        if !reserved(name) {
            self.node.config.limits.check_name(name)?;
        }
        let node = self.node.clone();
        let backing = self.attach().await?;
        backing.ready(&node).await?;
        if write {
            backing.lock(&node, name).await?;
            // The wait for the lock may have let a commit go into doubt (I16).
            backing.ready(&node).await?;
        }
        Ok(())
    }

    /// The attribute's bytes at the session (without this request's changes).
    pub(super) fn base(&self, name: &str) -> Option<Bytes> {
        self.backing.as_ref().and_then(|b| b.value(name))
    }

    /// The attribute as this request sees it: its own changes, else `base`.
    pub(super) fn view(
        &self,
        name: &str,
        base: Option<Bytes>,
    ) -> Result<Option<Bytes>, SessionError> {
        match self.slots.get(name) {
            Some(slot) => slot.encode(&self.node.codec).map_err(|e| slot_err(name, e)),
            None => Ok(match self.tracker.written(name) {
                Some(written) => written.clone(),
                None => base,
            }),
        }
    }

    /// Locks `name` and makes sure `slots[name]` holds a `Slot<T>` (inserting `init()`
    /// if given and the attribute is absent); answers the slot's value.
    pub(super) async fn take_slot<T>(
        &mut self,
        name: &str,
        init: Option<impl FnOnce() -> T>,
    ) -> Result<Shared<T>, SessionError>
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        self.prepare(name, true).await?;
        let shared = match self.typed_slot::<T>(name) {
            Some(shared) => shared,
            None => {
                // Under the exclusive lock: this is the latest value, and the
                // benchmark the end compares against.
                let base = self.base(name);
                self.tracker.take_mut(name, base.as_ref());
                let view = self.view(name, base)?;
                let value: Option<T> = view.map(|b| self.decode(name, &b)).transpose()?;
                let shared: Shared<T> = Shared::new(tokio::sync::Mutex::new(value));
                self.slots
                    .insert(name.to_string(), Box::new(Slot(shared.clone())));
                shared
            }
        };
        if let Some(init) = init {
            let mut value = shared.try_lock().map_err(|_| borrowed(name))?;
            if value.is_none() {
                *value = Some(init());
            }
        }
        Ok(shared)
    }

    fn typed_slot<T: 'static>(&self, name: &str) -> Option<Shared<T>> {
        self.slots
            .get(name)
            .and_then(|s| s.as_any().downcast_ref::<Slot<T>>())
            .map(|s| s.0.clone())
    }

    /// The value of a slot this handle alone owns, for `&mut` access through it.
    pub(super) fn exclusive_slot<T: 'static>(
        &mut self,
        name: &str,
        shared: Shared<T>,
    ) -> Result<&mut Option<T>, SessionError> {
        drop(shared);
        self.slots
            .get_mut(name)
            .and_then(|s| s.as_any_mut().downcast_mut::<Slot<T>>())
            .and_then(|s| std::sync::Arc::get_mut(&mut s.0))
            .map(tokio::sync::Mutex::get_mut)
            .ok_or_else(|| borrowed(name))
    }

    /// Removes `name`; answers the bytes it had as this request saw them.
    pub(super) async fn take_out(&mut self, name: &str) -> Result<Option<Bytes>, SessionError> {
        self.prepare(name, true).await?;
        let old = self.view(name, self.base(name))?;
        self.replace(name, None)?;
        Ok(old)
    }

    /// Records a write of `name` (`None`: removal), dropping a value taken mutably,
    /// unless a guard on it is alive: its change would be lost without a word.
    pub(super) fn replace(&mut self, name: &str, value: Option<Bytes>) -> Result<(), SessionError> {
        if self.slots.get(name).is_some_and(|s| s.borrowed()) {
            return Err(borrowed(name));
        }
        self.slots.remove(name);
        self.tracker.write(name, value);
        Ok(())
    }

    /// The attributes present as this request sees them.
    pub(super) async fn present(&mut self) -> Result<Vec<String>, SessionError> {
        let mut names = self.attach().await?.names();
        names.extend(self.tracker.accessed().map(|(n, _)| n.to_string()));
        names.sort();
        names.dedup();
        names.retain(|n| !reserved(n));
        let mut present = Vec::new();
        for name in names {
            // A guard is only handed out for a value that exists (and cannot empty
            // it): a borrowed attribute is present.
            let borrowed = self.slots.get(&name).is_some_and(|s| s.borrowed());
            if borrowed || self.view(&name, self.base(&name))?.is_some() {
                present.push(name);
            }
        }
        Ok(present)
    }

    /// The request's write set, per the node's write scope, and what a held session
    /// must write back unchanged.
    pub(super) fn changes(
        &self,
        backing: &Backing,
    ) -> Result<(Vec<(String, Option<Bytes>)>, Rewrite), SessionError> {
        let mut reencoded: HashMap<&str, Option<Bytes>> = HashMap::new();
        for (name, slot) in &self.slots {
            let bytes = slot
                .encode(&self.node.codec)
                .map_err(|e| slot_err(name, e))?;
            if let Some(b) = &bytes {
                self.node.config.limits.check_value(name, b.len())?;
            }
            reencoded.insert(name, bytes);
        }
        let scope = self.node.config.write_scope;
        let held = matches!(backing, Backing::Held(_));
        if held && scope != WriteScope::Modified {
            // A held session writes unchanged attributes back with their *current*
            // values, marked at apply time: copying what this request read could
            // overwrite a newer value another request wrote since (reads take no lock).
            let changes = self
                .tracker
                .changes(WriteScope::Modified, |n| reencoded.remove(n));
            let rewrite = match scope {
                WriteScope::Whole => Rewrite::All,
                _ => Rewrite::These(
                    self.tracker
                        .accessed()
                        .filter(|(n, _)| !changes.iter().any(|(c, _)| c == n))
                        .map(|(n, _)| n.to_string())
                        .collect(),
                ),
            };
            return Ok((changes, rewrite));
        }
        let mut changes = self.tracker.changes(scope, |name| reencoded.remove(name));
        if scope == WriteScope::Whole {
            if let Backing::Loaded(loaded) = backing {
                for (name, value) in loaded.whole() {
                    if self.tracker.access(&name).is_none() {
                        changes.push((name, Some(value)));
                    }
                }
            }
        }
        Ok((changes, Rewrite::Nothing))
    }
}

fn borrowed(name: &str) -> SessionError {
    SessionError::Borrowed {
        attr: name.to_string(),
    }
}

fn slot_err(name: &str, e: SlotError) -> SessionError {
    match e {
        SlotError::Borrowed => borrowed(name),
        SlotError::Encode(source) => encode_err(name, source),
    }
}

pub(super) fn encode_err(name: &str, source: tenure_core::EncodeError) -> SessionError {
    SessionError::Encode {
        attr: name.to_string(),
        source,
    }
}
