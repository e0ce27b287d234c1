//! Chat (docs/chat-api.md): conversations, messages, history, catch-up,
//! receipts, typing, contacts and blocks.
//!
//! - [`db`]: the queries and the transactions of every change;
//! - [`routes`]: the REST surface (bearer + `chat` capability);
//! - [`pushes`]: WebSocket fan-out and the offline notification outbox;
//! - [`typing`]: the typing state of the signal WebSocket (never stored);
//! - [`purge`]: the retention purge.

pub(crate) mod db;
pub(crate) mod purge;
pub(crate) mod pushes;
mod routes;
pub(crate) mod typing;

use crate::db::apps::AppRecord;
use crate::db::sql::Conn;
use crate::db::{DbError, TxFailure};
use crate::http::errors::{ApiError, Capability};
use crate::ids::random_b64;
use crate::state::AppState;
use axum::Router;

/// Prefix of conversation ids.
pub const CONVERSATION_ID_PREFIX: &str = "conv_";
/// Prefix of message ids.
pub const MESSAGE_ID_PREFIX: &str = "msg_";

/// Longest message text, in Unicode scalar values.
pub const MAX_TEXT_CHARS: usize = 4000;
/// Most attachments of one message.
pub const MAX_ATTACHMENTS: usize = 10;
/// Longest group title, in Unicode scalar values.
pub const MAX_TITLE_CHARS: usize = 100;
/// Most identities one request adds to a group.
pub const MAX_MEMBERS_PER_REQUEST: usize = 100;
/// History page size: default and maximum.
pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 100;
/// Conversation list page size: default and maximum.
pub const DEFAULT_LIST_PAGE: u32 = 30;
pub const MAX_LIST_PAGE: u32 = 100;
/// `changes?since=N` with more modifications than this after `N` → `reset`.
pub const CHANGES_GAP: u64 = 1000;

const DAY_MS: u64 = 86_400_000;

/// A new conversation id: the prefix plus 128 random bits.
pub(crate) fn new_conversation_id() -> String {
    format!("{CONVERSATION_ID_PREFIX}{}", random_b64(16))
}

/// A new message id: the prefix plus 128 random bits.
pub(crate) fn new_message_id() -> String {
    format!("{MESSAGE_ID_PREFIX}{}", random_b64(16))
}

fn has_b64_tail(value: &str, prefix: &str) -> bool {
    value.strip_prefix(prefix).is_some_and(|rest| {
        rest.len() == 22
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// True for strings shaped like a conversation id (anything else names none).
pub(crate) fn is_conversation_id(value: &str) -> bool {
    has_b64_tail(value, CONVERSATION_ID_PREFIX)
}

/// True for strings shaped like a message id.
pub(crate) fn is_message_id(value: &str) -> bool {
    has_b64_tail(value, MESSAGE_ID_PREFIX)
}

/// `client_message_id`: 1..=64 chars of `[A-Za-z0-9._:-]`.
pub(crate) fn is_client_message_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// The `chat` capability gate (`403 feature_disabled`, `capability: "chat"`).
pub(crate) fn require_chat(app: &AppRecord) -> Result<(), ApiError> {
    if app.messaging_enabled() {
        Ok(())
    } else {
        Err(ApiError::feature_disabled(Capability::Chat))
    }
}

/// The oldest `created_at_ms` a read may return under the app's plan now
/// (`history_days`; a plan change applies at once).
pub(crate) fn retention_cutoff(app: &AppRecord, now_ms: u64) -> u64 {
    cutoff_for_days(app.limits().history_days, now_ms)
}

/// `now - days`, saturating (a negative retention keeps nothing older than now).
pub(crate) fn cutoff_for_days(days: i64, now_ms: u64) -> u64 {
    let days = u64::try_from(days.max(0)).unwrap_or(0);
    now_ms.saturating_sub(days.saturating_mul(DAY_MS))
}

/// An error of a chat transaction: a refusal for the client (the
/// transaction rolls back) or a storage failure.
#[derive(Debug)]
pub(crate) enum TxError {
    /// A refusal of the contract (4xx).
    Api(ApiError),
    /// The database or the storage task failed.
    Db(DbError),
}

impl From<ApiError> for TxError {
    fn from(e: ApiError) -> Self {
        TxError::Api(e)
    }
}

impl From<DbError> for TxError {
    fn from(e: DbError) -> Self {
        TxError::Db(e)
    }
}

impl TxFailure for TxError {
    fn as_db_error(&self) -> Option<&DbError> {
        match self {
            TxError::Api(_) => None,
            TxError::Db(e) => Some(e),
        }
    }
}

/// What chat transactions return.
pub(crate) type TxResult<T> = Result<T, TxError>;

/// Runs `f` as one transaction (on a blocking thread): committed when it
/// returns `Ok`, rolled back on a refusal or a storage failure; refusals
/// come back as they are, storage failures as 500. `f` may run more than
/// once (PostgreSQL retries a transaction after a serialization failure).
pub(crate) async fn run<F, R>(state: &AppState, f: F) -> Result<R, ApiError>
where
    F: FnMut(&Conn<'_>) -> TxResult<R> + Send + 'static,
    R: Send + 'static,
{
    match state.db.transact(f).await {
        Ok(r) => Ok(r),
        Err(TxError::Api(e)) => Err(e),
        Err(TxError::Db(e)) => Err(e.into()),
    }
}

/// The chat routes, merged into the engine's router.
pub(crate) fn routes() -> Router<AppState> {
    routes::router()
}

/// Starts chat's periodic work: the retention purge (a first pass at once,
/// then every [`purge::PURGE_INTERVAL`]).
pub(crate) fn spawn_sweeps(state: &AppState) {
    purge::spawn(state);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_their_shapes() {
        assert!(is_conversation_id(&new_conversation_id()));
        assert!(is_message_id(&new_message_id()));
        assert!(!is_conversation_id("conv_short"));
        assert!(!is_conversation_id(&new_message_id()));
        assert!(is_client_message_id("a.b_c:d-1"));
        assert!(!is_client_message_id(""));
        assert!(!is_client_message_id("a b"));
        assert!(!is_client_message_id(&"a".repeat(65)));
    }

    #[test]
    fn cutoffs_saturate() {
        assert_eq!(cutoff_for_days(1, DAY_MS * 3), DAY_MS * 2);
        assert_eq!(cutoff_for_days(10, DAY_MS), 0);
        assert_eq!(cutoff_for_days(-5, 1_000), 1_000);
        assert_eq!(cutoff_for_days(i64::MAX, 1_000), 0);
    }
}
