//! Live stream stage: the host plus co-hosts, and pending requests.
//!
//! Every change increments the room's stage version in its transaction.

use super::sql::{params, Conn, OptionalExtension};
use serde::Serialize;

use super::seats::display_name;
use super::versions::{self, Counter};
use super::DbError;
use crate::ids::now_ms;

/// One member of the stage.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    /// Member identity.
    pub identity: String,
    /// Display name.
    pub name: Option<String>,
    /// `host` or `co_host`.
    pub role: &'static str,
}

/// A viewer's request to go on stage.
#[derive(Debug, Clone, Serialize)]
pub struct StageRequest {
    /// Requester.
    pub identity: String,
    /// Display name.
    pub name: Option<String>,
    /// When it was made.
    pub created_at_ms: i64,
}

/// The Stage state of the contract.
#[derive(Debug, Clone, Serialize)]
pub struct StageState {
    /// Un-prefixed room name.
    pub room_name: String,
    /// Increases with every change of the room's stage state (0 before any).
    pub version: u64,
    /// The host first, then co-hosts by arrival.
    pub members: Vec<Member>,
    /// Pending requests, oldest first.
    pub requests: Vec<StageRequest>,
}

/// Reads the stage of a room whose owner is `owner`.
pub fn state(conn: &Conn<'_>, app_id: &str, room: &str) -> Result<StageState, DbError> {
    let owner: Option<String> = conn
        .query_row(
            "SELECT owner_identity FROM rooms WHERE app_id = ?1 AND room_name = ?2",
            params![app_id, room],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    let mut members = Vec::new();
    if let Some(owner) = owner {
        members.push(Member {
            name: display_name(conn, app_id, &owner)?,
            identity: owner,
            role: "host",
        });
    }
    let co_hosts: Vec<(String, Option<String>)> = conn.query_map(
        "SELECT identity, name FROM stage_members WHERE app_id = ?1 AND room_name = ?2
         ORDER BY created_at_ms, identity",
        params![app_id, room],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    for (identity, name) in co_hosts {
        if members.iter().any(|m| m.identity == identity) {
            continue;
        }
        members.push(Member {
            identity,
            name,
            role: "co_host",
        });
    }
    let requests = conn.query_map(
        "SELECT identity, name, created_at_ms FROM stage_requests WHERE app_id = ?1 AND room_name = ?2
         ORDER BY created_at_ms, identity",
        params![app_id, room],
        |r| {
            Ok(StageRequest {
                identity: r.get(0)?,
                name: r.get(1)?,
                created_at_ms: r.get(2)?,
            })
        },
    )?;
    Ok(StageState {
        room_name: room.to_owned(),
        version: versions::current(conn, app_id, room, Counter::Stage)?,
        members,
        requests,
    })
}

/// Whether the identity is a co-host on the stage.
pub fn is_member(
    conn: &Conn<'_>,
    app_id: &str,
    room: &str,
    identity: &str,
) -> Result<bool, DbError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM stage_members WHERE app_id = ?1 AND room_name = ?2 AND identity = ?3",
            params![app_id, room, identity],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Adds a co-host (idempotent) and drops their request; returns whether the
/// stage changed.
pub fn add(conn: &Conn<'_>, app_id: &str, room: &str, identity: &str) -> Result<bool, DbError> {
    let name = display_name(conn, app_id, identity)?;
    let added = conn.execute(
        "INSERT INTO stage_members (app_id, room_name, identity, name, created_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        params![app_id, room, identity, name, now_ms() as i64],
    )?;
    let dropped = conn.execute(
        "DELETE FROM stage_requests WHERE app_id = ?1 AND room_name = ?2 AND identity = ?3",
        params![app_id, room, identity],
    )?;
    let changed = added + dropped > 0;
    if changed {
        versions::bump(conn, app_id, room, Counter::Stage)?;
    }
    Ok(changed)
}

/// Removes a co-host and any request of theirs; returns whether they were on
/// stage. Nothing is written when they were not.
pub fn remove(conn: &Conn<'_>, app_id: &str, room: &str, identity: &str) -> Result<bool, DbError> {
    let n = conn.execute(
        "DELETE FROM stage_members WHERE app_id = ?1 AND room_name = ?2 AND identity = ?3",
        params![app_id, room, identity],
    )?;
    if n == 0 {
        // The route answers 404: nothing is recorded.
        return Ok(false);
    }
    conn.execute(
        "DELETE FROM stage_requests WHERE app_id = ?1 AND room_name = ?2 AND identity = ?3",
        params![app_id, room, identity],
    )?;
    versions::bump(conn, app_id, room, Counter::Stage)?;
    Ok(true)
}

/// Records a request; returns it when new (`None` for a duplicate or a
/// co-host already on stage).
pub fn request(
    conn: &Conn<'_>,
    app_id: &str,
    room: &str,
    identity: &str,
) -> Result<Option<StageRequest>, DbError> {
    if is_member(conn, app_id, room, identity)? {
        return Ok(None);
    }
    let name = display_name(conn, app_id, identity)?;
    let at = now_ms() as i64;
    let n = conn.execute(
        "INSERT INTO stage_requests (app_id, room_name, identity, name, created_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        params![app_id, room, identity, name, at],
    )?;
    if n > 0 {
        versions::bump(conn, app_id, room, Counter::Stage)?;
    }
    Ok((n > 0).then(|| StageRequest {
        identity: identity.to_owned(),
        name,
        created_at_ms: at,
    }))
}

/// Drops a participant who left LiveKit from stage and requests; returns
/// whether anything changed.
pub fn forget(conn: &Conn<'_>, app_id: &str, room: &str, identity: &str) -> Result<bool, DbError> {
    let mut n = 0;
    for sql in [
        "DELETE FROM stage_members WHERE app_id = ?1 AND room_name = ?2 AND identity = ?3",
        "DELETE FROM stage_requests WHERE app_id = ?1 AND room_name = ?2 AND identity = ?3",
    ] {
        n += conn.execute(sql, params![app_id, room, identity])?;
    }
    if n > 0 {
        versions::bump(conn, app_id, room, Counter::Stage)?;
    }
    Ok(n > 0)
}
