//! Audio room seats: layout, occupants and requests.
//!
//! Every operation runs in the caller's transaction ([`super::Db::call`]), so
//! of many concurrent takers of one seat exactly one wins. Every change also
//! increments the room's seats version in that transaction.

use super::sql::{params, Conn, OptionalExtension};
use serde::Serialize;

use super::versions::{self, Counter};
use super::DbError;
use crate::ids::now_ms;

/// Largest seat count.
pub const MAX_SEATS: i64 = 50;

/// One seat of the state.
#[derive(Debug, Clone, Serialize)]
pub struct Seat {
    /// Seat index.
    pub index: i64,
    /// Occupant.
    pub identity: Option<String>,
    /// Occupant's display name.
    pub name: Option<String>,
    /// Occupant has no unmuted microphone.
    pub muted: bool,
}

/// A pending seat request.
#[derive(Debug, Clone, Serialize)]
pub struct SeatRequest {
    /// Request id.
    pub request_id: i64,
    /// Requester.
    pub identity: String,
    /// When it was made.
    pub created_at_ms: i64,
}

/// The Seats state of the contract.
#[derive(Debug, Clone, Serialize)]
pub struct SeatsState {
    /// Un-prefixed room name.
    pub room_name: String,
    /// Increases with every change of the room's seats state (0 before any).
    pub version: u64,
    /// Number of seats (0 before setup).
    pub seat_count: i64,
    /// `free` or `request`.
    pub seat_mode: String,
    /// Every seat, by index.
    pub seats: Vec<Seat>,
    /// Pending requests, oldest first.
    pub requests: Vec<SeatRequest>,
}

/// Why a seat operation was refused (nothing was written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 409 conflict.
    Conflict(&'static str),
    /// 409 invalid_state.
    InvalidState(&'static str),
    /// 403 forbidden.
    Forbidden(&'static str),
    /// 404 not_found.
    NotFound(&'static str),
    /// 400 invalid_argument.
    InvalidArgument(&'static str),
}

/// An operation's outcome: the refusal, or the identities whose publish
/// permission changed (`true` = now seated).
pub type Outcome<T> = Result<T, Refusal>;

fn layout(conn: &Conn<'_>, app_id: &str, room: &str) -> Result<(i64, String), DbError> {
    Ok(conn
        .query_row(
            "SELECT seat_count, seat_mode FROM seat_layouts WHERE app_id = ?1 AND room_name = ?2",
            params![app_id, room],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .unwrap_or((0, "free".to_owned())))
}

/// Reads the room's state.
pub fn state(conn: &Conn<'_>, app_id: &str, room: &str) -> Result<SeatsState, DbError> {
    let (seat_count, seat_mode) = layout(conn, app_id, room)?;
    let mut seats: Vec<Seat> = (0..seat_count)
        .map(|index| Seat {
            index,
            identity: None,
            name: None,
            muted: false,
        })
        .collect();
    let rows = conn.query_map(
        "SELECT seat_index, identity, name, muted FROM seats WHERE app_id = ?1 AND room_name = ?2",
        params![app_id, room],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, bool>(3)?,
            ))
        },
    )?;
    for (index, identity, name, muted) in rows {
        if let Some(seat) = usize::try_from(index).ok().and_then(|i| seats.get_mut(i)) {
            seat.identity = Some(identity);
            seat.name = name;
            seat.muted = muted;
        }
    }
    let requests = conn.query_map(
        "SELECT request_id, identity, created_at_ms FROM seat_requests
         WHERE app_id = ?1 AND room_name = ?2 ORDER BY request_id",
        params![app_id, room],
        |r| {
            Ok(SeatRequest {
                request_id: r.get(0)?,
                identity: r.get(1)?,
                created_at_ms: r.get(2)?,
            })
        },
    )?;
    Ok(SeatsState {
        room_name: room.to_owned(),
        version: versions::current(conn, app_id, room, Counter::Seats)?,
        seat_count,
        seat_mode,
        seats,
        requests,
    })
}

pub(crate) fn display_name(
    conn: &Conn<'_>,
    app_id: &str,
    identity: &str,
) -> Result<Option<String>, DbError> {
    conn.query_row(
        "SELECT name FROM sessions WHERE app_id = ?1 AND identity = ?2 AND name IS NOT NULL
             ORDER BY created_at_ms DESC LIMIT 1",
        params![app_id, identity],
        |r| r.get(0),
    )
    .optional()
}

fn seat_of(
    conn: &Conn<'_>,
    app_id: &str,
    room: &str,
    identity: &str,
) -> Result<Option<i64>, DbError> {
    conn.query_row(
        "SELECT seat_index FROM seats WHERE app_id = ?1 AND room_name = ?2 AND identity = ?3",
        params![app_id, room, identity],
        |r| r.get(0),
    )
    .optional()
}

/// Whether the identity currently holds a seat.
pub fn is_seated(
    conn: &Conn<'_>,
    app_id: &str,
    room: &str,
    identity: &str,
) -> Result<bool, DbError> {
    Ok(seat_of(conn, app_id, room, identity)?.is_some())
}

/// Seats `identity` at `index` (or the lowest free seat). A refusal is
/// decided before anything is written.
fn seat(
    conn: &Conn<'_>,
    app_id: &str,
    room: &str,
    identity: &str,
    index: Option<i64>,
) -> Result<Outcome<bool>, DbError> {
    let (count, _) = layout(conn, app_id, room)?;
    let current = seat_of(conn, app_id, room, identity)?;
    let index = match index {
        Some(i) if i < 0 || i >= count => {
            return Ok(Err(Refusal::InvalidArgument("seat index out of range")))
        }
        Some(i) => i,
        None => {
            if current.is_some() {
                return Ok(Err(Refusal::Conflict("already on another seat")));
            }
            let taken: Vec<i64> = conn.query_map(
                "SELECT seat_index FROM seats WHERE app_id = ?1 AND room_name = ?2",
                params![app_id, room],
                |r| r.get(0),
            )?;
            match (0..count).find(|i| !taken.contains(i)) {
                Some(i) => i,
                None => return Ok(Err(Refusal::Conflict("no free seat"))),
            }
        }
    };
    match current {
        Some(i) if i == index => return Ok(Ok(false)),
        Some(_) => return Ok(Err(Refusal::Conflict("already on another seat"))),
        None => {}
    }
    let name = display_name(conn, app_id, identity)?;
    // The primary key refuses a second occupant: the conditional insert is
    // the claim.
    let inserted = conn.execute(
        "INSERT INTO seats (app_id, room_name, seat_index, identity, name)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        params![app_id, room, index, identity, name],
    )?;
    if inserted == 0 {
        return Ok(Err(Refusal::Conflict("seat already taken")));
    }
    conn.execute(
        "DELETE FROM seat_requests WHERE app_id = ?1 AND room_name = ?2 AND identity = ?3",
        params![app_id, room, identity],
    )?;
    versions::bump(conn, app_id, room, Counter::Seats)?;
    Ok(Ok(true))
}

/// `PUT seats` (always a change: it is always pushed): returns the identities
/// unseated by shrinking.
pub fn setup(
    conn: &Conn<'_>,
    app_id: &str,
    room: &str,
    seat_count: i64,
    seat_mode: &str,
) -> Result<Vec<String>, DbError> {
    conn.execute(
        "INSERT INTO seat_layouts (app_id, room_name, seat_count, seat_mode) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (app_id, room_name) DO UPDATE SET seat_count = excluded.seat_count,
             seat_mode = excluded.seat_mode",
        params![app_id, room, seat_count, seat_mode],
    )?;
    let removed: Vec<String> = conn.query_map(
        "SELECT identity FROM seats WHERE app_id = ?1 AND room_name = ?2 AND seat_index >= ?3
         ORDER BY seat_index",
        params![app_id, room, seat_count],
        |r| r.get(0),
    )?;
    conn.execute(
        "DELETE FROM seats WHERE app_id = ?1 AND room_name = ?2 AND seat_index >= ?3",
        params![app_id, room, seat_count],
    )?;
    if seat_mode == "free" {
        conn.execute(
            "DELETE FROM seat_requests WHERE app_id = ?1 AND room_name = ?2",
            params![app_id, room],
        )?;
    }
    versions::bump(conn, app_id, room, Counter::Seats)?;
    Ok(removed)
}

/// `take`: returns whether the caller was newly seated.
pub fn take(
    conn: &Conn<'_>,
    app_id: &str,
    room: &str,
    index: i64,
    identity: &str,
    host: bool,
) -> Result<Outcome<bool>, DbError> {
    let (count, mode) = layout(conn, app_id, room)?;
    if index < 0 || index >= count {
        return Ok(Err(Refusal::InvalidArgument("seat index out of range")));
    }
    if !host && mode != "free" {
        return Ok(Err(Refusal::Forbidden(
            "seats are taken by request in this room",
        )));
    }
    // A refusal wrote nothing (`seat` refuses before any write).
    seat(conn, app_id, room, identity, Some(index))
}

/// What `leave` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Left {
    /// The identity held a seat (and no longer does).
    pub was_seated: bool,
    /// The state changed (a seat freed or a pending request dropped).
    pub changed: bool,
}

/// `leave` (also used when LiveKit reports the participant gone): frees the
/// identity's seat and drops their pending request.
pub fn leave(conn: &Conn<'_>, app_id: &str, room: &str, identity: &str) -> Result<Left, DbError> {
    let seats = conn.execute(
        "DELETE FROM seats WHERE app_id = ?1 AND room_name = ?2 AND identity = ?3",
        params![app_id, room, identity],
    )?;
    let requests = conn.execute(
        "DELETE FROM seat_requests WHERE app_id = ?1 AND room_name = ?2 AND identity = ?3",
        params![app_id, room, identity],
    )?;
    let changed = seats + requests > 0;
    if changed {
        versions::bump(conn, app_id, room, Counter::Seats)?;
    }
    Ok(Left {
        was_seated: seats > 0,
        changed,
    })
}

/// `requests`: returns the (existing or new) request id.
pub fn request(
    conn: &Conn<'_>,
    app_id: &str,
    room: &str,
    identity: &str,
) -> Result<Outcome<i64>, DbError> {
    let (_, mode) = layout(conn, app_id, room)?;
    if mode != "request" {
        return Ok(Err(Refusal::InvalidState(
            "this room's seats are free to take",
        )));
    }
    if seat_of(conn, app_id, room, identity)?.is_some() {
        return Ok(Err(Refusal::Conflict("already seated")));
    }
    let inserted = conn.execute(
        "INSERT INTO seat_requests (app_id, room_name, identity, created_at_ms)
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
        params![app_id, room, identity, now_ms() as i64],
    )?;
    if inserted > 0 {
        versions::bump(conn, app_id, room, Counter::Seats)?;
    }
    let id: i64 = conn.query_row(
        "SELECT request_id FROM seat_requests WHERE app_id = ?1 AND room_name = ?2 AND identity = ?3",
        params![app_id, room, identity],
        |r| r.get(0),
    )?;
    Ok(Ok(id))
}

/// `approve`: seats the requester in the lowest free seat; returns them.
pub fn approve(
    conn: &Conn<'_>,
    app_id: &str,
    room: &str,
    request_id: i64,
) -> Result<Outcome<String>, DbError> {
    let identity: Option<String> = conn
        .query_row(
            "SELECT identity FROM seat_requests WHERE app_id = ?1 AND room_name = ?2 AND request_id = ?3",
            params![app_id, room, request_id],
            |r| r.get(0),
        )
        .optional()?;
    let Some(identity) = identity else {
        return Ok(Err(Refusal::NotFound("no such seat request")));
    };
    Ok(seat(conn, app_id, room, &identity, None)?.map(|_| identity))
}

/// `invite`: seats `identity` at once; returns whether it was newly seated.
pub fn invite(
    conn: &Conn<'_>,
    app_id: &str,
    room: &str,
    identity: &str,
    index: Option<i64>,
) -> Result<Outcome<bool>, DbError> {
    seat(conn, app_id, room, identity, index)
}

/// Sets the `muted` flag of a seated identity; returns whether a seat changed.
pub fn set_muted(
    conn: &Conn<'_>,
    app_id: &str,
    room: &str,
    identity: &str,
    muted: bool,
) -> Result<bool, DbError> {
    let changed = conn.execute(
        "UPDATE seats SET muted = ?4 WHERE app_id = ?1 AND room_name = ?2 AND identity = ?3 AND muted <> ?4",
        params![app_id, room, identity, muted],
    )? > 0;
    if changed {
        versions::bump(conn, app_id, room, Counter::Seats)?;
    }
    Ok(changed)
}

/// What `clear_room` changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cleared {
    /// The seats state changed (occupants or requests removed).
    pub seats: bool,
    /// The stage state changed (co-hosts or requests removed, or the owner
    /// released).
    pub stage: bool,
}

/// `room_finished`: clears seats, requests and the owner of the room. The
/// seat layout and the room's versions are kept (the versions go up).
pub fn clear_room(conn: &Conn<'_>, app_id: &str, room: &str) -> Result<Cleared, DbError> {
    let count = |sqls: &[&str]| -> Result<usize, DbError> {
        let mut n = 0;
        for sql in sqls {
            n += conn.execute(sql, params![app_id, room])?;
        }
        Ok(n)
    };
    let seats = count(&[
        "DELETE FROM seats WHERE app_id = ?1 AND room_name = ?2",
        "DELETE FROM seat_requests WHERE app_id = ?1 AND room_name = ?2",
    ])? > 0;
    let stage = count(&[
        "DELETE FROM stage_members WHERE app_id = ?1 AND room_name = ?2",
        "DELETE FROM stage_requests WHERE app_id = ?1 AND room_name = ?2",
        "UPDATE rooms SET owner_identity = NULL
         WHERE app_id = ?1 AND room_name = ?2 AND owner_identity IS NOT NULL",
    ])? > 0;
    if seats {
        versions::bump(conn, app_id, room, Counter::Seats)?;
    }
    if stage {
        versions::bump(conn, app_id, room, Counter::Stage)?;
    }
    Ok(Cleared { seats, stage })
}

/// The stored type and owner of a room.
pub fn room(
    conn: &Conn<'_>,
    app_id: &str,
    room: &str,
) -> Result<Option<(String, Option<String>)>, DbError> {
    conn.query_row(
        "SELECT stream_type, owner_identity FROM rooms WHERE app_id = ?1 AND room_name = ?2",
        params![app_id, room],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}
