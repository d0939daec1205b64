//! Retention (docs/protocol.md §15): an application's messages older than its
//! retention period (`--retention-days`, or the application's own, set through the
//! Platform API) are purged by a background task: deleted with their reactions, hidden
//! marks, search index entries and uploaded files, in batches of [`PURGE_BATCH_ROWS`]
//! with a pause between batches, so a first purge of a long history never holds the
//! database for long.
//!
//! With several nodes the purge is safe to run on each: every batch is a transaction
//! that deletes what is still there, and on PostgreSQL takes a transaction advisory
//! lock first, so while one node purges the others skip their turn.

use std::time::Duration;

use futures_util::FutureExt;

use crate::error::ApiResult;
use crate::state::AppState;

/// Messages deleted per transaction.
pub const PURGE_BATCH_ROWS: i64 = 1000;
/// Pause between two batches.
pub const PURGE_PAUSE: Duration = Duration::from_millis(50);
/// A day, in milliseconds.
const DAY_MS: i64 = 86_400_000;

/// The retention period in force for an application: its own (`0`: keep forever),
/// else the server's `--retention-days` (`0`: keep forever).
pub fn effective_days(own: Option<i64>, default_days: u32) -> Option<i64> {
    Some(own.unwrap_or(i64::from(default_days))).filter(|d| *d > 0)
}

/// One pass over every application: purges what is past its retention period.
/// Returns the messages deleted.
pub async fn purge_once(state: &AppState) -> ApiResult<u64> {
    let mut total = 0;
    for (app_id, own) in state.store.retention_of_apps().await? {
        let Some(days) = effective_days(own, state.config.retention_days) else {
            continue;
        };
        let cutoff = crate::clock::now_ms().saturating_sub(days.saturating_mul(DAY_MS));
        loop {
            match state
                .store
                .purge_messages(app_id, cutoff, PURGE_BATCH_ROWS)
                .await?
            {
                // Another node holds the purge lock: it is purging.
                None => return Ok(total),
                Some((0, _)) => break,
                Some((n, tokens)) => {
                    super::rights::remove_files(state, &tokens).await;
                    total += n;
                    tokio::time::sleep(PURGE_PAUSE).await;
                }
            }
        }
    }
    if total > 0 {
        tracing::info!(messages = total, "messages past retention purged");
    }
    Ok(total)
}

/// Purges every `--retention-interval-secs` until shutdown (the first pass a few
/// seconds after startup).
pub async fn run(state: AppState) {
    let mut shutdown = state.shutdown.clone();
    let every = Duration::from_secs(state.config.retention_interval_secs.max(1));
    let mut wait = Duration::from_secs(5).min(every);
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|s| *s).map(|_| ()) => return,
            _ = tokio::time::sleep(wait) => {}
        }
        if let Err(e) = purge_once(&state).await {
            tracing::warn!(error = ?e, "purging messages past retention");
        }
        wait = every;
    }
}

#[cfg(test)]
mod tests {
    use super::effective_days;

    #[test]
    fn an_application_s_own_period_wins_and_zero_keeps_forever() {
        assert_eq!(effective_days(None, 0), None);
        assert_eq!(effective_days(None, 30), Some(30));
        assert_eq!(effective_days(Some(7), 30), Some(7));
        assert_eq!(effective_days(Some(0), 30), None);
        assert_eq!(effective_days(Some(7), 0), Some(7));
    }
}
