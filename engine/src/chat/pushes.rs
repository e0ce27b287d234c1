//! What chat changes push.
//!
//! A change's transaction only computes its WebSocket messages: the
//! functions here append them to an [`Outbox`] that the transaction's
//! closure builds afresh on every run and returns (on PostgreSQL a closure
//! may run again after a serialization failure, so it must not send: a
//! message could leave twice, or carry seq numbers and unread counts that
//! were then rolled back). The handler sends the outbox with
//! [`Outbox::send`] once the transaction has committed; `send_user`
//! delivers to this node's connections and publishes to the other nodes.
//!
//! Order: a change holds its conversation's ordering lock ([`in_order`])
//! from before its transaction until its messages are out, so the messages
//! of one conversation leave this node in commit order (typing's pushes
//! take the same lock, [`super::typing`]). Nodes do not order among
//! themselves: clients catch up by `mod_seq` (`changes?since=N`).
//!
//! "Online" means a socket on any node ([`crate::cluster::online_flags`]),
//! read before the transaction ([`online_members`], [`online_of`]) and
//! passed into it as an [`Online`] set: only online members get the
//! per-member messages computed, and message notifications are queued (in
//! the send transaction itself, the push outbox of engine-api.md §4) for
//! the other members, who have no open connection anywhere.

use std::collections::HashSet;

use serde_json::json;

use super::db::{self, ConvRow, Message, Moved};
use crate::db::sql::Conn;
use crate::db::DbError;
use crate::http::errors::ApiError;
use crate::state::AppState;

/// WebSocket messages computed inside a transaction, sent after its commit.
#[derive(Debug, Default)]
#[must_use = "an outbox is sent after the commit"]
pub(crate) struct Outbox {
    /// `(app_id, identity, text)`, in the order they are to leave.
    messages: Vec<(String, String, String)>,
}

impl Outbox {
    /// Adds a message for every connection of `identity`.
    pub(crate) fn push(&mut self, app_id: &str, identity: &str, text: String) {
        self.messages
            .push((app_id.to_owned(), identity.to_owned(), text));
    }

    /// Sends every message (to this node's connections and, through the
    /// cluster, to the other nodes'). Call it after the commit, under the
    /// conversation's [`in_order`] lock.
    pub(crate) fn send(self, state: &AppState) {
        for (app_id, identity, text) in self.messages {
            state.hub.send_user(&app_id, &identity, &text);
        }
    }
}

/// How many locks order the pushes of conversations ([`in_order`]).
const ORDER_SHARDS: usize = 64;

/// Per-conversation (hashed) locks, each held from before a transaction of
/// a conversation until its [`Outbox`] is sent, so the pushes of one
/// conversation leave this node in commit order even though they are sent
/// after the commit.
static ORDER: [tokio::sync::Mutex<()>; ORDER_SHARDS] =
    [const { tokio::sync::Mutex::const_new(()) }; ORDER_SHARDS];

/// Waits for the ordering lock of `conversation_id` (see [`ORDER`]).
pub(crate) async fn in_order(conversation_id: &str) -> tokio::sync::MutexGuard<'static, ()> {
    // FNV-1a: stable and cheap; only spreads conversations over the shards.
    let hash = conversation_id
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    ORDER[(hash % ORDER_SHARDS as u64) as usize].lock().await
}

/// The identities that had a socket on some node when it was read (before
/// the transaction that uses it).
#[derive(Debug, Default, Clone)]
pub(crate) struct Online(HashSet<String>);

impl Online {
    /// Whether `identity` was online.
    pub(crate) fn contains(&self, identity: &str) -> bool {
        self.0.contains(identity)
    }
}

/// Which of `identities` are online on any node.
pub(crate) async fn online_of(state: &AppState, app_id: &str, identities: Vec<String>) -> Online {
    if identities.is_empty() {
        return Online::default();
    }
    let flags = crate::cluster::online_flags(state, app_id, &identities).await;
    Online(
        identities
            .into_iter()
            .zip(flags)
            .filter_map(|(identity, online)| online.then_some(identity))
            .collect(),
    )
}

/// Which members of the conversation (read in a short read-only
/// transaction), and of `also` (identities the change is about to add), are
/// online on any node. A member who joins between this read and the
/// change's transaction counts as offline: they get no per-member
/// WebSocket message of that change and, for a message, a notification —
/// acceptable, they catch up from the database either way.
pub(crate) async fn online_members(
    state: &AppState,
    app_id: &str,
    conversation_id: &str,
    also: &[String],
) -> Result<Online, ApiError> {
    let (a, c) = (app_id.to_owned(), conversation_id.to_owned());
    let mut identities = state
        .db
        .call(move |conn| {
            // Another app's conversation has no members for this caller
            // (the change itself then refuses).
            if db::conversation(conn, &a, &c)?.is_none() {
                return Ok(Vec::new());
            }
            db::member_identities(conn, &c)
        })
        .await?;
    for identity in also {
        if !identities.contains(identity) {
            identities.push(identity.clone());
        }
    }
    Ok(online_of(state, app_id, identities).await)
}

/// In the send transaction: queues the message's notification for every
/// other member who was not online on any node. Returns how many pushes
/// were queued.
pub(crate) fn queue_notifications(
    state: &AppState,
    conn: &Conn<'_>,
    conv: &ConvRow,
    message: &Message,
    online: &Online,
) -> Result<usize, DbError> {
    let mut queued = 0;
    for identity in db::member_identities(conn, &conv.conversation_id)? {
        if identity == message.sender_identity || online.contains(&identity) {
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

/// `chat.message` to every online member's connections (the sender's too),
/// each with that member's unread count of the conversation and total
/// unread.
pub(crate) fn message_sent(
    out: &mut Outbox,
    conn: &Conn<'_>,
    conv: &ConvRow,
    message: &Message,
    cutoff_ms: u64,
    online: &Online,
) -> Result<(), DbError> {
    for m in db::members(conn, &conv.conversation_id)? {
        if !online.contains(&m.identity) {
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
        out.push(&conv.app_id, &m.identity, msg);
    }
    Ok(())
}

/// `chat.unread` to one user's connections; returns the counts.
fn unread_changed(
    out: &mut Outbox,
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
    out.push(&conv.app_id, identity, msg);
    Ok((unread, total))
}

/// `chat.message.updated` to every online member's connections after an
/// edit or a delete; a delete of a message some member had not read yet
/// also pushes `chat.unread` to that member (its badge drops).
pub(crate) fn message_updated(
    out: &mut Outbox,
    conn: &Conn<'_>,
    conv: &ConvRow,
    message: &Message,
    newly_deleted: bool,
    cutoff_ms: u64,
    online: &Online,
) -> Result<(), DbError> {
    let msg = json!({"type": "chat.message.updated", "message": message}).to_string();
    for m in db::members(conn, &conv.conversation_id)? {
        if !online.contains(&m.identity) {
            continue;
        }
        out.push(&conv.app_id, &m.identity, msg.clone());
        if newly_deleted && m.identity != message.sender_identity && m.last_read_seq < message.seq {
            unread_changed(out, conn, conv, &m.identity, m.last_read_seq, cutoff_ms)?;
        }
    }
    Ok(())
}

/// `chat.receipt` to every member, and `chat.unread` to the reader's own
/// connections when its read position moved. Returns the reader's unread
/// count and total unread (the reply of the receipt routes).
pub(crate) fn receipt_moved(
    out: &mut Outbox,
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
            out.push(&conv.app_id, &identity, msg.clone());
        }
    }
    if moved.read_changed() {
        unread_changed(out, conn, conv, &me.identity, me.last_read_seq, cutoff_ms)
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

/// `chat.conversation` (as each sees it) to the connections of the online
/// members.
pub(crate) fn conversation_changed(
    out: &mut Outbox,
    conn: &Conn<'_>,
    app_id: &str,
    conversation_id: &str,
    cutoff_ms: u64,
    online: &Online,
) -> Result<(), DbError> {
    let Some(conv) = db::conversation(conn, app_id, conversation_id)? else {
        return Ok(());
    };
    for m in db::members(conn, conversation_id)? {
        if !online.contains(&m.identity) {
            continue;
        }
        let view = db::view(conn, &conv, &m, cutoff_ms)?;
        let msg = json!({"type": "chat.conversation", "conversation": view}).to_string();
        out.push(app_id, &m.identity, msg);
    }
    Ok(())
}

/// `chat.removed` to a user who was removed or left.
pub(crate) fn removed(out: &mut Outbox, app_id: &str, conversation_id: &str, identity: &str) {
    let msg = json!({"type": "chat.removed", "conversation_id": conversation_id}).to_string();
    out.push(app_id, identity, msg);
}
