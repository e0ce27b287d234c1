//! The retention purge: messages older than their app's `history_days` are
//! deleted (reads already skip them), and the uploads they attached are
//! handed to the uploads sweep (`status = 'purge'`). Groups nobody is a
//! member of any more go once their last message has.
//!
//! It runs once when the engine starts and then every [`PURGE_INTERVAL`]
//! (a restart is the hook tests use to run it at a time of their choosing).

use std::time::Duration;

use super::cutoff_for_days;
use crate::db::apps::{app_from_row, APP_COLUMNS};
use crate::db::sql::{params, Conn};
use crate::db::DbError;
use crate::ids::now_ms;
use crate::state::AppState;

/// Time between two purges.
pub const PURGE_INTERVAL: Duration = Duration::from_secs(600);
/// Messages deleted per transaction (the database lock is released between
/// batches, so requests are not held up by a large purge).
const BATCH: i64 = 500;

/// What one purge did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    /// Messages deleted.
    pub messages: usize,
    /// Uploads marked for the uploads sweep.
    pub uploads: usize,
    /// Empty groups deleted.
    pub conversations: usize,
}

/// The apps and their retention cutoff at `now`.
fn cutoffs(conn: &Conn<'_>, now: u64) -> Result<Vec<(String, u64)>, DbError> {
    let apps = conn.query_map(
        &format!("SELECT {APP_COLUMNS} FROM apps a"),
        params![],
        |r| app_from_row(r, 0),
    )?;
    Ok(apps
        .into_iter()
        .map(|a| {
            let cutoff = cutoff_for_days(a.limits().history_days, now);
            (a.app_id, cutoff)
        })
        .collect())
}

/// Deletes up to [`BATCH`] messages of `app_id` older than `cutoff` (and
/// marks their uploads); the caller runs it as one transaction (one
/// [`crate::db::Db::call`] per batch). Returns (messages, uploads).
fn purge_batch(conn: &Conn<'_>, app_id: &str, cutoff: u64) -> Result<(usize, usize), DbError> {
    let cutoff = i64::try_from(cutoff).unwrap_or(i64::MAX);
    let ids: Vec<String> = conn.query_map(
        "SELECT m.message_id FROM chat_messages m
         JOIN chat_conversations c ON c.conversation_id = m.conversation_id
         WHERE m.created_at_ms < ?2 AND c.app_id = ?1
         ORDER BY m.created_at_ms, m.message_id LIMIT ?3",
        params![app_id, cutoff, BATCH],
        |r| r.get(0),
    )?;
    let mut uploads = 0;
    for id in &ids {
        uploads += conn.execute(
            "UPDATE uploads SET status = 'purge' WHERE message_id = ?1 AND status <> 'purge'",
            params![id],
        )?;
        conn.execute(
            "DELETE FROM chat_messages WHERE message_id = ?1",
            params![id],
        )?;
    }
    Ok((ids.len(), uploads))
}

/// Groups without members and without messages.
fn purge_empty_groups(conn: &Conn<'_>) -> Result<usize, DbError> {
    conn.execute(
        "DELETE FROM chat_conversations WHERE kind = 'group'
           AND NOT EXISTS (SELECT 1 FROM chat_members m
                           WHERE m.conversation_id = chat_conversations.conversation_id)
           AND NOT EXISTS (SELECT 1 FROM chat_messages x
                           WHERE x.conversation_id = chat_conversations.conversation_id)",
        params![],
    )
}

/// One full purge at `now`, batch by batch (each batch its own database
/// call, so other work interleaves).
pub async fn purge_once(state: &AppState, now: u64) -> Result<Purged, DbError> {
    let apps = state.db.call(move |c| cutoffs(c, now)).await?;
    let mut total = Purged::default();
    for (app_id, cutoff) in apps {
        loop {
            let a = app_id.clone();
            let (messages, uploads) = state.db.call(move |c| purge_batch(c, &a, cutoff)).await?;
            total.messages += messages;
            total.uploads += uploads;
            if messages < BATCH as usize {
                break;
            }
        }
    }
    total.conversations = state.db.call(purge_empty_groups).await?;
    Ok(total)
}

/// Starts the purge task (stops at shutdown).
pub(crate) fn spawn(state: &AppState) {
    let state = state.clone();
    state.tracker.clone().spawn(async move {
        loop {
            state
                .metrics
                .count("sweeps", &[("kind", "chat_retention")], 1);
            match purge_once(&state, now_ms()).await {
                Ok(p) if p != Purged::default() => tracing::info!(
                    messages = p.messages,
                    uploads = p.uploads,
                    conversations = p.conversations,
                    "chat retention purge"
                ),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "chat retention purge failed"),
            }
            tokio::select! {
                _ = state.shutdown.cancelled() => break,
                _ = tokio::time::sleep(PURGE_INTERVAL) => {}
            }
        }
    });
}
