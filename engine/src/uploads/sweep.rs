//! The uploads sweep: objects of `purge` rows (chat's retention purge and
//! deleted messages) and of pending uploads past expiry are deleted from the
//! store, then their rows.
//!
//! Every node sweeps the shared table: two sweeps may take the same row, so
//! each step is idempotent. An object deleted twice is gone either way (a
//! missing object counts as deleted), and the row's delete is conditional
//! (`db::delete_swept`), so the second sweep's deletes nothing.

use std::time::Duration;

use super::db;
use super::presign::Store;
use crate::db::sql::params;
use crate::ids::now_ms;
use crate::state::AppState;

/// Rows handled per round (the rest waits for the next tick).
const BATCH: u32 = 200;

/// Spawns the periodic sweep; a no-op when uploads are not configured.
pub(crate) fn spawn(state: &AppState) {
    let Some(config) = state.config.s3.clone() else {
        return;
    };
    let store = match Store::new(&config) {
        Ok(store) => store,
        Err(e) => {
            tracing::error!(error = %e, "uploads sweep not started");
            return;
        }
    };
    let state = state.clone();
    let interval = state
        .config
        .uploads_sweep_interval
        .max(Duration::from_millis(10));
    // Tracked, and a round is cut short at shutdown (every step of it can be
    // redone), so nothing is written once the engine stopped.
    state.tracker.clone().spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = state.shutdown.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let outcome = tokio::select! {
                _ = state.shutdown.cancelled() => return,
                outcome = round(&state, &store) => {
                    state.metrics.count("sweeps", &[("kind", "uploads")], 1);
                    outcome
                }
            };
            match outcome {
                Ok(0) => {}
                Ok(n) => tracing::info!(swept = n, "uploads sweep"),
                Err(e) => tracing::warn!(error = %e, "uploads sweep failed; retried next round"),
            }
        }
    });
}

/// One round: returns how many uploads were removed.
async fn round(state: &AppState, store: &Store) -> anyhow::Result<usize> {
    let now = now_ms();
    let due = state
        .db
        .call(move |c| {
            // Expired pending uploads are marked for purge first (conditional
            // on still being pending and expired): a completion racing this
            // sweep can then no longer make ready an upload whose object is
            // about to go.
            c.execute(
                "UPDATE uploads SET status = 'purge' \
                 WHERE status = 'pending' AND expires_at_ms <= ?1",
                params![now as i64],
            )?;
            db::sweepable(c, now, BATCH)
        })
        .await?;
    let mut removed = 0;
    for (upload_id, key) in due {
        // The object first: a row is only dropped once nothing is left behind.
        if let Err(e) = store.delete(&key).await {
            tracing::warn!(error = %e, upload_id, "cannot delete an upload's object");
            continue;
        }
        state
            .db
            .call(move |c| db::delete_swept(c, &upload_id, now))
            .await?;
        removed += 1;
    }
    Ok(removed)
}
