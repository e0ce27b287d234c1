//! Contacts (`max_friends`) and blocks.

use super::*;

/// A contact entry.
#[derive(Debug, Clone, Serialize)]
pub struct Contact {
    pub identity: String,
    pub added_at_ms: u64,
}

/// A block entry.
#[derive(Debug, Clone, Serialize)]
pub struct Block {
    pub identity: String,
    pub blocked_at_ms: u64,
}

/// A user's contacts, oldest first.
pub fn contacts(conn: &Conn<'_>, app_id: &str, me: &str) -> Result<Vec<Contact>, DbError> {
    conn.query_map(
        "SELECT contact_identity, added_at_ms FROM chat_contacts
             WHERE app_id = ?1 AND owner_identity = ?2 ORDER BY added_at_ms, contact_identity",
        params![app_id, me],
        |r| {
            Ok(Contact {
                identity: r.get(0)?,
                added_at_ms: u(r.get(1)?),
            })
        },
    )
}

/// Adds a contact (`max_friends`); an existing one is returned as it is.
pub fn add_contact(
    conn: &Conn<'_>,
    app_id: &str,
    me: &str,
    other: &str,
    now: u64,
) -> TxResult<Contact> {
    let existing = conn
        .query_row(
            "SELECT added_at_ms FROM chat_contacts
             WHERE app_id = ?1 AND owner_identity = ?2 AND contact_identity = ?3",
            params![app_id, me, other],
            |r| r.get::<_, i64>(0),
        )
        .optional()?;
    if let Some(at) = existing {
        return Ok(Contact {
            identity: other.to_owned(),
            added_at_ms: u(at),
        });
    }
    let max = u(current_limits(conn, app_id)?.max_friends);
    let count: i64 = conn.query_row(
        "SELECT COUNT(*) FROM chat_contacts WHERE app_id = ?1 AND owner_identity = ?2",
        params![app_id, me],
        |r| r.get(0),
    )?;
    if u(count) >= max {
        return Err(ApiError::limit_reached(
            "max_friends",
            format!("a contact list holds at most {max} entries"),
        )
        .into());
    }
    conn.execute(
        "INSERT INTO chat_contacts (app_id, owner_identity, contact_identity, added_at_ms)
         VALUES (?1, ?2, ?3, ?4)",
        params![app_id, me, other, i(now)],
    )?;
    Ok(Contact {
        identity: other.to_owned(),
        added_at_ms: now,
    })
}

/// Removes a contact (idempotent).
pub fn remove_contact(conn: &Conn<'_>, app_id: &str, me: &str, other: &str) -> TxResult<()> {
    conn.execute(
        "DELETE FROM chat_contacts
         WHERE app_id = ?1 AND owner_identity = ?2 AND contact_identity = ?3",
        params![app_id, me, other],
    )?;
    Ok(())
}

/// A user's blocks, oldest first.
pub fn blocks(conn: &Conn<'_>, app_id: &str, me: &str) -> Result<Vec<Block>, DbError> {
    conn.query_map(
        "SELECT blocked_identity, blocked_at_ms FROM chat_blocks
             WHERE app_id = ?1 AND blocker_identity = ?2 ORDER BY blocked_at_ms, blocked_identity",
        params![app_id, me],
        |r| {
            Ok(Block {
                identity: r.get(0)?,
                blocked_at_ms: u(r.get(1)?),
            })
        },
    )
}

/// Blocks `other` (an existing block is returned as it is).
pub fn add_block(
    conn: &Conn<'_>,
    app_id: &str,
    me: &str,
    other: &str,
    now: u64,
) -> TxResult<Block> {
    conn.execute(
        "INSERT INTO chat_blocks (app_id, blocker_identity, blocked_identity, blocked_at_ms)
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
        params![app_id, me, other, i(now)],
    )?;
    let at: i64 = conn.query_row(
        "SELECT blocked_at_ms FROM chat_blocks
         WHERE app_id = ?1 AND blocker_identity = ?2 AND blocked_identity = ?3",
        params![app_id, me, other],
        |r| r.get(0),
    )?;
    Ok(Block {
        identity: other.to_owned(),
        blocked_at_ms: u(at),
    })
}

/// Lifts a block (idempotent).
pub fn remove_block(conn: &Conn<'_>, app_id: &str, me: &str, other: &str) -> TxResult<()> {
    conn.execute(
        "DELETE FROM chat_blocks
         WHERE app_id = ?1 AND blocker_identity = ?2 AND blocked_identity = ?3",
        params![app_id, me, other],
    )?;
    Ok(())
}
