//! Opening direct conversations, groups and their members.

use super::*;

/// Opens the direct conversation of `me` and `peer` (creating it as
/// `new_id`, a fresh [`crate::chat::new_conversation_id`], when there is none); `true`
/// when this call created it. The pair's UNIQUE constraint makes racing
/// opens end on the one row.
pub fn open_direct(
    conn: &Conn<'_>,
    app_id: &str,
    new_id: &str,
    me: &str,
    peer: &str,
    now: u64,
) -> TxResult<(ConvRow, bool)> {
    if blocked_either(conn, app_id, me, peer)? {
        return Err(ApiError::forbidden("a block stands between these two users").into());
    }
    let (low, high) = if me < peer { (me, peer) } else { (peer, me) };
    let created = conn.execute(
        "INSERT INTO chat_conversations (conversation_id, app_id, kind, title, direct_low,
             direct_high, created_by, created_at_ms, last_activity_ms)
         VALUES (?1, ?2, 'direct', NULL, ?3, ?4, ?5, ?6, ?6)
         ON CONFLICT DO NOTHING",
        params![new_id, app_id, low, high, me, i(now)],
    )? == 1;
    let conv = conn
        .query_row(
            &format!(
                "SELECT {CONV_COLUMNS} FROM chat_conversations c
                 WHERE c.app_id = ?1 AND c.direct_low = ?2 AND c.direct_high = ?3"
            ),
            params![app_id, low, high],
            conv_from_row,
        )
        .optional()?
        .ok_or_else(|| TxError::Api(ApiError::internal("the direct conversation vanished")))?;
    if created {
        for identity in [low, high] {
            insert_member(conn, &conv.conversation_id, app_id, identity, MEMBER, now)?;
        }
    }
    Ok((conv, created))
}

fn insert_member(
    conn: &Conn<'_>,
    conversation_id: &str,
    app_id: &str,
    identity: &str,
    role: &str,
    now: u64,
) -> Result<(), DbError> {
    conn.execute(
        "INSERT INTO chat_members (conversation_id, app_id, identity, role, joined_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![conversation_id, app_id, identity, role, i(now)],
    )?;
    Ok(())
}

/// Checks `max_group_members` for a group that would hold `total` members
/// and `max_chatrooms` for each identity a change adds to a group.
fn check_group_limits(
    conn: &Conn<'_>,
    app_id: &str,
    limits: &Limits,
    total: u64,
    joining: &[String],
) -> TxResult<()> {
    let max_members = u(limits.max_group_members);
    if total > max_members {
        return Err(ApiError::limit_reached(
            "max_group_members",
            format!("a group holds at most {max_members} members"),
        )
        .into());
    }
    let max_rooms = u(limits.max_chatrooms);
    for identity in joining {
        if group_count(conn, app_id, identity)? >= max_rooms {
            return Err(ApiError::limit_reached(
                "max_chatrooms",
                format!("{identity} is a member of {max_rooms} groups already"),
            )
            .into());
        }
    }
    Ok(())
}

/// Creates the group `conversation_id` (a fresh [`crate::chat::new_conversation_id`])
/// owned by `me` with `others` as members.
pub fn create_group(
    conn: &Conn<'_>,
    app_id: &str,
    conversation_id: &str,
    me: &str,
    title: &str,
    others: &[String],
    now: u64,
) -> TxResult<ConvRow> {
    let limits = current_limits(conn, app_id)?;
    let mut joining = vec![me.to_owned()];
    joining.extend(others.iter().cloned());
    check_group_limits(conn, app_id, &limits, joining.len() as u64, &joining)?;
    conn.execute(
        "INSERT INTO chat_conversations (conversation_id, app_id, kind, title, created_by,
             created_at_ms, last_activity_ms)
         VALUES (?1, ?2, 'group', ?3, ?4, ?5, ?5)",
        params![conversation_id, app_id, title, me, i(now)],
    )?;
    insert_member(conn, conversation_id, app_id, me, OWNER, now)?;
    for identity in others {
        insert_member(conn, conversation_id, app_id, identity, MEMBER, now)?;
    }
    let conv = conversation(conn, app_id, conversation_id)?
        .ok_or_else(|| TxError::Api(ApiError::internal("the group vanished")))?;
    Ok(conv)
}

fn group_only(conv: &ConvRow) -> TxResult<()> {
    if conv.is_group() {
        Ok(())
    } else {
        Err(ApiError::invalid_argument("a direct conversation's membership cannot change").into())
    }
}

/// Renames a group (owner or admin).
pub fn rename(
    conn: &Conn<'_>,
    app_id: &str,
    conversation_id: &str,
    me: &str,
    title: &str,
) -> TxResult<ConvRow> {
    let (conv, my) = membership(conn, app_id, conversation_id, me)?;
    if !conv.is_group() {
        return Err(ApiError::invalid_argument("a direct conversation has no title").into());
    }
    if !my.manages() {
        return Err(ApiError::forbidden("only the owner or an admin can rename a group").into());
    }
    conn.execute(
        "UPDATE chat_conversations SET title = ?2 WHERE conversation_id = ?1",
        params![conversation_id, title],
    )?;
    let conv = conversation(conn, app_id, conversation_id)?.ok_or_else(not_found)?;
    Ok(conv)
}

/// Adds members to a group (owner or admin); those already in are
/// ignored. Returns the conversation and who was added.
pub fn add_members(
    conn: &Conn<'_>,
    app_id: &str,
    conversation_id: &str,
    me: &str,
    identities: &[String],
    now: u64,
) -> TxResult<(ConvRow, Vec<String>)> {
    let (conv, my) = membership(conn, app_id, conversation_id, me)?;
    group_only(&conv)?;
    if !my.manages() {
        return Err(ApiError::forbidden("only the owner or an admin can add members").into());
    }
    let mut joining: Vec<String> = Vec::new();
    for identity in identities {
        if !joining.contains(identity) && member(conn, conversation_id, identity)?.is_none() {
            joining.push(identity.clone());
        }
    }
    if !joining.is_empty() {
        let limits = current_limits(conn, app_id)?;
        let total = member_count(conn, conversation_id)? + joining.len() as u64;
        check_group_limits(conn, app_id, &limits, total, &joining)?;
        for identity in &joining {
            insert_member(conn, conversation_id, app_id, identity, MEMBER, now)?;
        }
    }
    Ok((conv, joining))
}

/// What a removal did.
#[derive(Debug, Clone)]
pub struct Removed {
    /// The member who is gone.
    pub identity: String,
    /// Who became the owner (the owner left).
    pub new_owner: Option<String>,
}

/// Removes `target` from a group: leaving when it is `me`; otherwise the
/// owner, or an admin removing a plain member. An owner who leaves hands
/// the group to the oldest admin, else the oldest member.
pub fn remove_member(
    conn: &Conn<'_>,
    app_id: &str,
    conversation_id: &str,
    me: &str,
    target: &str,
) -> TxResult<Removed> {
    let (conv, my) = membership(conn, app_id, conversation_id, me)?;
    group_only(&conv)?;
    let gone = if target == me {
        my
    } else {
        if !my.manages() {
            return Err(
                ApiError::forbidden("only the owner or an admin can remove members").into(),
            );
        }
        let Some(them) = member(conn, conversation_id, target)? else {
            return Err(ApiError::not_found("no such member").into());
        };
        if my.role == ADMIN && them.manages() {
            return Err(
                ApiError::forbidden("an admin cannot remove the owner or another admin").into(),
            );
        }
        them
    };
    conn.execute(
        "DELETE FROM chat_members WHERE conversation_id = ?1 AND identity = ?2",
        params![conversation_id, gone.identity],
    )?;
    let mut new_owner = None;
    if gone.role == OWNER {
        new_owner = conn
            .query_row(
                "SELECT identity FROM chat_members WHERE conversation_id = ?1
                 ORDER BY CASE role WHEN 'admin' THEN 0 ELSE 1 END, joined_at_ms, identity
                 LIMIT 1",
                params![conversation_id],
                |r| r.get::<_, String>(0),
            )
            .optional()?;
        if let Some(heir) = &new_owner {
            conn.execute(
                "UPDATE chat_members SET role = 'owner'
                 WHERE conversation_id = ?1 AND identity = ?2",
                params![conversation_id, heir],
            )?;
        }
    }
    Ok(Removed {
        identity: gone.identity,
        new_owner,
    })
}

/// Sets a member's role (`admin` / `member`; the owner only, not on itself).
pub fn set_role(
    conn: &Conn<'_>,
    app_id: &str,
    conversation_id: &str,
    me: &str,
    target: &str,
    role: &str,
) -> TxResult<(ConvRow, Member)> {
    let (conv, my) = membership(conn, app_id, conversation_id, me)?;
    group_only(&conv)?;
    if my.role != OWNER {
        return Err(ApiError::forbidden("only the owner can change roles").into());
    }
    let Some(them) = member(conn, conversation_id, target)? else {
        return Err(ApiError::not_found("no such member").into());
    };
    if them.role == OWNER {
        return Err(ApiError::invalid_argument("the owner's role cannot be changed").into());
    }
    conn.execute(
        "UPDATE chat_members SET role = ?3 WHERE conversation_id = ?1 AND identity = ?2",
        params![conversation_id, target, role],
    )?;
    let them = member(conn, conversation_id, target)?.ok_or_else(not_found)?;
    Ok((conv, them))
}
