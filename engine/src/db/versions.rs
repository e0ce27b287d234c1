//! Per-room state versions: one counter for the seats state and one for the
//! stage state of every room.
//!
//! Every change of a state increments its counter inside the transaction of
//! the change, and the counters are never reset (not even by
//! `room_finished`), so a state read later never carries a lower version.

use super::sql::{params, Conn, OptionalExtension};

use super::DbError;

/// Which state of a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// The audio room seats state.
    Seats,
    /// The live stream stage state.
    Stage,
}

impl Counter {
    fn column(self) -> &'static str {
        match self {
            Counter::Seats => "seats_version",
            Counter::Stage => "stage_version",
        }
    }
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// The current version (0 for a room that never changed).
pub fn current(conn: &Conn<'_>, app_id: &str, room: &str, which: Counter) -> Result<u64, DbError> {
    let sql = format!(
        "SELECT {} FROM room_state_versions WHERE app_id = ?1 AND room_name = ?2",
        which.column()
    );
    let v: Option<i64> = conn
        .query_row(&sql, params![app_id, room], |r| r.get(0))
        .optional()?;
    Ok(v.map(to_u64).unwrap_or(0))
}

/// Increments the version; call inside the transaction of the change.
/// Returns the new version.
pub fn bump(conn: &Conn<'_>, app_id: &str, room: &str, which: Counter) -> Result<u64, DbError> {
    let col = which.column();
    let sql = format!(
        "INSERT INTO room_state_versions (app_id, room_name, {col}) VALUES (?1, ?2, 1)
         ON CONFLICT (app_id, room_name) DO UPDATE SET {col} = room_state_versions.{col} + 1
         RETURNING {col}"
    );
    let v: i64 = conn.query_row(&sql, params![app_id, room], |r| r.get(0))?;
    Ok(to_u64(v))
}

/// Increments the stage version of every room `identity` owns in `app_id`
/// (their display name is part of those rooms' stage state).
pub fn bump_stage_of_owner(conn: &Conn<'_>, app_id: &str, identity: &str) -> Result<(), DbError> {
    let rooms: Vec<String> = conn.query_map(
        "SELECT room_name FROM rooms WHERE app_id = ?1 AND owner_identity = ?2",
        params![app_id, identity],
        |r| r.get(0),
    )?;
    for room in rooms {
        bump(conn, app_id, &room, Counter::Stage)?;
    }
    Ok(())
}
