//! The per-slot work of a Redis Cluster (issue 15): the slot pass, which answers the
//! principal index's asks (`directory.rs`) and runs the slot's expiry pass, and the
//! moving of each slot's event outbox into the cluster's one event log
//! (`scripts/log.lua`).
//!
//! Which slots are visited, and when:
//! - after an operation that wrote an event, its slot is marked pending, and after one
//!   that gave a session a deadline, the slot's expiry pass is scheduled no later than
//!   it (`schedule.lua`, one call after the operation's script; lost with a crash in
//!   between, when the round robin below finds the slot instead);
//! - each `events` read and each `maintain` first takes the pending and the due slots
//!   (`take.lua`) and visits them, so an event written before the read is in it, and
//!   an untouched session's expiry is reported at the first read or pass after its
//!   keys' deadline;
//! - each `maintain` then visits the next `RedisConfig::slot_pass` slots in turn (every
//!   slot in about 5 minutes with one node at the defaults), the backstop for all of
//!   the above.

use std::sync::atomic::Ordering;
use std::time::Duration;

use fred::types::Value;
use futures::stream::{self, StreamExt};
use tenure_core::{Delta, SessionId, PRINCIPAL_ATTR};
use tenure_store::{Expiry, StoreError};

use crate::connection::RedisStore;
use crate::directory;
use crate::keys::{outbox, slot_key, ClusterLog};
use crate::scripts::{MoveKeys, OutboxKeys, ScheduleKeys, SlotKeys};
use crate::slot_tags::{tag_of_slot, SLOTS};

/// Sessions one slot's expiry pass looks at, and principals whose horizon it moves
/// on, at most.
const PER_SLOT: usize = 100;

/// Outbox entries one move reads at a time.
const MOVE_BATCH: usize = 1000;

/// Pending and due slots one read or pass takes, at most, of each.
const TAKE: usize = 1000;

/// Slot calls of one pass under way at once.
const IN_FLIGHT: usize = 16;

/// After an operation on `sid` that wrote an event (`event`) or gave the session a
/// deadline `deadline` from now: marks and schedules its slot (see the module's
/// header). Does nothing on one server. A failure here loses no event (the round
/// robin visits every slot), so it is logged and not answered to the caller, whose
/// operation did happen.
pub(crate) async fn after_op(
    store: &RedisStore,
    sid: &SessionId,
    event: bool,
    deadline: Option<Duration>,
) {
    if !store.is_clustered() || (!event && deadline.is_none()) {
        return;
    }
    let tag = store.keys(sid).slot_tag();
    if let Err(e) = schedule(store, tag, event, deadline).await {
        tracing::debug!(error = %e, "slot not marked for the event log; the slot pass will find it");
    }
}

/// What a commit of `delta` may put in the log (an event where it touches the
/// principal, writes the session whole or changes its timeouts) and the deadline to
/// schedule (with new timeouts: at once, so the visit reads the session's own).
pub(crate) fn commit_marks(delta: &Delta) -> (bool, Option<Duration>) {
    let timeouts = delta.expiry.is_some();
    let event =
        timeouts || delta.replace_all || delta.ops.iter().any(|op| op.name == PRINCIPAL_ATTR);
    let due = delta
        .expiry
        .is_some_and(|e| e.idle.is_some() || e.absolute.is_some());
    (event, due.then_some(Duration::from_millis(1)))
}

/// The deadline of a session created now with `expiry`.
pub(crate) fn created_deadline(expiry: Expiry) -> Option<Duration> {
    match (expiry.idle, expiry.absolute) {
        (Some(i), Some(a)) => Some(i.min(a)),
        (one, other) => one.or(other),
    }
}

/// The deadline to schedule for a session moved to a new id with these timeouts (ms,
/// 0 none): at once, so the visit reads the session's own.
pub(crate) fn moved_deadline(idle: u64, absolute: u64) -> Option<Duration> {
    (idle > 0 || absolute > 0).then_some(Duration::from_millis(1))
}

async fn schedule(
    store: &RedisStore,
    tag: &str,
    event: bool,
    deadline: Option<Duration>,
) -> Result<(), StoreError> {
    let log = ClusterLog::new(store.prefix());
    let ahead = deadline.map_or(0, |d| d.as_millis().clamp(1, i64::MAX as u128) as i64);
    let args = vec![
        Value::from(store.prefix()),
        Value::from(tag),
        Value::from(i64::from(event)),
        Value::from(ahead),
    ];
    store
        .scripts()
        .schedule
        .call(store.client(), ScheduleKeys(log.pending, log.due), args)
        .await
        .map(|_| ())
}

/// Visits the pending and the due slots: the first step of every `events` read and
/// `maintain` on a cluster.
pub(crate) async fn catch_up(store: &RedisStore) -> Result<(), StoreError> {
    let log = ClusterLog::new(store.prefix());
    let args = vec![Value::from(store.prefix()), Value::from(TAKE as i64)];
    let mut reply = store
        .scripts()
        .take
        .run(store.client(), ScheduleKeys(log.pending, log.due), args)
        .await?;
    let pending = reply.int("pending count")?;
    let mut moves = Vec::new();
    for _ in 0..pending {
        moves.push(reply.text("pending slot")?);
    }
    let mut due = Vec::new();
    while !reply.is_empty() {
        due.push(reply.text("due slot")?);
    }
    // A slot both pending and due is moved by its visit.
    moves.retain(|t| !due.contains(t));
    let moved: Vec<_> = moves.iter().map(|tag| move_outbox(store, tag)).collect();
    let moved: Vec<_> = stream::iter(moved).buffered(IN_FLIGHT).collect().await;
    let visited: Vec<_> = due.iter().map(|tag| visit(store, tag)).collect();
    let visited: Vec<_> = stream::iter(visited).buffered(IN_FLIGHT).collect().await;
    // A slot taken and not done is marked again, so the next read does it rather than
    // the round robin.
    let mut first_error = Ok(());
    let failed = moves.iter().zip(moved).chain(due.iter().zip(visited));
    for (tag, result) in failed {
        if let Err(e) = result {
            let _ = schedule(store, tag, true, Some(Duration::from_millis(1))).await;
            if first_error.is_ok() {
                first_error = Err(e);
            }
        }
    }
    first_error
}

/// `Store::maintain` on a cluster: the pending and due slots, then the next
/// `slot_pass` slots in turn (from where this handle's last pass ended; each handle
/// starts at a random slot, so nodes share the work).
pub(crate) async fn maintain(store: &RedisStore) -> Result<(), StoreError> {
    // The round robin runs whatever the first step met: it is the backstop.
    let caught_up = catch_up(store).await;
    let count = store.config().slot_pass.clamp(1, SLOTS);
    let start = store.slot_cursor().fetch_add(count, Ordering::Relaxed);
    let slots = (start..start + count).map(|slot| visit(store, tag_of_slot(slot)));
    let results: Vec<_> = stream::iter(slots).buffered(IN_FLIGHT).collect().await;
    caught_up?;
    results.into_iter().collect()
}

/// One slot: its expiry pass and the index's asks (`slot_pass.lua`), its next expiry
/// scheduled, and its outbox moved if it holds anything.
async fn visit(store: &RedisStore, tag: &str) -> Result<(), StoreError> {
    let args = vec![Value::from(store.prefix()), Value::from(PER_SLOT as i64)];
    let mut reply = store
        .scripts()
        .slot_pass
        .run(
            store.client(),
            SlotKeys(slot_key(store.prefix(), tag)),
            args,
        )
        .await?;
    let outbox_len = reply.int("outbox length")?;
    let next = reply.text("next deadline")?;
    directory::answer_asks(store, tag, &mut reply).await?;
    if let Ok(ms) = next.parse::<u64>() {
        schedule(store, tag, false, Some(Duration::from_millis(ms.max(1)))).await?;
    }
    if outbox_len > 0 {
        move_outbox(store, tag).await?;
    }
    Ok(())
}

/// Moves the slot's outbox into the log (`move.lua`), then trims what was moved.
async fn move_outbox(store: &RedisStore, tag: &str) -> Result<(), StoreError> {
    let log = ClusterLog::new(store.prefix());
    let key = outbox(store.prefix(), tag);
    let mut done = String::new();
    loop {
        let args = vec![
            Value::from(store.prefix()),
            Value::from(done.as_str()),
            Value::from(MOVE_BATCH as i64),
        ];
        let mut read = store
            .scripts()
            .outbox
            .run(store.client(), OutboxKeys(key.clone()), args)
            .await?;
        let n = read.int("entry count")?;
        if n == 0 {
            return Ok(());
        }
        let mut args = vec![Value::from(store.prefix()), Value::from(tag)];
        for _ in 0..n * 4 {
            args.push(Value::Bytes(read.bytes("outbox entry")?));
        }
        let mut moved = store
            .scripts()
            .move_out
            .run(
                store.client(),
                MoveKeys(log.log.clone(), log.moved.clone()),
                args,
            )
            .await?;
        done = moved.text("last moved")?;
    }
}
