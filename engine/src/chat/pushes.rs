//! What chat changes push.
//!
//! WebSocket messages go to every open connection of the members concerned,
//! from inside the change's transaction, after its writes and just before
//! its commit: on SQLite the database is one connection behind a lock, so
//! the pushes of one conversation leave in commit order and carry counts
//! that match the committed state.
//! Message notifications to members with no open connection are queued in
//! the send transaction itself (the push outbox, engine-api.md §4).

use serde_json::json;

use super::db::{self, ConvRow, Message, Moved};
use crate::db::sql::Conn;
use crate::db::DbError;
use crate::state::AppState;

fn log_failure(what: &str, result: Result<(), DbError>) {
    if let Err(e) = result {
        tracing::error!(error = %e, what, "chat push not sent");
    }
}

/// In the send transaction: queues the message's notification for every
/// other member who has no open connection now. Returns how many pushes
/// were queued.
pub(crate) fn queue_notifications(
    state: &AppState,
    conn: &Conn<'_>,
    conv: &ConvRow,
    message: &Message,
) -> Result<usize, DbError> {
    let mut queued = 0;
    for identity in db::member_identities(conn, &conv.conversation_id)? {
        if identity == message.sender_identity || state.hub.is_online(&conv.app_id, &identity) {
            continue;
        }
        queued += crate::push::chat_message_sent(
            &state.push,
            conn,
            &conv.app_id,
            &message.message_id,
            &identity,
            crate::ids::now_ms(),
        )?;
    }
    Ok(queued)
}

/// `chat.message` to every member's connections (the sender's too), each
/// with that member's unread count of the conversation and total unread.
pub(crate) fn message_sent(
    state: &AppState,
    conn: &Conn<'_>,
    conv: &ConvRow,
    message: &Message,
    cutoff_ms: u64,
) {
    log_failure(
        "chat.message",
        (|| {
            for m in db::members(conn, &conv.conversation_id)? {
                if !state.hub.is_online(&conv.app_id, &m.identity) {
                    continue;
                }
                let unread = db::unread(
                    conn,
                    &conv.conversation_id,
                    &m.identity,
                    m.last_read_seq,
                    cutoff_ms,
                )?;
                let total = db::total_unread(conn, &conv.app_id, &m.identity, cutoff_ms)?;
                let msg = json!({
                    "type": "chat.message",
                    "message": message,
                    "unread_count": unread,
                    "total_unread": total,
                })
                .to_string();
                state.hub.send_user(&conv.app_id, &m.identity, &msg);
            }
            Ok(())
        })(),
    );
}

/// `chat.unread` to one user's connections.
pub(crate) fn unread_changed(
    state: &AppState,
    conn: &Conn<'_>,
    conv: &ConvRow,
    identity: &str,
    last_read_seq: u64,
    cutoff_ms: u64,
) -> Result<(u64, u64), DbError> {
    let unread = db::unread(
        conn,
        &conv.conversation_id,
        identity,
        last_read_seq,
        cutoff_ms,
    )?;
    let total = db::total_unread(conn, &conv.app_id, identity, cutoff_ms)?;
    let msg = json!({
        "type": "chat.unread",
        "conversation_id": conv.conversation_id,
        "unread_count": unread,
        "total_unread": total,
    })
    .to_string();
    state.hub.send_user(&conv.app_id, identity, &msg);
    Ok((unread, total))
}

/// `chat.message.updated` to every member's connections after an edit or
/// a delete; a delete of a message some member had not read yet also
/// pushes `chat.unread` to that member (its badge drops).
pub(crate) fn message_updated(
    state: &AppState,
    conn: &Conn<'_>,
    conv: &ConvRow,
    message: &Message,
    newly_deleted: bool,
    cutoff_ms: u64,
) {
    log_failure(
        "chat.message.updated",
        (|| {
            let msg = json!({"type": "chat.message.updated", "message": message}).to_string();
            for m in db::members(conn, &conv.conversation_id)? {
                if !state.hub.is_online(&conv.app_id, &m.identity) {
                    continue;
                }
                state.hub.send_user(&conv.app_id, &m.identity, &msg);
                if newly_deleted
                    && m.identity != message.sender_identity
                    && m.last_read_seq < message.seq
                {
                    unread_changed(state, conn, conv, &m.identity, m.last_read_seq, cutoff_ms)?;
                }
            }
            Ok(())
        })(),
    );
}

/// `chat.receipt` to every member, and `chat.unread` to the reader's own
/// connections when its read position moved. Returns the reader's unread
/// count and total unread (the reply of the receipt routes).
pub(crate) fn receipt_moved(
    state: &AppState,
    conn: &Conn<'_>,
    moved: &Moved,
    cutoff_ms: u64,
) -> Result<(u64, u64), DbError> {
    let conv = &moved.conv;
    let me = &moved.after;
    if moved.changed() {
        let msg = json!({
            "type": "chat.receipt",
            "conversation_id": conv.conversation_id,
            "identity": me.identity,
            "last_read_seq": me.last_read_seq,
            "last_delivered_seq": me.last_delivered_seq,
        })
        .to_string();
        for identity in db::member_identities(conn, &conv.conversation_id)? {
            state.hub.send_user(&conv.app_id, &identity, &msg);
        }
    }
    if moved.read_changed() {
        unread_changed(state, conn, conv, &me.identity, me.last_read_seq, cutoff_ms)
    } else {
        let unread = db::unread(
            conn,
            &conv.conversation_id,
            &me.identity,
            me.last_read_seq,
            cutoff_ms,
        )?;
        let total = db::total_unread(conn, &conv.app_id, &me.identity, cutoff_ms)?;
        Ok((unread, total))
    }
}

/// `chat.conversation` (as each sees it) to the connections of the members
/// listed, or of every member when `only` is `None`.
pub(crate) fn conversation_changed(
    state: &AppState,
    conn: &Conn<'_>,
    app_id: &str,
    conversation_id: &str,
    only: Option<&[String]>,
    cutoff_ms: u64,
) {
    log_failure(
        "chat.conversation",
        (|| {
            let Some(conv) = db::conversation(conn, app_id, conversation_id)? else {
                return Ok(());
            };
            for m in db::members(conn, conversation_id)? {
                if only.is_some_and(|o| !o.contains(&m.identity))
                    || !state.hub.is_online(app_id, &m.identity)
                {
                    continue;
                }
                let view = db::view(conn, &conv, &m, cutoff_ms)?;
                let msg = json!({"type": "chat.conversation", "conversation": view}).to_string();
                state.hub.send_user(app_id, &m.identity, &msg);
            }
            Ok(())
        })(),
    );
}

/// `chat.removed` to a user who was removed or left.
pub(crate) fn removed(state: &AppState, app_id: &str, conversation_id: &str, identity: &str) {
    let msg = json!({"type": "chat.removed", "conversation_id": conversation_id}).to_string();
    state.hub.send_user(app_id, identity, &msg);
}
