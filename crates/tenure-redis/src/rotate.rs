//! Id rotation, in three script calls because the two ids live in different cluster
//! slots: lock and read the old id (`rotate_out`), create the new one (`rotate_in`),
//! delete the old one if the lock held throughout, else undo (`rotate_end`). See
//! docs/ARCHITECTURE.md, "Redis".

use tenure_core::{OwnerId, SessionId};
use tenure_store::{Fence, Hint, RotateReply, StoreError};

use crate::args::{self, Copied};
use crate::connection::RedisStore;
use crate::reply::bad;
use crate::scripts::DataKeys;
use crate::{directory, slots};

/// Moves session `old` to id `new`; `holder` is the caller's tenure on `old`, if any.
pub(crate) async fn rotate_id(
    store: &RedisStore,
    old: &SessionId,
    new: &SessionId,
    holder: Option<(&OwnerId, Fence)>,
) -> Result<RotateReply, StoreError> {
    let scripts = store.scripts();
    let client = store.client();
    let config = store.config();
    let rot = OwnerId::generate("rotate").map_err(|e| StoreError::Backend(Box::new(e)))?;
    let argv = args::rotate_out(holder, &rot, config.rotation_lease);
    let old_keys = store.keys(old);
    let mut out = scripts
        .rotate_out
        .run(client, DataKeys::of(&old_keys), argv)
        .await?;
    match out.text("status")?.as_str() {
        "N" => return Ok(RotateReply::NotFound),
        "S" => return Ok(RotateReply::Stale),
        "O" => {}
        other => return Err(bad("rotate_out", &format!("unknown status {other:?}"))),
    }
    let lock_owner = out.text("lock owner")?;
    let lock_fence = out.int("lock fence")?;
    let lease_left = out.int("lease left")?;
    let version = out.int("version")?;
    let idle = out.int("idle")?;
    let absolute = out.int("absolute")?;
    let age = out.int("age")?;
    let snapshot = out.snapshot(version)?;
    let by_caller = lock_owner != rot.as_str();
    let end = |finish: bool| {
        let argv = args::rotate_end(
            &lock_owner,
            lock_fence,
            finish,
            config.fence_linger,
            &rot,
            new,
        );
        scripts
            .rotate_end
            .run(client, DataKeys::of(&old_keys), argv)
    };
    let tell_waiters = |waiters: Vec<OwnerId>| {
        for waiter in waiters {
            store.send_hint(&waiter, &Hint::Grant(old.clone()));
        }
    };
    let abort = || async {
        let mut ended = end(false).await?;
        ended.int("finished")?;
        tell_waiters(ended.owners()?);
        Ok::<_, StoreError>(())
    };
    if old == new {
        abort().await?;
        return Ok(RotateReply::Exists);
    }
    if let Err(e) = directory::before_rotation(store, new, &snapshot).await {
        abort().await?;
        return Err(e);
    }
    let copied = Copied {
        owner: if by_caller {
            lock_owner.clone()
        } else {
            String::new()
        },
        live: by_caller && holder.is_some_and(|(owner, _)| store.is_registered(owner)),
        lease_left,
        idle,
        absolute,
        age,
        snapshot,
    };
    let new_keys = store.keys(new);
    let mut created = scripts
        .rotate_in
        .run(client, DataKeys::of(&new_keys), args::rotate_in(copied))
        .await?;
    let fence = match created.text("status")?.as_str() {
        "E" => {
            abort().await?;
            return Ok(RotateReply::Exists);
        }
        "R" => created.int("fence")?,
        other => return Err(bad("rotate_in", &format!("unknown status {other:?}"))),
    };
    let undo_new = || {
        let argv = args::delete(config.fence_linger, false);
        scripts.delete.run(client, DataKeys::of(&new_keys), argv)
    };
    let mut ended = match end(true).await {
        Ok(ended) => ended,
        Err(e) => {
            // Unknown whether the old id was deleted. If it still exists under
            // this rotation's lock, take the copy back (and unlock it if the
            // rotation locked it); if it is gone, the copy is all there is.
            if let Ok(mut check) = end(false).await {
                if check.int("finished").ok() == Some(1) {
                    let _ = undo_new().await;
                    // rotate_in may have reported a leftover's expiry there.
                    slots::after_op(store, new, true, None).await;
                    tell_waiters(check.owners().unwrap_or_default());
                }
            }
            return Err(e);
        }
    };
    if ended.int("finished")? != 1 {
        // The old id's lock ran out meanwhile: someone else may have written it.
        // Take the copy back; the old id stays as it is.
        undo_new().await?;
        slots::after_op(store, new, true, None).await;
        return Ok(RotateReply::Stale);
    }
    tell_waiters(ended.owners()?);
    slots::after_op(store, old, true, None).await;
    slots::after_op(store, new, true, slots::moved_deadline(idle, absolute)).await;
    Ok(RotateReply::Rotated {
        fence: (by_caller && fence != 0).then_some(Fence(fence)),
    })
}
