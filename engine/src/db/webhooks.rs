//! LiveKit webhook bookkeeping (engine-api.md §9): LiveKit may deliver an
//! event to any engine node, more than once, and late. The transaction that
//! applies an event first [`admit`]s it: its id is recorded (a second
//! delivery finds it and is a duplicate) and its `created_at` is checked
//! against the newest applied event of its room / participant (an older one
//! is stale). Only an admitted event is applied, in that same transaction.

use super::sql::{params, Conn, OptionalExtension};
use super::DbError;

/// How long event ids and watermarks are kept ([`prune`]): far longer than
/// LiveKit retries a delivery.
pub const RETENTION_MS: u64 = 24 * 60 * 60 * 1000;

/// What a watermark covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The room itself (`room_started`, `room_finished`).
    Room,
    /// One participant (`participant_joined`, `participant_left`,
    /// `participant_connection_aborted`).
    Participant,
    /// One participant's microphone (`track_*` of a microphone track).
    Mic,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Scope::Room => "room",
            Scope::Participant => "participant",
            Scope::Mic => "mic",
        }
    }
}

/// One event to admit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// LiveKit's event id; empty when the event carries none (then it cannot
    /// be de-duplicated).
    pub id: String,
    /// The event's name (`participant_left`, ...).
    pub kind: String,
    /// The LiveKit room name (`<app_id>_<room>`).
    pub lk_room: String,
    /// What the event is about.
    pub scope: Scope,
    /// The participant's identity (ignored for [`Scope::Room`]).
    pub identity: String,
    /// LiveKit's `created_at` in seconds; 0 or less when unknown (then it is
    /// never stale and moves no watermark).
    pub created_at: i64,
}

/// The verdict of [`admit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Apply the event (its id and time are recorded).
    Apply,
    /// Already received (its id is known): apply nothing.
    Duplicate,
    /// Older than `newest`, the newest applied event time (seconds) that
    /// covers it: apply nothing.
    Stale {
        /// The newest applied event time that covers this event.
        newest: i64,
    },
}

/// In the transaction that would apply `event`: records its id (unless
/// already known: [`Admission::Duplicate`]; the record also holds the
/// event's kind, room and identity, so a reused id of another event is no
/// redelivery), then compares its time with the
/// watermarks covering it ([`Admission::Stale`] when strictly older; events
/// of the same second are applied in arrival order) and advances its own.
/// A stale event's id stays recorded, so a redelivery is a duplicate.
pub fn admit(conn: &Conn<'_>, event: &Event, now_ms: u64) -> Result<Admission, DbError> {
    let now_ms = i64::try_from(now_ms).unwrap_or(i64::MAX);
    if !event.id.is_empty() {
        let inserted = conn.execute(
            "INSERT INTO webhook_events (event_id, kind, lk_room, identity, received_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (event_id, kind, lk_room, identity) DO NOTHING",
            params![event.id, event.kind, event.lk_room, event.identity, now_ms],
        )?;
        if inserted == 0 {
            return Ok(Admission::Duplicate);
        }
    }
    if event.created_at <= 0 {
        return Ok(Admission::Apply);
    }
    let identity = match event.scope {
        Scope::Room => "",
        _ => event.identity.as_str(),
    };
    // The room covers its participants; a participant its microphone.
    let covering: &[Scope] = match event.scope {
        Scope::Room => &[Scope::Room],
        Scope::Participant => &[Scope::Room, Scope::Participant],
        Scope::Mic => &[Scope::Room, Scope::Participant, Scope::Mic],
    };
    let mut newest: Option<i64> = None;
    for scope in covering {
        let who = if *scope == Scope::Room { "" } else { identity };
        let mark: Option<i64> = conn
            .query_row(
                "SELECT created_at FROM webhook_watermarks
                 WHERE lk_room = ?1 AND scope = ?2 AND identity = ?3",
                params![event.lk_room, scope.as_str(), who],
                |r| r.get(0),
            )
            .optional()?;
        newest = newest.max(mark);
    }
    if let Some(newest) = newest.filter(|n| event.created_at < *n) {
        return Ok(Admission::Stale { newest });
    }
    conn.execute(
        "INSERT INTO webhook_watermarks (lk_room, scope, identity, created_at, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (lk_room, scope, identity) DO UPDATE SET
             created_at = CASE WHEN excluded.created_at > webhook_watermarks.created_at
                               THEN excluded.created_at ELSE webhook_watermarks.created_at END,
             updated_at_ms = excluded.updated_at_ms",
        params![
            event.lk_room,
            event.scope.as_str(),
            identity,
            event.created_at,
            now_ms
        ],
    )?;
    Ok(Admission::Apply)
}

/// Deletes event ids received, and watermarks last moved, before
/// `before_ms`; returns how many rows went.
pub fn prune(conn: &Conn<'_>, before_ms: u64) -> Result<usize, DbError> {
    let before = i64::try_from(before_ms).unwrap_or(i64::MAX);
    let events = conn.execute(
        "DELETE FROM webhook_events WHERE received_at_ms < ?1",
        params![before],
    )?;
    let marks = conn.execute(
        "DELETE FROM webhook_watermarks WHERE updated_at_ms < ?1",
        params![before],
    )?;
    Ok(events + marks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DatabaseLocation;
    use crate::db::Db;

    fn ev(id: &str, scope: Scope, identity: &str, created_at: i64) -> Event {
        Event {
            id: id.into(),
            kind: format!("{scope:?}"),
            lk_room: "1_lobby".into(),
            scope,
            identity: identity.into(),
            created_at,
        }
    }

    #[test]
    fn duplicates_and_stale_events_are_refused() {
        let db = Db::open(&DatabaseLocation::Memory).unwrap();
        db.call_blocking(|c| {
            use Admission::*;
            use Scope::*;
            assert_eq!(admit(c, &ev("a", Participant, "alice", 100), 1)?, Apply);
            assert_eq!(admit(c, &ev("a", Participant, "alice", 100), 2)?, Duplicate);
            // Same second: applied. Older: stale, and then a duplicate.
            assert_eq!(admit(c, &ev("b", Participant, "alice", 100), 3)?, Apply);
            assert_eq!(
                admit(c, &ev("c", Participant, "alice", 99), 4)?,
                Stale { newest: 100 }
            );
            assert_eq!(admit(c, &ev("c", Participant, "alice", 99), 5)?, Duplicate);
            // Another participant, and the microphone, have their own marks.
            assert_eq!(admit(c, &ev("d", Participant, "bob", 50), 6)?, Apply);
            assert_eq!(admit(c, &ev("e", Mic, "bob", 60), 7)?, Apply);
            assert_eq!(admit(c, &ev("f", Participant, "bob", 55), 8)?, Apply);
            // A participant covers its microphone; the room covers everyone.
            assert_eq!(
                admit(c, &ev("g", Mic, "alice", 99), 9)?,
                Stale { newest: 100 }
            );
            assert_eq!(admit(c, &ev("h", Room, "", 200), 10)?, Apply);
            assert_eq!(
                admit(c, &ev("i", Participant, "bob", 150), 11)?,
                Stale { newest: 200 }
            );
            assert_eq!(
                admit(c, &ev("j", Room, "x", 150), 12)?,
                Stale { newest: 200 }
            );
            // An id reused for another event is no redelivery.
            // (stale here, which is no duplicate.)
            assert_eq!(
                admit(c, &ev("a", Mic, "alice", 100), 13)?,
                Stale { newest: 200 }
            );
            // No time: never stale; no id: never a duplicate.
            assert_eq!(admit(c, &ev("k", Participant, "bob", 0), 13)?, Apply);
            assert_eq!(admit(c, &ev("", Room, "", 300), 14)?, Apply);
            assert_eq!(admit(c, &ev("", Room, "", 300), 15)?, Apply);
            // Pruning forgets old ids and marks.
            // (ids a to h; the marks of alice, bob and bob's microphone).
            assert_eq!(prune(c, 11)?, 8 + 3);
            assert_eq!(admit(c, &ev("a", Mic, "alice", 100), 16)?, Duplicate);
            assert_eq!(admit(c, &ev("a", Room, "", 300), 16)?, Apply);
            Ok(())
        })
        .unwrap();
    }
}
