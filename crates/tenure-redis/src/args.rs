//! Building the scripts' `ARGV`: one builder per script call, in the order the
//! script's header lists its arguments, and the encodings they share (durations in
//! ms, flags as `0`/`1`, a delta's ops).

use std::time::Duration;

use fred::types::Value;
use tenure_core::{Bytes, Change, Delta, Expect, OwnerId, Snapshot};
use tenure_store::{CommitId, Expiry, Fence, Known, Release, Renewal};

/// Durations beyond this many milliseconds (about 100 years) are clamped: they stay
/// exact in Lua's doubles when added to the clock.
const MAX_MS: u64 = 100 * 365 * 24 * 3600 * 1000;

fn text(s: &str) -> Value {
    Value::String(s.into())
}

fn int(n: u64) -> Value {
    Value::Integer(n as i64)
}

fn flag(on: bool) -> Value {
    text(if on { "1" } else { "0" })
}

fn ms(d: Duration) -> Value {
    int(millis(d))
}

/// `d` in ms as the scripts see it (clamped), which is also the lease a grant gives.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).min(MAX_MS)
}

/// A timeout in ms for the scripts, where 0 means none (so a zero timeout is 1 ms).
fn timeout_ms(d: Option<Duration>) -> Value {
    match d {
        None => int(0),
        Some(d) => int(millis(d).max(1)),
    }
}

/// Appends a commit's new timeouts, as the scripts' `read_timeouts` reads them:
/// replace `0`/`1`, then idle and absolute ms (0 none).
fn push_timeouts(args: &mut Vec<Value>, expiry: Option<Expiry>) {
    match expiry {
        None => args.extend([flag(false), int(0), int(0)]),
        Some(e) => args.extend([flag(true), timeout_ms(e.idle), timeout_ms(e.absolute)]),
    }
}

/// Appends a delta's ops as (name, kind `s` set, `r` remove or `p` patch, value or
/// patch[, expect kind, expect version]).
fn push_ops(args: &mut Vec<Value>, delta: &Delta, with_expect: bool) {
    args.push(int(delta.ops.len() as u64));
    for op in &delta.ops {
        args.push(text(&op.name));
        match &op.change {
            Change::Set(value) => {
                args.push(text("s"));
                args.push(Value::Bytes(value.clone()));
            }
            Change::Remove => {
                args.push(text("r"));
                args.push(text(""));
            }
            // The script applies it to the stored bytes (resolve_patches in the prelude).
            Change::Patch { patch, .. } => {
                args.push(text("p"));
                args.push(Value::Bytes(patch.as_bytes().clone()));
            }
        }
        if with_expect {
            match op.expect {
                Expect::Any => args.extend([text("any"), text("0")]),
                Expect::Absent => args.extend([text("absent"), text("0")]),
                Expect::Version(v) => args.extend([text("ver"), int(v)]),
            }
        }
    }
}

/// `live`: the caller keeps a liveness key; `dead`: a holder whose key the caller
/// found gone (I15); `known`: what the caller's copy holds (`acquire_since`), as its
/// version and (name, version) pairs: names and numbers only, never the values.
pub(crate) fn acquire(
    owner: &OwnerId,
    lease: Duration,
    wait: Duration,
    live: bool,
    dead: Option<&OwnerId>,
    known: Option<&Known>,
) -> Vec<Value> {
    let pairs = known.map_or(0, |k| k.attrs.len());
    let mut args = Vec::with_capacity(7 + 2 * pairs);
    args.extend([
        text(owner.as_str()),
        ms(lease),
        ms(wait),
        flag(live),
        text(dead.map_or("", OwnerId::as_str)),
    ]);
    match known {
        None => args.extend([text(""), int(0)]),
        Some(known) => {
            // Lua numbers are doubles, exact below 2^53, which no stored version
            // reaches. A copy's version beyond it still counts as above the
            // session's (so all is sent); an attribute version beyond it becomes 0,
            // which never matches (so that attribute is sent).
            args.extend([int(known.version.min(LUA_EXACT)), int(pairs as u64)]);
            for (name, version) in &known.attrs {
                let version = if *version > LUA_EXACT { 0 } else { *version };
                args.extend([text(name), int(version)]);
            }
        }
    }
    args
}

/// 2^53: every integer up to it is exact in Lua's doubles.
const LUA_EXACT: u64 = 1 << 53;

/// The fixed head of a renewal batch; [`push_renewal`] adds each session.
pub(crate) fn renew(owner: &OwnerId, lease: Duration, sessions: usize) -> Vec<Value> {
    let mut args = Vec::with_capacity(2 + 2 * sessions);
    args.extend([text(owner.as_str()), ms(lease)]);
    args
}

pub(crate) fn push_renewal(args: &mut Vec<Value>, item: &Renewal) {
    args.extend([int(item.fence.0), flag(item.touch)]);
}

/// The fixed head of a release batch; [`push_release`] adds each session.
pub(crate) fn release(owner: &OwnerId, sessions: usize) -> Vec<Value> {
    let mut args = Vec::with_capacity(1 + 2 * sessions);
    args.push(text(owner.as_str()));
    args
}

pub(crate) fn push_release(args: &mut Vec<Value>, item: &Release) {
    args.extend([int(item.fence.0), int(item.id.0)]);
}

/// A commit's scalars packed into its first argument, as `commit.lua` unpacks them:
/// fence and commit id (little-endian doubles, exact below 2^53 as Lua's numbers
/// are), a flags byte (1 release, 2 replace all, 4 new timeouts follow), with 4 the
/// new idle and absolute timeouts in ms (doubles, 0 none), then the owner. One
/// argument instead of eight: a commit is the call sent most, and this saves about
/// 60 bytes of protocol framing and decimal digits on each.
fn commit_head(owner: &OwnerId, fence: Fence, id: CommitId, release: bool, delta: &Delta) -> Bytes {
    let exact = |n: u64| n.min(LUA_EXACT) as f64;
    let mut head = Vec::with_capacity(33 + owner.as_str().len());
    head.extend_from_slice(&exact(fence.0).to_le_bytes());
    head.extend_from_slice(&exact(id.0).to_le_bytes());
    let flags = u8::from(release)
        | u8::from(delta.replace_all) << 1
        | u8::from(delta.expiry.is_some()) << 2;
    head.push(flags);
    if let Some(e) = delta.expiry {
        for t in [e.idle, e.absolute] {
            let ms = t.map_or(0, |d| millis(d).max(1));
            head.extend_from_slice(&(ms as f64).to_le_bytes());
        }
    }
    head.extend_from_slice(owner.as_str().as_bytes());
    Bytes::from(head)
}

pub(crate) fn commit(
    owner: &OwnerId,
    fence: Fence,
    id: CommitId,
    delta: &Delta,
    release: bool,
) -> Vec<Value> {
    let mut args = vec![Value::Bytes(commit_head(owner, fence, id, release, delta))];
    push_ops(&mut args, delta, false);
    args
}

pub(crate) fn optimistic(delta: &Delta) -> Vec<Value> {
    let mut args = vec![flag(delta.replace_all)];
    push_timeouts(&mut args, delta.expiry);
    push_ops(&mut args, delta, true);
    args
}

pub(crate) fn create(
    attrs: Vec<(String, Bytes)>,
    expiry: Expiry,
    tenure: Option<(&OwnerId, Duration)>,
    live: bool,
) -> Vec<Value> {
    let (owner, lease) = match tenure {
        Some((owner, lease)) => (owner.as_str(), lease),
        None => ("", Duration::ZERO),
    };
    let mut args = vec![
        timeout_ms(expiry.idle),
        timeout_ms(expiry.absolute),
        text(owner),
        ms(lease),
        flag(live),
        int(attrs.len() as u64),
    ];
    for (name, value) in attrs {
        args.push(text(&name));
        args.push(Value::Bytes(value));
    }
    args
}

/// `report`: write a `deleted` event (not when a failed rotation takes its copy back).
pub(crate) fn delete(fence_linger: Duration, report: bool) -> Vec<Value> {
    vec![ms(fence_linger), flag(report)]
}

/// `holder` is the caller's tenure, if any; `rotation` the owner the rotation locks
/// an unlocked session as.
pub(crate) fn rotate_out(
    holder: Option<(&OwnerId, Fence)>,
    rotation: &OwnerId,
    rotation_lease: Duration,
) -> Vec<Value> {
    let (h_owner, h_fence) = match holder {
        Some((o, f)) => (o.as_str(), f.0),
        None => ("", 0),
    };
    vec![
        text(h_owner),
        int(h_fence),
        text(rotation.as_str()),
        ms(rotation_lease),
    ]
}

/// What `rotate_out` read of the old id, to be written under the new one.
#[derive(Debug)]
pub(crate) struct Copied {
    /// The owner to leave the new id locked by (`""`: unlocked).
    pub(crate) owner: String,
    /// The owner keeps a liveness key (I15), as its lock on the old id said.
    pub(crate) live: bool,
    pub(crate) lease_left: u64,
    pub(crate) idle: u64,
    pub(crate) absolute: u64,
    pub(crate) age: u64,
    pub(crate) snapshot: Snapshot,
}

pub(crate) fn rotate_in(copied: Copied) -> Vec<Value> {
    let Copied {
        owner,
        live,
        lease_left,
        idle,
        absolute,
        age,
        snapshot,
    } = copied;
    let mut args = vec![
        text(&owner),
        int(lease_left),
        int(snapshot.version),
        int(idle),
        int(absolute),
        int(age),
        flag(live),
        int(snapshot.attrs.len() as u64),
    ];
    for (name, entry) in snapshot.attrs {
        args.push(text(&name));
        args.push(Value::Bytes(entry.value));
        args.push(int(entry.version));
    }
    args
}

/// `finish`: delete the old id (else only unlock it if the rotation locked it).
pub(crate) fn rotate_end(
    lock_owner: &str,
    lock_fence: u64,
    finish: bool,
    fence_linger: Duration,
    rotation: &OwnerId,
    new: &tenure_core::SessionId,
) -> Vec<Value> {
    vec![
        text(lock_owner),
        int(lock_fence),
        flag(finish),
        ms(fence_linger),
        text(rotation.as_str()),
        text(new.as_str()),
    ]
}
