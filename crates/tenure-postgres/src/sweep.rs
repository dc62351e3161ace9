//! The background sweep: expired sessions' rows go in bounded batches.
//!
//! Expiry does not wait for it: every function treats an expired session as gone at
//! once (I5). The sweep only reclaims rows nobody asks for: expired sessions (their
//! waiters are told), waiters dead for a minute on sessions nobody touched since,
//! and owners dead for a day. It finds sessions by their sweep mark (`sweep_at`,
//! never later than the expiry, and not moved by accesses, so that a busy session's
//! updates touch no index): a session whose mark passed is removed if it expired,
//! else marked again for its new expiry. Each statement looks at most at the batch
//! of each kind, skipping rows other calls have locked; a full batch runs the next
//! one at once.

use deadpool_postgres::Pool;
use tokio::task::AbortHandle;

use crate::sql::Sql;
use crate::PostgresConfig;

/// Starts the sweep task, which runs until it is aborted.
pub(crate) fn start(pool: Pool, sql: &Sql, config: &PostgresConfig) -> AbortHandle {
    let statement = sql.sweep.clone();
    let interval = config.sweep_interval;
    let batch = i32::try_from(config.sweep_batch).unwrap_or(i32::MAX);
    let task = tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            loop {
                match sweep_once(&pool, &statement, batch).await {
                    Ok(examined) if examined >= batch => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::debug!(error = %e, "the expiry sweep failed; trying again later");
                        break;
                    }
                }
            }
        }
    });
    task.abort_handle()
}

async fn sweep_once(pool: &Pool, statement: &str, batch: i32) -> Result<i32, String> {
    let client = pool.get().await.map_err(|e| e.to_string())?;
    let statement = client
        .prepare_cached(statement)
        .await
        .map_err(|e| e.to_string())?;
    let row = client
        .query_one(&statement, &[&batch])
        .await
        .map_err(|e| e.to_string())?;
    row.try_get("examined").map_err(|e| e.to_string())
}
