//! Reading script replies: flat arrays of status strings, integers and bulk strings.

use std::collections::BTreeMap;
use std::time::Duration;

use fred::types::Value;
use tenure_core::patch::Patch;
use tenure_core::{AttrEntry, Bytes, OwnerId, Snapshot};
use tenure_store::{Hint, PatchedAttr, StoreError};

use crate::hint_code::HintKind;

/// A cursor over one script reply.
#[derive(Debug)]
pub(crate) struct Reply {
    items: std::vec::IntoIter<Value>,
    script: &'static str,
}

impl Reply {
    pub(crate) fn new(value: Value, script: &'static str) -> Result<Self, StoreError> {
        match value {
            Value::Array(items) => Ok(Self {
                items: items.into_iter(),
                script,
            }),
            other => Err(bad(script, &format!("expected an array, got {other:?}"))),
        }
    }

    fn next(&mut self, what: &str) -> Result<Value, StoreError> {
        self.items
            .next()
            .ok_or_else(|| bad(self.script, &format!("reply ended before {what}")))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.len() == 0
    }

    /// How many items are left.
    pub(crate) fn remaining(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn bytes(&mut self, what: &str) -> Result<Bytes, StoreError> {
        let value = self.next(what)?;
        self.string(value, what)
    }

    fn string(&self, value: Value, what: &str) -> Result<Bytes, StoreError> {
        match value {
            Value::Bytes(b) => Ok(b),
            Value::String(s) => Ok(s.into_inner()),
            other => Err(bad(
                self.script,
                &format!("{what}: expected a string, got {other:?}"),
            )),
        }
    }

    /// A string, or nothing where the script answered `false` (nil).
    pub(crate) fn optional_bytes(&mut self, what: &str) -> Result<Option<Bytes>, StoreError> {
        match self.next(what)? {
            Value::Null => Ok(None),
            value => self.string(value, what).map(Some),
        }
    }

    pub(crate) fn text(&mut self, what: &str) -> Result<String, StoreError> {
        let raw = self.bytes(what)?;
        String::from_utf8(raw.to_vec()).map_err(|_| bad(self.script, &format!("{what}: not UTF-8")))
    }

    pub(crate) fn int(&mut self, what: &str) -> Result<u64, StoreError> {
        match self.next(what)? {
            Value::Integer(i) if i >= 0 => Ok(i as u64),
            other => Err(bad(
                self.script,
                &format!("{what}: expected a non-negative integer, got {other:?}"),
            )),
        }
    }

    pub(crate) fn millis(&mut self, what: &str) -> Result<Duration, StoreError> {
        Ok(Duration::from_millis(self.int(what)?))
    }

    /// A duration in ms where 0 means none.
    pub(crate) fn optional_millis(&mut self, what: &str) -> Result<Option<Duration>, StoreError> {
        Ok(Some(self.millis(what)?).filter(|d| !d.is_zero()))
    }

    /// The hint a script asks the caller to send: a [`HintKind`] code (or
    /// [`HintKind::NONE`]) and the owner to send it to.
    pub(crate) fn hint(
        &mut self,
        sid: &tenure_core::SessionId,
    ) -> Result<Option<(OwnerId, Hint)>, StoreError> {
        let code = self.text("hint kind")?;
        let to = self.text("hint owner")?;
        if code == HintKind::NONE {
            return Ok(None);
        }
        let Some(kind) = HintKind::from_code(&code) else {
            return Err(bad(self.script, &format!("unknown hint kind {code:?}")));
        };
        let hint = kind.hint(sid.clone());
        let owner = OwnerId::new(&to).map_err(|e| bad(self.script, &format!("hint owner: {e}")))?;
        Ok(Some((owner, hint)))
    }

    /// The rest of the reply as (name, value, version) triples.
    pub(crate) fn snapshot(mut self, version: u64) -> Result<Snapshot, StoreError> {
        let mut attrs = BTreeMap::new();
        while !self.is_empty() {
            let name = self.text("attribute name")?;
            let value = self.bytes("attribute value")?;
            let version = self.int("attribute version")?;
            attrs.insert(name, AttrEntry { value, version });
        }
        Ok(Snapshot { version, attrs })
    }

    /// The rest of a partial grant's reply as (name, value, version) triples, where
    /// the value may be an array of patches that make it from the copy's.
    pub(crate) fn partial(
        mut self,
        version: u64,
    ) -> Result<(Snapshot, Vec<PatchedAttr>), StoreError> {
        let mut attrs = BTreeMap::new();
        let mut patched = Vec::new();
        while !self.is_empty() {
            let name = self.text("attribute name")?;
            match self.next("attribute value")? {
                Value::Array(items) => {
                    let patches = items
                        .into_iter()
                        .map(|p| self.string(p, "patch").map(Patch::from_bytes))
                        .collect::<Result<Vec<_>, _>>()?;
                    let version = self.int("attribute version")?;
                    patched.push(PatchedAttr {
                        name,
                        patches,
                        version,
                    });
                }
                value => {
                    let value = self.string(value, "attribute value")?;
                    let version = self.int("attribute version")?;
                    attrs.insert(name, AttrEntry { value, version });
                }
            }
        }
        Ok((Snapshot { version, attrs }, patched))
    }

    /// A count, then that many names.
    pub(crate) fn names(&mut self, what: &str) -> Result<Vec<String>, StoreError> {
        let n = self.int(&format!("{what} count"))?;
        if n > self.items.len() as u64 {
            return Err(bad(
                self.script,
                &format!("{what}: {n} names announced, fewer sent"),
            ));
        }
        (0..n).map(|_| self.text(what)).collect()
    }

    /// The rest of the reply as owner ids.
    pub(crate) fn owners(mut self) -> Result<Vec<OwnerId>, StoreError> {
        let mut out = Vec::new();
        while !self.is_empty() {
            let text = self.text("owner")?;
            out.push(OwnerId::new(&text).map_err(|e| bad(self.script, &format!("owner: {e}")))?);
        }
        Ok(out)
    }

    /// The rest of the reply as strings.
    pub(crate) fn texts(mut self, what: &str) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        while !self.is_empty() {
            out.push(self.text(what)?);
        }
        Ok(out)
    }
}

pub(crate) fn bad(script: &str, msg: &str) -> StoreError {
    StoreError::Protocol(format!("redis script `{script}`: {msg}"))
}

/// Sorts a client error: unreachable or slow servers are worth retrying, the rest not.
pub(crate) fn client_error(e: fred::error::Error) -> StoreError {
    use fred::error::ErrorKind as K;
    match e.kind() {
        K::IO | K::Timeout | K::Canceled | K::Backpressure | K::Routing | K::Cluster => {
            StoreError::Unavailable(e.to_string())
        }
        // No connection to send it on while the client reconnects: nothing was sent.
        K::Unknown if e.details().starts_with("Failed to route command") => {
            StoreError::Unavailable(e.to_string())
        }
        _ if e.details().starts_with("CLUSTERDOWN")
            || e.details().starts_with("LOADING")
            || e.details().starts_with("TRYAGAIN")
            || e.details().starts_with("BUSY") =>
        {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Backend(Box::new(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fred::error::{Error, ErrorKind};

    #[test]
    fn errors_while_reconnecting_are_transient() {
        let no_route = Error::new(ErrorKind::Unknown, "Failed to route command.");
        assert!(client_error(no_route).is_transient());
        assert!(client_error(Error::new(ErrorKind::Timeout, "slow")).is_transient());
        assert!(client_error(Error::new(ErrorKind::IO, "reset")).is_transient());
        let script = Error::new(ErrorKind::Unknown, "ERR tenure: bad acquire");
        assert!(!client_error(script).is_transient());
    }
}
