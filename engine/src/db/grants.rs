//! The grant outbox: publish permissions on their way to LiveKit
//! (migrations/sqlite/0009_grant_outbox.sql; the sending is
//! crate::grants).
//!
//! A change records the permission it wants in its own transaction, which
//! bumps the participant's generation, so generations follow commit order
//! across nodes. The node holding a row's lease sends its newest permission
//! and [`settle`]s it by generation: a newer change made meanwhile (on any
//! node) keeps the row, and the holder sends again.

use super::sql::{params, Conn, OptionalExtension};
use super::DbError;

/// A participant's permission as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// May publish.
    pub publish: bool,
    /// The track sources allowed, as LiveKit names them, comma-separated
    /// (`microphone`, `camera,microphone`).
    pub sources: String,
    /// Bumped by every recorded change of this participant.
    pub generation: i64,
    /// Past this time a permission LiveKit keeps refusing is dropped.
    pub give_up_at_ms: i64,
}

/// Records the permission a change wants for `identity` in `lk_room`, newer
/// than any recorded before it. Part of the change's transaction.
pub fn record(
    conn: &Conn<'_>,
    lk_room: &str,
    identity: &str,
    publish: bool,
    sources: &str,
    give_up_at_ms: i64,
) -> Result<(), DbError> {
    conn.execute(
        "INSERT INTO grant_outbox (lk_room, identity, publish, sources, generation, give_up_at_ms)
         VALUES (?1, ?2, ?3, ?4, 1, ?5)
         ON CONFLICT (lk_room, identity) DO UPDATE SET
             publish = excluded.publish,
             sources = excluded.sources,
             generation = grant_outbox.generation + 1,
             give_up_at_ms = excluded.give_up_at_ms",
        params![lk_room, identity, publish, sources, give_up_at_ms],
    )?;
    Ok(())
}

/// Makes a permission already applied directly (a stage invite) the newest
/// one of a participant whose older change is still on its way; does
/// nothing when none is. Returns whether a row was changed.
pub fn supersede(
    conn: &Conn<'_>,
    lk_room: &str,
    identity: &str,
    publish: bool,
    sources: &str,
) -> Result<bool, DbError> {
    let changed = conn.execute(
        "UPDATE grant_outbox SET publish = ?3, sources = ?4, generation = generation + 1
         WHERE lk_room = ?1 AND identity = ?2",
        params![lk_room, identity, publish, sources],
    )?;
    Ok(changed > 0)
}

/// Takes (or renews) the lease of a participant's row for `owner` until
/// `lease_until_ms`, unless another owner's lease is still running; returns
/// the newest wanted permission when the lease is `owner`'s.
pub fn claim(
    conn: &Conn<'_>,
    lk_room: &str,
    identity: &str,
    owner: &str,
    now_ms: i64,
    lease_until_ms: i64,
) -> Result<Option<Wanted>, DbError> {
    let leased = conn.execute(
        "UPDATE grant_outbox SET lease_owner = ?3, lease_until_ms = ?5
         WHERE lk_room = ?1 AND identity = ?2 AND (lease_owner = ?3 OR lease_until_ms <= ?4)",
        params![lk_room, identity, owner, now_ms, lease_until_ms],
    )?;
    if leased == 0 {
        return Ok(None);
    }
    conn.query_row(
        "SELECT publish, sources, generation, give_up_at_ms FROM grant_outbox
         WHERE lk_room = ?1 AND identity = ?2",
        params![lk_room, identity],
        |r| {
            Ok(Wanted {
                publish: r.get(0)?,
                sources: r.get(1)?,
                generation: r.get(2)?,
                give_up_at_ms: r.get(3)?,
            })
        },
    )
    .optional()
}

/// Removes the row once `generation` was sent (or given up); returns
/// `false`, keeping it, when a newer change was recorded meanwhile.
pub fn settle(
    conn: &Conn<'_>,
    lk_room: &str,
    identity: &str,
    generation: i64,
) -> Result<bool, DbError> {
    let removed = conn.execute(
        "DELETE FROM grant_outbox WHERE lk_room = ?1 AND identity = ?2 AND generation = ?3",
        params![lk_room, identity, generation],
    )?;
    Ok(removed > 0)
}

/// Gives up `owner`'s lease (so any node may take the row at once).
pub fn release(conn: &Conn<'_>, lk_room: &str, identity: &str, owner: &str) -> Result<(), DbError> {
    conn.execute(
        "UPDATE grant_outbox SET lease_owner = '', lease_until_ms = 0
         WHERE lk_room = ?1 AND identity = ?2 AND lease_owner = ?3",
        params![lk_room, identity, owner],
    )?;
    Ok(())
}

/// Participants whose rows no lease covers at `now_ms` (never taken, or
/// their holder stopped), oldest lease first, at most `limit`.
pub fn unleased(
    conn: &Conn<'_>,
    now_ms: i64,
    limit: i64,
) -> Result<Vec<(String, String)>, DbError> {
    conn.query_map(
        "SELECT lk_room, identity FROM grant_outbox WHERE lease_until_ms <= ?1
         ORDER BY lease_until_ms LIMIT ?2",
        params![now_ms, limit],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}
