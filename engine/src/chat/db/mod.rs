//! Chat storage (migration 0007): every read and every change, each change
//! one transaction that checks the plan limits it is subject to.
//!
//! Every function runs inside the one transaction of its
//! [`crate::db::Db::transact`] call (see [`super::run`]); refusals are
//! [`TxError::Api`], and returning one rolls that transaction back, so a
//! refused request writes nothing.
//!
//! This file: the row types, the reads and the conversation list;
//! [`history`] (pages and catch-up), [`conversations`] (opening, groups,
//! members), [`messages`] (send, edit, delete, receipts), [`contacts`]
//! (contacts and blocks), [`notifications`] (what a push shows).

mod contacts;
mod conversations;
mod history;
mod messages;
mod notifications;

pub use contacts::*;
pub use conversations::*;
pub use history::*;
pub use messages::*;
pub use notifications::*;

use crate::db::sql::{params, Conn, OptionalExtension, Row};
use serde::Serialize;
use serde_json::Value;

use super::{new_message_id, TxError, TxResult};
use crate::db::DbError;
use crate::http::errors::ApiError;
use crate::plans::Limits;

/// Member roles.
pub const OWNER: &str = "owner";
pub const ADMIN: &str = "admin";
pub const MEMBER: &str = "member";

/// A conversation row.
#[derive(Debug, Clone)]
pub struct ConvRow {
    pub conversation_id: String,
    pub app_id: String,
    /// `direct` or `group`.
    pub kind: String,
    pub title: Option<String>,
    /// The ordered pair of a direct conversation.
    pub direct: Option<(String, String)>,
    pub created_by: String,
    pub created_at_ms: u64,
    pub last_seq: u64,
    pub mod_seq: u64,
    pub last_activity_ms: u64,
}

impl ConvRow {
    /// True for a group.
    pub fn is_group(&self) -> bool {
        self.kind == "group"
    }

    /// The other member of a direct conversation, for `me`.
    pub fn peer_of(&self, me: &str) -> Option<&str> {
        self.direct.as_ref().map(|(low, high)| {
            if low == me {
                high.as_str()
            } else {
                low.as_str()
            }
        })
    }
}

/// A member (the contract's Member object).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Member {
    pub identity: String,
    pub role: String,
    pub joined_at_ms: u64,
    pub last_read_seq: u64,
    pub last_delivered_seq: u64,
}

impl Member {
    /// Owner or admin.
    pub fn manages(&self) -> bool {
        self.role == OWNER || self.role == ADMIN
    }
}

/// A message (the contract's Message object).
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub message_id: String,
    pub conversation_id: String,
    pub seq: u64,
    pub mod_seq: u64,
    pub sender_identity: String,
    pub client_message_id: String,
    pub text: String,
    /// JSON array of Attachment objects.
    pub attachments: Value,
    pub created_at_ms: u64,
    pub edited_at_ms: Option<u64>,
    pub deleted: bool,
}

impl Message {
    /// Number of attachments.
    pub fn attachment_count(&self) -> usize {
        self.attachments.as_array().map_or(0, Vec::len)
    }
}

/// A conversation as one member sees it (the contract's Conversation).
#[derive(Debug, Clone, Serialize)]
pub struct ConversationView {
    pub conversation_id: String,
    pub kind: String,
    pub title: Option<String>,
    pub created_at_ms: u64,
    pub created_by: String,
    pub member_count: u64,
    pub peer_identity: Option<String>,
    pub my_role: String,
    pub last_seq: u64,
    pub mod_seq: u64,
    pub last_message: Option<Message>,
    pub last_activity_ms: u64,
    pub unread_count: u64,
    pub last_read_seq: u64,
    pub last_delivered_seq: u64,
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

const CONV_COLUMNS: &str = "c.conversation_id, c.app_id, c.kind, c.title, c.direct_low, \
     c.direct_high, c.created_by, c.created_at_ms, c.last_seq, c.mod_seq, c.last_activity_ms";

fn conv_from_row(r: &Row) -> Result<ConvRow, DbError> {
    let low: Option<String> = r.get(4)?;
    let high: Option<String> = r.get(5)?;
    Ok(ConvRow {
        conversation_id: r.get(0)?,
        app_id: r.get(1)?,
        kind: r.get(2)?,
        title: r.get(3)?,
        direct: low.zip(high),
        created_by: r.get(6)?,
        created_at_ms: u(r.get(7)?),
        last_seq: u(r.get(8)?),
        mod_seq: u(r.get(9)?),
        last_activity_ms: u(r.get(10)?),
    })
}

const MEMBER_COLUMNS: &str = "identity, role, joined_at_ms, last_read_seq, last_delivered_seq";

fn member_from_row(r: &Row) -> Result<Member, DbError> {
    Ok(Member {
        identity: r.get(0)?,
        role: r.get(1)?,
        joined_at_ms: u(r.get(2)?),
        last_read_seq: u(r.get(3)?),
        last_delivered_seq: u(r.get(4)?),
    })
}

const MESSAGE_COLUMNS: &str = "message_id, conversation_id, seq, mod_seq, sender_identity, \
     client_message_id, text, attachments, created_at_ms, edited_at_ms, deleted";

fn message_from_row(r: &Row) -> Result<Message, DbError> {
    let attachments: String = r.get(7)?;
    Ok(Message {
        message_id: r.get(0)?,
        conversation_id: r.get(1)?,
        seq: u(r.get(2)?),
        mod_seq: u(r.get(3)?),
        sender_identity: r.get(4)?,
        client_message_id: r.get(5)?,
        text: r.get(6)?,
        attachments: serde_json::from_str(&attachments).unwrap_or_else(|_| Value::Array(vec![])),
        created_at_ms: u(r.get(8)?),
        edited_at_ms: r.get::<_, Option<i64>>(9)?.map(u),
        deleted: r.get(10)?,
    })
}

fn not_found() -> TxError {
    TxError::Api(ApiError::not_found("no such conversation"))
}

/// The app's limits as stored now (read inside the transaction that
/// enforces them).
pub fn current_limits(conn: &Conn<'_>, app_id: &str) -> TxResult<Limits> {
    match crate::db::apps::get_app(conn, app_id)? {
        Some(app) => Ok(app.limits()),
        None => Err(TxError::Api(ApiError::internal("the app vanished"))),
    }
}

// ---------------------------------------------------------------- reads

/// A conversation of an app.
pub fn conversation(
    conn: &Conn<'_>,
    app_id: &str,
    conversation_id: &str,
) -> Result<Option<ConvRow>, DbError> {
    conn.query_row(
        &format!(
            "SELECT {CONV_COLUMNS} FROM chat_conversations c
             WHERE c.conversation_id = ?1 AND c.app_id = ?2"
        ),
        params![conversation_id, app_id],
        conv_from_row,
    )
    .optional()
}

/// One member of a conversation.
pub fn member(
    conn: &Conn<'_>,
    conversation_id: &str,
    identity: &str,
) -> Result<Option<Member>, DbError> {
    conn.query_row(
        &format!(
            "SELECT {MEMBER_COLUMNS} FROM chat_members
             WHERE conversation_id = ?1 AND identity = ?2"
        ),
        params![conversation_id, identity],
        member_from_row,
    )
    .optional()
}

/// The conversation and the caller's membership; 404 unless a member.
pub fn membership(
    conn: &Conn<'_>,
    app_id: &str,
    conversation_id: &str,
    identity: &str,
) -> TxResult<(ConvRow, Member)> {
    let conv = conversation(conn, app_id, conversation_id)?.ok_or_else(not_found)?;
    let me = member(conn, conversation_id, identity)?.ok_or_else(not_found)?;
    Ok((conv, me))
}

/// Every member, oldest first.
pub fn members(conn: &Conn<'_>, conversation_id: &str) -> Result<Vec<Member>, DbError> {
    conn.query_map(
        &format!(
            "SELECT {MEMBER_COLUMNS} FROM chat_members WHERE conversation_id = ?1
             ORDER BY joined_at_ms, identity"
        ),
        params![conversation_id],
        member_from_row,
    )
}

/// The identities of the members.
pub fn member_identities(conn: &Conn<'_>, conversation_id: &str) -> Result<Vec<String>, DbError> {
    conn.query_map(
        "SELECT identity FROM chat_members WHERE conversation_id = ?1",
        params![conversation_id],
        |r| r.get(0),
    )
}

/// How many members a conversation has.
pub fn member_count(conn: &Conn<'_>, conversation_id: &str) -> Result<u64, DbError> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM chat_members WHERE conversation_id = ?1",
        params![conversation_id],
        |r| r.get(0),
    )?;
    Ok(u(n))
}

/// How many groups `identity` is a member of.
pub fn group_count(conn: &Conn<'_>, app_id: &str, identity: &str) -> Result<u64, DbError> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM chat_members m
             JOIN chat_conversations c ON c.conversation_id = m.conversation_id
             WHERE m.app_id = ?1 AND m.identity = ?2 AND c.kind = 'group'",
        params![app_id, identity],
        |r| r.get(0),
    )?;
    Ok(u(n))
}

/// True when either of the two blocks the other.
pub fn blocked_either(conn: &Conn<'_>, app_id: &str, a: &str, b: &str) -> Result<bool, DbError> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM chat_blocks WHERE app_id = ?1
             AND ((blocker_identity = ?2 AND blocked_identity = ?3)
               OR (blocker_identity = ?3 AND blocked_identity = ?2))",
        params![app_id, a, b],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

/// A message of a conversation (whatever its age).
pub fn message(
    conn: &Conn<'_>,
    conversation_id: &str,
    message_id: &str,
) -> Result<Option<Message>, DbError> {
    conn.query_row(
        &format!(
            "SELECT {MESSAGE_COLUMNS} FROM chat_messages
             WHERE message_id = ?1 AND conversation_id = ?2"
        ),
        params![message_id, conversation_id],
        message_from_row,
    )
    .optional()
}

/// The unread count of one member: messages after its read position, not
/// its own, not deleted, within retention.
pub fn unread(
    conn: &Conn<'_>,
    conversation_id: &str,
    identity: &str,
    last_read_seq: u64,
    cutoff_ms: u64,
) -> Result<u64, DbError> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM chat_messages
             WHERE conversation_id = ?1 AND seq > ?2 AND deleted = 0
               AND created_at_ms >= ?3 AND sender_identity <> ?4",
        params![conversation_id, i(last_read_seq), i(cutoff_ms), identity],
        |r| r.get(0),
    )?;
    Ok(u(n))
}

/// The sum of a user's unread counts over all their conversations.
pub fn total_unread(
    conn: &Conn<'_>,
    app_id: &str,
    identity: &str,
    cutoff_ms: u64,
) -> Result<u64, DbError> {
    let n: i64 = conn.query_row(
        "SELECT CAST(COALESCE(SUM((SELECT COUNT(*) FROM chat_messages x
                 WHERE x.conversation_id = m.conversation_id AND x.seq > m.last_read_seq
                   AND x.deleted = 0 AND x.created_at_ms >= ?3
                   AND x.sender_identity <> m.identity)), 0) AS BIGINT)
             FROM chat_members m WHERE m.app_id = ?1 AND m.identity = ?2",
        params![app_id, identity, i(cutoff_ms)],
        |r| r.get(0),
    )?;
    Ok(u(n))
}

/// The newest message within retention (tombstones included).
pub fn last_message(
    conn: &Conn<'_>,
    conversation_id: &str,
    cutoff_ms: u64,
) -> Result<Option<Message>, DbError> {
    conn.query_row(
        &format!(
            "SELECT {MESSAGE_COLUMNS} FROM chat_messages
             WHERE conversation_id = ?1 AND created_at_ms >= ?2 ORDER BY seq DESC LIMIT 1"
        ),
        params![conversation_id, i(cutoff_ms)],
        message_from_row,
    )
    .optional()
}

/// The conversation as `me` (a member) sees it.
pub fn view(
    conn: &Conn<'_>,
    conv: &ConvRow,
    me: &Member,
    cutoff_ms: u64,
) -> Result<ConversationView, DbError> {
    Ok(ConversationView {
        conversation_id: conv.conversation_id.clone(),
        kind: conv.kind.clone(),
        title: conv.title.clone(),
        created_at_ms: conv.created_at_ms,
        created_by: conv.created_by.clone(),
        member_count: member_count(conn, &conv.conversation_id)?,
        peer_identity: conv.peer_of(&me.identity).map(str::to_owned),
        my_role: me.role.clone(),
        last_seq: conv.last_seq,
        mod_seq: conv.mod_seq,
        last_message: last_message(conn, &conv.conversation_id, cutoff_ms)?,
        last_activity_ms: conv.last_activity_ms,
        unread_count: unread(
            conn,
            &conv.conversation_id,
            &me.identity,
            me.last_read_seq,
            cutoff_ms,
        )?,
        last_read_seq: me.last_read_seq,
        last_delivered_seq: me.last_delivered_seq,
    })
}

/// A position in the conversation list: `(last_activity_ms, conversation_id)`.
pub type ListCursor = (u64, String);

/// One page of a user's conversations, newest activity first (ties by id,
/// descending), after `cursor`; the cursor of the next page if there is one.
pub fn list(
    conn: &Conn<'_>,
    app_id: &str,
    identity: &str,
    cursor: Option<&ListCursor>,
    limit: u32,
    cutoff_ms: u64,
) -> Result<(Vec<ConversationView>, Option<ListCursor>), DbError> {
    let (at, id) = match cursor {
        Some((at, id)) => (Some(i(*at)), Some(id.as_str())),
        None => (None, None),
    };
    let rows: Vec<(ConvRow, Member)> = conn.query_map(
        &format!(
            "SELECT {CONV_COLUMNS}, m.identity, m.role, m.joined_at_ms, m.last_read_seq,
                    m.last_delivered_seq
             FROM chat_members m
             JOIN chat_conversations c ON c.conversation_id = m.conversation_id
             WHERE m.app_id = ?1 AND m.identity = ?2
               AND (CAST(?3 AS BIGINT) IS NULL OR c.last_activity_ms < ?3
                    OR (c.last_activity_ms = ?3 AND c.conversation_id < ?4))
             ORDER BY c.last_activity_ms DESC, c.conversation_id DESC LIMIT ?5"
        ),
        params![app_id, identity, at, id, i64::from(limit) + 1],
        |r| {
            let conv = conv_from_row(r)?;
            let member = Member {
                identity: r.get(11)?,
                role: r.get(12)?,
                joined_at_ms: u(r.get(13)?),
                last_read_seq: u(r.get(14)?),
                last_delivered_seq: u(r.get(15)?),
            };
            Ok((conv, member))
        },
    )?;
    let more = rows.len() > limit as usize;
    let mut out = Vec::with_capacity(rows.len().min(limit as usize));
    for (conv, me) in rows.into_iter().take(limit as usize) {
        out.push(view(conn, &conv, &me, cutoff_ms)?);
    }
    let next = if more {
        out.last()
            .map(|v| (v.last_activity_ms, v.conversation_id.clone()))
    } else {
        None
    };
    Ok((out, next))
}
