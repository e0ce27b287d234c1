//! What a message notification shows, read when it is sent.

use super::*;

/// What a message notification shows, read when it is sent.
#[derive(Debug, Clone)]
pub struct PushContext {
    pub conversation_id: String,
    pub is_group: bool,
    pub title: Option<String>,
    pub message_id: String,
    pub seq: u64,
    pub sender_identity: String,
    pub text: String,
    pub attachments: usize,
    /// The recipient's total unread count (the app badge).
    pub badge: u64,
}

/// The notification of `message_id` for `recipient`, or `None` when it has
/// no point any more: the message is gone, deleted or out of retention, or
/// the recipient left or has read it.
pub fn push_context(
    conn: &Conn<'_>,
    app_id: &str,
    message_id: &str,
    recipient: &str,
) -> Result<Option<PushContext>, DbError> {
    let found = conn
        .query_row(
            &format!("SELECT {MESSAGE_COLUMNS} FROM chat_messages WHERE message_id = ?1"),
            params![message_id],
            message_from_row,
        )
        .optional()?;
    let Some(message) = found.filter(|m| !m.deleted) else {
        return Ok(None);
    };
    let Some(conv) = conversation(conn, app_id, &message.conversation_id)? else {
        return Ok(None);
    };
    let Some(member) = member(conn, &conv.conversation_id, recipient)? else {
        return Ok(None);
    };
    if member.last_read_seq >= message.seq {
        return Ok(None);
    }
    let Some(app) = crate::db::apps::get_app(conn, app_id)? else {
        return Ok(None);
    };
    let cutoff = crate::chat::retention_cutoff(&app, crate::ids::now_ms());
    if message.created_at_ms < cutoff {
        return Ok(None);
    }
    Ok(Some(PushContext {
        conversation_id: conv.conversation_id.clone(),
        is_group: conv.is_group(),
        title: conv.title.clone(),
        message_id: message.message_id.clone(),
        seq: message.seq,
        sender_identity: message.sender_identity.clone(),
        attachments: message.attachment_count(),
        text: message.text,
        badge: total_unread(conn, app_id, recipient, cutoff)?,
    }))
}
