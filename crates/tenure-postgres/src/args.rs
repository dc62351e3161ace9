//! Protocol values as the functions' parameters: durations in milliseconds, counters
//! as `bigint`, a delta as parallel arrays.

use std::borrow::Cow;
use std::time::Duration;

use tenure_core::{Change, Delta, Expect, SessionId};
use tenure_store::{Fence, StoreError};

use crate::names::to_pg;

/// The longest duration sent, 100 years: longer means "never" to every timeout, and
/// keeps `now() + d` far inside PostgreSQL's timestamp range.
const MAX_MS: u128 = 100 * 365 * 24 * 3600 * 1000;

/// `d` in whole milliseconds, capped at [`MAX_MS`].
pub(crate) fn ms(d: Duration) -> i64 {
    // In range: MAX_MS is far below i64::MAX.
    d.as_millis().min(MAX_MS) as i64
}

/// A counter (fence, commit id, version) as `bigint`: one too large is an error, not
/// a wrapped value.
pub(crate) fn counter(what: &str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value)
        .map_err(|_| StoreError::Protocol(format!("{what} {value} does not fit a bigint")))
}

/// A delta's operations and settings as the commit functions take them.
#[derive(Debug)]
pub(crate) struct DeltaArgs<'a> {
    pub(crate) names: Vec<Cow<'a, str>>,
    /// `None` removes the attribute.
    pub(crate) values: Vec<Option<&'a [u8]>>,
    /// 0 any, 1 absent, 2 at the version in `expect_versions`.
    pub(crate) expect: Vec<i16>,
    pub(crate) expect_versions: Vec<Option<i64>>,
    /// Whether `values[i]` is a patch of the stored value; `None` when none is.
    pub(crate) patch: Option<Vec<bool>>,
    pub(crate) replace_all: bool,
    pub(crate) set_expiry: bool,
    pub(crate) idle_ms: Option<i64>,
    pub(crate) absolute_ms: Option<i64>,
}

impl<'a> DeltaArgs<'a> {
    /// The arrays for `delta`, names as stored ([`names`](crate::names)).
    pub(crate) fn of(delta: &'a Delta) -> Result<Self, StoreError> {
        let n = delta.ops.len();
        let mut args = DeltaArgs {
            names: Vec::with_capacity(n),
            values: Vec::with_capacity(n),
            expect: Vec::with_capacity(n),
            expect_versions: Vec::with_capacity(n),
            patch: delta.has_patches().then(|| Vec::with_capacity(n)),
            replace_all: delta.replace_all,
            set_expiry: delta.expiry.is_some(),
            idle_ms: delta.expiry.and_then(|e| e.idle).map(ms),
            absolute_ms: delta.expiry.and_then(|e| e.absolute).map(ms),
        };
        for op in &delta.ops {
            args.names.push(to_pg(&op.name));
            args.values.push(match &op.change {
                Change::Set(value) => Some(value.as_ref()),
                Change::Remove => None,
                Change::Patch { patch, .. } => Some(patch.as_bytes().as_ref()),
            });
            if let Some(patch) = &mut args.patch {
                patch.push(matches!(op.change, Change::Patch { .. }));
            }
            let (kind, version) = match op.expect {
                Expect::Any => (0, None),
                Expect::Absent => (1, None),
                // A version no bigint holds is one no attribute has: a conflict.
                Expect::Version(v) => (2, Some(i64::try_from(v).unwrap_or(-1))),
            };
            args.expect.push(kind);
            args.expect_versions.push(version);
        }
        Ok(args)
    }
}

/// A batch's session ids and fences as two arrays. A fence no bigint holds was never
/// granted: -1 matches no lock.
pub(crate) fn sessions_and_fences<'a>(
    items: impl Iterator<Item = (&'a SessionId, Fence)>,
) -> (Vec<&'a str>, Vec<i64>) {
    items
        .map(|(sid, fence)| (sid.as_str(), i64::try_from(fence.0).unwrap_or(-1)))
        .unzip()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tenure_core::{Bytes, Expiry};

    #[test]
    fn a_delta_becomes_parallel_arrays() {
        let mut delta = Delta::default();
        delta.set("a", Bytes::from_static(b"1"));
        delta.push("b", Change::Remove, Expect::Version(7));
        delta.push("c", Change::Set(Bytes::new()), Expect::Absent);
        delta.expiry = Some(Expiry::idle(Duration::from_secs(2)));
        let args = DeltaArgs::of(&delta).unwrap();
        assert_eq!(args.names, ["a", "b", "c"]);
        assert_eq!(args.values, [Some(&b"1"[..]), None, Some(&b""[..])]);
        assert_eq!(args.expect, [0, 2, 1]);
        assert_eq!(args.expect_versions, [None, Some(7), None]);
        assert!(args.set_expiry);
        assert_eq!((args.idle_ms, args.absolute_ms), (Some(2000), None));
    }

    #[test]
    fn what_postgres_cannot_hold_is_refused_or_capped() {
        let mut delta = Delta::default();
        delta.set("a\0b", Bytes::new());
        assert_eq!(DeltaArgs::of(&delta).unwrap().names, ["a\u{FFFE}0b"]);
        assert!(counter("fence", u64::MAX).is_err());
        assert_eq!(counter("fence", 5).unwrap(), 5);
        assert_eq!(ms(Duration::MAX), MAX_MS as i64);
        let mut delta = Delta::default();
        delta.push("x", Change::Remove, Expect::Version(u64::MAX));
        assert_eq!(DeltaArgs::of(&delta).unwrap().expect_versions, [Some(-1)]);
    }
}
