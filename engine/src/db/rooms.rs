//! Media rooms: type and ownership (the first host claims the room).

use super::sql::{params, Conn, OptionalExtension};

use super::versions::{self, Counter};
use super::DbError;
use crate::ids::now_ms;

/// Outcome of a room-token request against the room record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomClaim {
    /// The caller is (now) the room's owner.
    Host,
    /// The caller joins without publish rights.
    Audience,
    /// The room exists with another stream type.
    WrongType,
    /// Someone else owns the room.
    OwnedByOther,
}

/// Checks and, when allowed, records the room and its owner in one transaction.
/// A refusal writes nothing. A new owner is a change of the room's stage
/// state (the host member), so it increments the stage version.
pub fn claim(
    conn: &Conn<'_>,
    app_id: &str,
    room_name: &str,
    stream_type: &str,
    identity: &str,
    as_host: bool,
) -> Result<RoomClaim, DbError> {
    let existing: Option<(String, Option<String>)> = conn
        .query_row(
            "SELECT stream_type, owner_identity FROM rooms WHERE app_id = ?1 AND room_name = ?2",
            params![app_id, room_name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let outcome = match existing {
        None => {
            let owner = as_host.then_some(identity);
            conn.execute(
                "INSERT INTO rooms (app_id, room_name, stream_type, owner_identity, created_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![app_id, room_name, stream_type, owner, now_ms() as i64],
            )?;
            if as_host {
                versions::bump(conn, app_id, room_name, Counter::Stage)?;
                RoomClaim::Host
            } else {
                RoomClaim::Audience
            }
        }
        Some((kind, _)) if kind != stream_type => RoomClaim::WrongType,
        Some(_) if !as_host => RoomClaim::Audience,
        Some((_, Some(owner))) if owner == identity => RoomClaim::Host,
        Some((_, Some(_))) => RoomClaim::OwnedByOther,
        Some((_, None)) => {
            conn.execute(
                "UPDATE rooms SET owner_identity = ?3 WHERE app_id = ?1 AND room_name = ?2",
                params![app_id, room_name, identity],
            )?;
            versions::bump(conn, app_id, room_name, Counter::Stage)?;
            RoomClaim::Host
        }
    };
    Ok(outcome)
}
