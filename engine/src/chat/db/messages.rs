//! Sending, editing and deleting messages; receipt positions.

use super::*;

/// What a send asks for.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub client_message_id: String,
    pub text: String,
    pub attachments: Vec<String>,
}

/// What a send did.
#[derive(Debug, Clone)]
pub struct Sent {
    pub conv: ConvRow,
    pub message: Message,
    /// False: a retry, `message` is the original.
    pub created: bool,
}

fn by_client_id(
    conn: &Conn<'_>,
    conversation_id: &str,
    sender: &str,
    client_message_id: &str,
) -> Result<Option<Message>, DbError> {
    conn.query_row(
        &format!(
            "SELECT {MESSAGE_COLUMNS} FROM chat_messages
             WHERE conversation_id = ?1 AND sender_identity = ?2 AND client_message_id = ?3"
        ),
        params![conversation_id, sender, client_message_id],
        message_from_row,
    )
    .optional()
}

fn refuse_blocked_direct(conn: &Conn<'_>, conv: &ConvRow, me: &str) -> TxResult<()> {
    if let Some(peer) = conv.peer_of(me) {
        if blocked_either(conn, &conv.app_id, me, peer)? {
            return Err(ApiError::forbidden("a block stands between these two users").into());
        }
    }
    Ok(())
}

/// Bumps the conversation's counters for a new message at `activity_ms`;
/// returns its `(seq, mod_seq)`.
fn bump_for_message(
    conn: &Conn<'_>,
    conversation_id: &str,
    activity_ms: u64,
) -> Result<(u64, u64), DbError> {
    conn.query_row(
        "UPDATE chat_conversations SET last_seq = last_seq + 1, mod_seq = mod_seq + 1,
                 last_activity_ms = ?2 WHERE conversation_id = ?1 RETURNING last_seq, mod_seq",
        params![conversation_id, i(activity_ms)],
        |r| Ok((u(r.get(0)?), u(r.get(1)?))),
    )
}

/// Bumps the modification counter for an edit or a delete; returns it.
fn bump_for_change(conn: &Conn<'_>, conversation_id: &str) -> Result<u64, DbError> {
    conn.query_row(
        "UPDATE chat_conversations SET mod_seq = mod_seq + 1
             WHERE conversation_id = ?1 RETURNING mod_seq",
        params![conversation_id],
        |r| Ok(u(r.get(0)?)),
    )
}

/// Sends a message: the same `client_message_id` from the same sender
/// again returns the original; otherwise the next `seq` and `mod_seq`, the
/// attachments claimed (`uploads.message_id`), the sender's positions moved,
/// and `also` run in the same transaction (the notification outbox).
pub fn send(
    conn: &Conn<'_>,
    app_id: &str,
    conversation_id: &str,
    me: &str,
    new: &NewMessage,
    now: u64,
    also: impl FnOnce(&Conn<'_>, &ConvRow, &Message) -> Result<(), DbError>,
) -> TxResult<Sent> {
    let (conv, _) = membership(conn, app_id, conversation_id, me)?;
    if let Some(original) = by_client_id(conn, conversation_id, me, &new.client_message_id)? {
        return Ok(Sent {
            conv,
            message: original,
            created: false,
        });
    }
    refuse_blocked_direct(conn, &conv, me)?;
    let mut attachments = Vec::with_capacity(new.attachments.len());
    for upload_id in &new.attachments {
        let found = conn
            .query_row(
                "SELECT content_type, size, file_name FROM uploads
                 WHERE upload_id = ?1 AND app_id = ?2 AND owner_identity = ?3
                   AND status = 'ready' AND message_id IS NULL",
                params![upload_id, app_id, me],
                |r| {
                    Ok(serde_json::json!({
                        "upload_id": upload_id,
                        "content_type": r.get::<_, String>(0)?,
                        "size": r.get::<_, i64>(1)?,
                        "file_name": r.get::<_, Option<String>>(2)?,
                    }))
                },
            )
            .optional()?;
        match found {
            Some(a) => attachments.push(a),
            None => {
                return Err(ApiError::invalid_argument(format!(
                    "attachment {upload_id} is not a completed upload of yours that is free \
                     to attach"
                ))
                .into())
            }
        }
    }
    // Never before the previous message: retention then cuts a prefix.
    let created_at = now.max(conv.last_activity_ms);
    let (seq, mod_seq) = bump_for_message(conn, conversation_id, created_at)?;
    let message = Message {
        message_id: new_message_id(),
        conversation_id: conversation_id.to_owned(),
        seq,
        mod_seq,
        sender_identity: me.to_owned(),
        client_message_id: new.client_message_id.clone(),
        text: new.text.clone(),
        attachments: Value::Array(attachments),
        created_at_ms: created_at,
        edited_at_ms: None,
        deleted: false,
    };
    conn.execute(
        "INSERT INTO chat_messages (message_id, conversation_id, seq, mod_seq, sender_identity,
             client_message_id, text, attachments, created_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            message.message_id,
            conversation_id,
            i(seq),
            i(mod_seq),
            me,
            message.client_message_id,
            message.text,
            message.attachments.to_string(),
            i(created_at)
        ],
    )?;
    for upload_id in &new.attachments {
        let n = conn.execute(
            "UPDATE uploads SET message_id = ?2 WHERE upload_id = ?1 AND message_id IS NULL",
            params![upload_id, message.message_id],
        )?;
        if n != 1 {
            return Err(ApiError::invalid_argument(format!(
                "attachment {upload_id} is attached twice"
            ))
            .into());
        }
    }
    conn.execute(
        "UPDATE chat_members
         SET last_read_seq = CASE WHEN last_read_seq > ?3 THEN last_read_seq ELSE ?3 END,
             last_delivered_seq =
                 CASE WHEN last_delivered_seq > ?3 THEN last_delivered_seq ELSE ?3 END
         WHERE conversation_id = ?1 AND identity = ?2",
        params![conversation_id, me, i(seq)],
    )?;
    let conv = ConvRow {
        last_seq: seq,
        mod_seq,
        last_activity_ms: created_at,
        ..conv
    };
    also(conn, &conv, &message)?;
    Ok(Sent {
        conv,
        message,
        created: true,
    })
}

fn visible_message(
    conn: &Conn<'_>,
    conversation_id: &str,
    message_id: &str,
    cutoff_ms: u64,
) -> TxResult<Message> {
    match message(conn, conversation_id, message_id)? {
        Some(m) if m.created_at_ms >= cutoff_ms => Ok(m),
        _ => Err(ApiError::not_found("no such message").into()),
    }
}

/// Edits a message's text (its sender only; not once deleted).
#[allow(clippy::too_many_arguments)]
pub fn edit(
    conn: &Conn<'_>,
    app_id: &str,
    conversation_id: &str,
    me: &str,
    message_id: &str,
    text: &str,
    cutoff_ms: u64,
    now: u64,
) -> TxResult<(ConvRow, Message)> {
    let (conv, _) = membership(conn, app_id, conversation_id, me)?;
    let old = visible_message(conn, conversation_id, message_id, cutoff_ms)?;
    if old.sender_identity != me {
        return Err(ApiError::forbidden("only the sender can edit a message").into());
    }
    if old.deleted {
        return Err(ApiError::invalid_state("a deleted message cannot be edited").into());
    }
    if text.is_empty() && old.attachment_count() == 0 {
        return Err(ApiError::invalid_argument("a message needs text or attachments").into());
    }
    refuse_blocked_direct(conn, &conv, me)?;
    let mod_seq = bump_for_change(conn, conversation_id)?;
    conn.execute(
        "UPDATE chat_messages SET text = ?2, edited_at_ms = ?3, mod_seq = ?4
         WHERE message_id = ?1",
        params![message_id, text, i(now), i(mod_seq)],
    )?;
    let message = message(conn, conversation_id, message_id)?.ok_or_else(not_found)?;
    Ok((ConvRow { mod_seq, ..conv }, message))
}

/// What a delete did.
#[derive(Debug, Clone)]
pub struct Deleted {
    pub conv: ConvRow,
    /// The tombstone.
    pub message: Message,
    /// False: it was deleted already, nothing changed.
    pub changed: bool,
}

/// Deletes a message (a tombstone: text and attachments cleared, `seq`
/// kept); its sender, or an owner / admin of a group. The uploads it
/// attached are marked for the uploads sweep (`status = 'purge'`).
pub fn delete(
    conn: &Conn<'_>,
    app_id: &str,
    conversation_id: &str,
    me: &str,
    message_id: &str,
    cutoff_ms: u64,
) -> TxResult<Deleted> {
    let (conv, my) = membership(conn, app_id, conversation_id, me)?;
    let old = visible_message(conn, conversation_id, message_id, cutoff_ms)?;
    let allowed = old.sender_identity == me || (conv.is_group() && my.manages());
    if !allowed {
        return Err(ApiError::forbidden(
            "only the sender, or an owner or admin of the group, can delete a message",
        )
        .into());
    }
    if old.deleted {
        return Ok(Deleted {
            conv,
            message: old,
            changed: false,
        });
    }
    let mod_seq = bump_for_change(conn, conversation_id)?;
    conn.execute(
        "UPDATE chat_messages SET text = '', attachments = '[]', deleted = 1, mod_seq = ?2
         WHERE message_id = ?1",
        params![message_id, i(mod_seq)],
    )?;
    conn.execute(
        "UPDATE uploads SET status = 'purge' WHERE message_id = ?1",
        params![message_id],
    )?;
    let message = message(conn, conversation_id, message_id)?.ok_or_else(not_found)?;
    Ok(Deleted {
        conv: ConvRow { mod_seq, ..conv },
        message,
        changed: true,
    })
}

/// Which position a receipt moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    /// `last_read_seq` (and delivered with it).
    Read,
    /// `last_delivered_seq`.
    Delivered,
}

/// What a receipt did.
#[derive(Debug, Clone)]
pub struct Moved {
    pub conv: ConvRow,
    pub before: Member,
    pub after: Member,
}

impl Moved {
    /// Whether any position changed.
    pub fn changed(&self) -> bool {
        self.before != self.after
    }

    /// Whether the read position changed (the unread count with it).
    pub fn read_changed(&self) -> bool {
        self.before.last_read_seq != self.after.last_read_seq
    }
}

/// Moves a member's position forward to `seq` (capped at `last_seq`); a
/// lower value changes nothing.
pub fn receipt(
    conn: &Conn<'_>,
    app_id: &str,
    conversation_id: &str,
    me: &str,
    kind: Receipt,
    seq: u64,
) -> TxResult<Moved> {
    let (conv, before) = membership(conn, app_id, conversation_id, me)?;
    let seq = seq.min(conv.last_seq);
    let mut after = before.clone();
    if kind == Receipt::Read {
        after.last_read_seq = after.last_read_seq.max(seq);
    }
    after.last_delivered_seq = after.last_delivered_seq.max(seq).max(after.last_read_seq);
    if after != before {
        conn.execute(
            "UPDATE chat_members SET last_read_seq = ?3, last_delivered_seq = ?4
             WHERE conversation_id = ?1 AND identity = ?2",
            params![
                conversation_id,
                me,
                i(after.last_read_seq),
                i(after.last_delivered_seq)
            ],
        )?;
    }
    Ok(Moved {
        conv,
        before,
        after,
    })
}
