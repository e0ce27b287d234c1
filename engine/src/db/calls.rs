//! 1:1 calls (engine-api.md §5): storage and the transition table.
//!
//! Every transition is one transaction whose `UPDATE` is conditional
//! on the status it was decided from, so of two concurrent accepts exactly
//! one moves the call (the other then sees `active` and gets a conflict).

use super::sql::{params, Conn, OptionalExtension, Row};
use serde::Serialize;
use serde_json::Value;

use super::DbError;

/// Where a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Created; the callee's devices have not reported ringing yet.
    Initiating,
    /// A callee device is ringing.
    Ringing,
    /// Answered.
    Active,
    /// Hung up after being answered.
    Ended,
    /// Declined by the callee.
    Rejected,
    /// The callee was busy.
    Busy,
    /// Nobody answered within the ring timeout.
    Missed,
    /// The caller gave up before an answer.
    Cancelled,
}

impl Status {
    /// Wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Initiating => "initiating",
            Status::Ringing => "ringing",
            Status::Active => "active",
            Status::Ended => "ended",
            Status::Rejected => "rejected",
            Status::Busy => "busy",
            Status::Missed => "missed",
            Status::Cancelled => "cancelled",
        }
    }

    /// Parses the stored form.
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "initiating" => Status::Initiating,
            "ringing" => Status::Ringing,
            "active" => Status::Active,
            "ended" => Status::Ended,
            "rejected" => Status::Rejected,
            "busy" => Status::Busy,
            "missed" => Status::Missed,
            "cancelled" => Status::Cancelled,
            _ => return None,
        })
    }

    /// Not answered yet and not over: the ring timeout applies.
    pub fn is_pending(self) -> bool {
        matches!(self, Status::Initiating | Status::Ringing)
    }

    /// Over for good.
    pub fn is_terminal(self) -> bool {
        !matches!(self, Status::Initiating | Status::Ringing | Status::Active)
    }
}

/// The actions of `POST /api/v1/calls/{call_id}/{action}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A callee device is ringing.
    Ringing,
    /// The callee answers.
    Accept,
    /// The callee declines.
    Reject,
    /// The callee is busy.
    Busy,
    /// The caller gives up / hangs up.
    Cancel,
    /// Either party hangs up.
    End,
}

/// Which party is acting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The caller.
    Caller,
    /// The callee.
    Callee,
}

/// A stored call. Serializes as the contract's Call object.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    /// `call_` + 22 base64url characters; also the (un-prefixed) room name.
    pub call_id: String,
    /// Owning app.
    pub app_id: String,
    /// `audio_call` or `video_call`.
    pub call_type: String,
    /// Current status.
    pub status: Status,
    /// Who called.
    pub caller_identity: String,
    /// The caller's session display name.
    pub caller_name: Option<String>,
    /// Who is called.
    pub callee_identity: String,
    /// The callee's display name as the caller gave it.
    pub callee_name: Option<String>,
    /// The caller's metadata object.
    pub metadata: Value,
    /// Creation time.
    pub created_at_ms: u64,
    /// Time of the last transition.
    pub updated_at_ms: u64,
    /// Whether the call was answered (then `answered_by_device` is reported).
    pub answered: bool,
    /// The answering device (null when its session had no device id).
    pub answered_by_device: Option<String>,
    /// Why it is over (terminal only).
    pub end_reason: Option<String>,
}

#[derive(Serialize)]
struct CallView<'a> {
    call_id: &'a str,
    #[serde(rename = "type")]
    call_type: &'a str,
    status: &'static str,
    caller_identity: &'a str,
    caller_name: Option<&'a str>,
    callee_identity: &'a str,
    callee_name: Option<&'a str>,
    room_name: &'a str,
    metadata: &'a Value,
    created_at_ms: u64,
    updated_at_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    answered_by_device: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_reason: Option<&'a str>,
}

impl Serialize for CallRecord {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        CallView {
            call_id: &self.call_id,
            call_type: &self.call_type,
            status: self.status.as_str(),
            caller_identity: &self.caller_identity,
            caller_name: self.caller_name.as_deref(),
            callee_identity: &self.callee_identity,
            callee_name: self.callee_name.as_deref(),
            room_name: &self.call_id,
            metadata: &self.metadata,
            created_at_ms: self.created_at_ms,
            updated_at_ms: self.updated_at_ms,
            answered_by_device: self.answered.then_some(self.answered_by_device.as_deref()),
            end_reason: self.end_reason.as_deref(),
        }
        .serialize(serializer)
    }
}

impl CallRecord {
    /// The side `identity` is on, if a party.
    pub fn side_of(&self, identity: &str) -> Option<Side> {
        if identity == self.caller_identity {
            Some(Side::Caller)
        } else if identity == self.callee_identity {
            Some(Side::Callee)
        } else {
            None
        }
    }
}

/// What an action does to a call (the table of engine-api.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Moves the call.
    Change {
        /// New status.
        to: Status,
        /// `end_reason` when `to` is terminal.
        end_reason: Option<&'static str>,
        /// Records the answering device.
        answer: bool,
    },
    /// 200 with the call as it is.
    NoChange,
    /// The action belongs to the other party (403).
    WrongParty,
    /// Accept of a call answered on another device (409 conflict).
    OtherDevice,
    /// Accept of a call that is over (409 invalid_state).
    Terminal,
}

/// Decides an action by `side` (from a device with `device`) on `call`.
pub fn decide(action: Action, side: Side, call: &CallRecord, device: Option<&str>) -> Decision {
    let allowed = match action {
        Action::Ringing | Action::Accept | Action::Reject | Action::Busy => side == Side::Callee,
        Action::Cancel => side == Side::Caller,
        Action::End => true,
    };
    if !allowed {
        return Decision::WrongParty;
    }
    let status = call.status;
    if status.is_terminal() {
        return if action == Action::Accept {
            Decision::Terminal
        } else {
            Decision::NoChange
        };
    }
    let pending = status.is_pending();
    let change = |to, end_reason| Decision::Change {
        to,
        end_reason,
        answer: false,
    };
    let hangup = match side {
        Side::Caller => "hangup_caller",
        Side::Callee => "hangup_callee",
    };
    match action {
        Action::Ringing if status == Status::Initiating => change(Status::Ringing, None),
        Action::Ringing => Decision::NoChange,
        Action::Accept if pending => Decision::Change {
            to: Status::Active,
            end_reason: None,
            answer: true,
        },
        Action::Accept if call.answered_by_device.as_deref() == device => Decision::NoChange,
        Action::Accept => Decision::OtherDevice,
        Action::Reject if pending => change(Status::Rejected, Some("rejected")),
        Action::Busy if pending => change(Status::Busy, Some("busy")),
        Action::Reject | Action::Busy => Decision::NoChange,
        Action::Cancel if pending => change(Status::Cancelled, Some("cancelled")),
        Action::End if pending => match side {
            Side::Caller => change(Status::Cancelled, Some("cancelled")),
            Side::Callee => change(Status::Rejected, Some("rejected")),
        },
        Action::Cancel | Action::End => change(Status::Ended, Some(hangup)),
    }
}

const COLUMNS: &str = "call_id, app_id, call_type, status, caller_identity, caller_name,
    callee_identity, callee_name, metadata, created_at_ms, updated_at_ms, answered_at_ms,
    answered_by_device, end_reason";

fn from_row(r: &Row) -> Result<CallRecord, DbError> {
    let status: String = r.get(3)?;
    let metadata: String = r.get(8)?;
    Ok(CallRecord {
        call_id: r.get(0)?,
        app_id: r.get(1)?,
        call_type: r.get(2)?,
        status: Status::parse(&status)
            .ok_or_else(|| DbError::Decode(format!("column 3: unknown call status {status:?}")))?,
        caller_identity: r.get(4)?,
        caller_name: r.get(5)?,
        callee_identity: r.get(6)?,
        callee_name: r.get(7)?,
        metadata: serde_json::from_str(&metadata)
            .unwrap_or_else(|_| Value::Object(Default::default())),
        created_at_ms: r.get::<_, i64>(9)? as u64,
        updated_at_ms: r.get::<_, i64>(10)? as u64,
        answered: r.get::<_, Option<i64>>(11)?.is_some(),
        answered_by_device: r.get(12)?,
        end_reason: r.get(13)?,
    })
}

/// The call `call_id` of `app_id`.
pub fn get(conn: &Conn<'_>, app_id: &str, call_id: &str) -> Result<Option<CallRecord>, DbError> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM calls WHERE call_id = ?1 AND app_id = ?2"),
        params![call_id, app_id],
        from_row,
    )
    .optional()
}

/// Stores a new call and its media room record in one transaction. False
/// (nothing written) when a room of that name already exists in the app.
#[cfg(test)]
pub fn insert(conn: &Conn<'_>, call: &CallRecord) -> Result<bool, DbError> {
    insert_with(conn, call, |_| Ok(()))
}

/// [`insert`], running `also` in the same transaction after the rows are
/// written (the push outbox); its error rolls everything back.
pub fn insert_with(
    conn: &Conn<'_>,
    call: &CallRecord,
    also: impl FnOnce(&Conn<'_>) -> Result<(), DbError>,
) -> Result<bool, DbError> {
    let taken: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM rooms WHERE app_id = ?1 AND room_name = ?2)
             OR EXISTS (SELECT 1 FROM calls WHERE call_id = ?2)",
        params![call.app_id, call.call_id],
        |r| r.get(0),
    )?;
    if taken {
        return Ok(false);
    }
    conn.execute(
        "INSERT INTO rooms (app_id, room_name, stream_type, owner_identity, created_at_ms)
         VALUES (?1, ?2, ?3, NULL, ?4)",
        params![
            call.app_id,
            call.call_id,
            call.call_type,
            call.created_at_ms as i64
        ],
    )?;
    conn.execute(
        &format!("INSERT INTO calls ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, NULL, NULL, NULL)"),
        params![
            call.call_id,
            call.app_id,
            call.call_type,
            call.status.as_str(),
            call.caller_identity,
            call.caller_name,
            call.callee_identity,
            call.callee_name,
            call.metadata.to_string(),
            call.created_at_ms as i64,
            call.updated_at_ms as i64,
        ],
    )?;
    also(conn)?;
    Ok(true)
}

/// What the ring deadline sweep finds ([`due`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Due {
    /// Pending calls whose ring deadline has passed, oldest first.
    pub call_ids: Vec<String>,
    /// The earliest ring deadline of the pending calls not due yet.
    pub next_deadline_ms: Option<u64>,
}

/// The ring deadline sweep's read: up to `limit` pending calls (of any app,
/// made by any node) whose ring deadline (`created_at_ms` +
/// `ring_timeout_ms`) is at or before `now`, oldest first, and the earliest
/// deadline still to come. Each due call is then expired by [`expire`],
/// whose update is conditional on the status, so of several sweeps (nodes)
/// at once exactly one moves it.
pub fn due(conn: &Conn<'_>, ring_timeout_ms: u64, now: u64, limit: usize) -> Result<Due, DbError> {
    // Due when now >= created_at_ms + ring_timeout, i.e. created_at_ms <=
    // cutoff; before the epoch reaches the timeout nothing is.
    let cutoff: i64 = now
        .checked_sub(ring_timeout_ms)
        .map_or(-1, |c| i64::try_from(c).unwrap_or(i64::MAX));
    let call_ids: Vec<String> = conn.query_map(
        "SELECT call_id FROM calls
         WHERE status IN ('initiating', 'ringing') AND created_at_ms <= ?1
         ORDER BY created_at_ms, call_id LIMIT ?2",
        params![cutoff, i64::try_from(limit).unwrap_or(i64::MAX)],
        |r| r.get(0),
    )?;
    let next: Option<i64> = conn.query_row(
        "SELECT MIN(created_at_ms) FROM calls
         WHERE status IN ('initiating', 'ringing') AND created_at_ms > ?1",
        params![cutoff],
        |r| r.get(0),
    )?;
    Ok(Due {
        call_ids,
        next_deadline_ms: next
            .map(|created| (created.max(0) as u64).saturating_add(ring_timeout_ms)),
    })
}

/// Writes a decided change, conditional on the status it was decided from.
/// `None` when the call moved in between (nothing written).
fn apply(
    conn: &Conn<'_>,
    call: &CallRecord,
    to: Status,
    end_reason: Option<&str>,
    answer: Option<Option<&str>>,
    now: u64,
) -> Result<Option<CallRecord>, DbError> {
    let updated_at_ms = now.max(call.updated_at_ms);
    let n = conn.execute(
        "UPDATE calls SET status = ?3, end_reason = ?4, updated_at_ms = ?5,
             answered_at_ms = CASE WHEN CAST(?6 AS BIGINT) <> 0 THEN ?5 ELSE answered_at_ms END,
             answered_by_device = CASE WHEN CAST(?6 AS BIGINT) <> 0 THEN ?7
                 ELSE answered_by_device END
         WHERE call_id = ?1 AND status = ?2",
        params![
            call.call_id,
            call.status.as_str(),
            to.as_str(),
            end_reason,
            updated_at_ms as i64,
            answer.is_some(),
            answer.flatten(),
        ],
    )?;
    if n == 0 {
        return Ok(None);
    }
    let mut next = call.clone();
    next.status = to;
    next.end_reason = end_reason.map(str::to_owned);
    next.updated_at_ms = updated_at_ms;
    if let Some(device) = answer {
        next.answered = true;
        next.answered_by_device = device.map(str::to_owned);
    }
    Ok(Some(next))
}

/// Makes a pending call whose ring timeout has passed `missed`. Returns the
/// call as it is afterwards and whether this changed it.
fn expire_if_due(
    conn: &Conn<'_>,
    call: CallRecord,
    ring_timeout_ms: u64,
    now: u64,
) -> Result<(CallRecord, bool), DbError> {
    if call.status.is_pending() && now >= call.created_at_ms.saturating_add(ring_timeout_ms) {
        if let Some(next) = apply(conn, &call, Status::Missed, Some("ring_timeout"), None, now)? {
            return Ok((next, true));
        }
    }
    Ok((call, false))
}

/// How [`act`] went.
#[derive(Debug, Clone)]
pub enum ActResult {
    /// No such call in this app.
    NotFound,
    /// The identity is not a party to the call.
    NotParty,
    /// Refused by the table ([`Decision::WrongParty`], [`Decision::OtherDevice`],
    /// [`Decision::Terminal`]).
    Refused(Decision),
    /// The call after the action (or as read), and the acting side.
    Done(Box<CallRecord>, Side),
}

/// The result of [`act`] plus every state the call went through (each one
/// is a `call.updated` push, in order).
#[derive(Debug, Clone)]
pub struct Acted {
    /// Outcome.
    pub result: ActResult,
    /// Committed transitions, oldest first (a due ring timeout first).
    pub changes: Vec<CallRecord>,
}

/// Reads (`action` None) or acts on a call as `identity` from `device`, in
/// one transaction. A ring timeout that is due is applied first (it is a
/// transition of its own, also reported in `changes`).
pub fn act(
    conn: &Conn<'_>,
    app_id: &str,
    call_id: &str,
    identity: &str,
    action: Option<Action>,
    device: Option<&str>,
    ring_timeout_ms: u64,
) -> Result<Acted, DbError> {
    let now = crate::ids::now_ms();
    let mut changes = Vec::new();
    let mut result = ActResult::NotFound;
    // The conditional update cannot miss under this transaction; the loop
    // only makes the logic independent of that.
    for _ in 0..3 {
        let Some(call) = get(conn, app_id, call_id)? else {
            result = ActResult::NotFound;
            break;
        };
        let (call, expired) = expire_if_due(conn, call, ring_timeout_ms, now)?;
        if expired {
            changes.push(call.clone());
        }
        let Some(side) = call.side_of(identity) else {
            result = ActResult::NotParty;
            break;
        };
        let Some(action) = action else {
            result = ActResult::Done(Box::new(call), side);
            break;
        };
        match decide(action, side, &call, device) {
            Decision::Change {
                to,
                end_reason,
                answer,
            } => {
                let answer = answer.then_some(device);
                if let Some(next) = apply(conn, &call, to, end_reason, answer, now)? {
                    changes.push(next.clone());
                    result = ActResult::Done(Box::new(next), side);
                    break;
                }
            }
            Decision::NoChange => {
                result = ActResult::Done(Box::new(call), side);
                break;
            }
            refused => {
                result = ActResult::Refused(refused);
                break;
            }
        }
    }
    Ok(Acted { result, changes })
}

/// The ring timeout: makes `call_id` missed if it is still pending and due.
pub fn expire(
    conn: &Conn<'_>,
    call_id: &str,
    ring_timeout_ms: u64,
) -> Result<Option<CallRecord>, DbError> {
    let call = conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM calls WHERE call_id = ?1"),
            params![call_id],
            from_row,
        )
        .optional()?;
    let out = match call {
        Some(call) => {
            let (call, changed) = expire_if_due(conn, call, ring_timeout_ms, crate::ids::now_ms())?;
            changed.then_some(call)
        }
        None => None,
    };
    Ok(out)
}

/// What LiveKit reported about a call's room ([`room_gone`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomEvent<'a> {
    /// A participant left the room for good (`participant_left` /
    /// `participant_connection_aborted`).
    Left(&'a str),
    /// The room finished (`room_finished`).
    Finished,
}

/// `end_reason` of an active call whose LiveKit room finished.
pub const ROOM_CLOSED: &str = "room_closed";

/// Applies a LiveKit room event to the call `call_id` of `app_id`, in one
/// transaction: an `active` call ends as its party's `end` would
/// (`hangup_<side>`) when that party left, and with [`ROOM_CLOSED`] when the
/// room finished. Anything else (a non-party, a pending call, a terminal
/// call) changes nothing, except a due ring timeout, applied first. Returns
/// the committed transitions, oldest first (each one a `call.updated` push).
pub fn room_gone(
    conn: &Conn<'_>,
    app_id: &str,
    call_id: &str,
    event: RoomEvent<'_>,
    ring_timeout_ms: u64,
) -> Result<Vec<CallRecord>, DbError> {
    let now = crate::ids::now_ms();
    let mut changes = Vec::new();
    if let Some(call) = get(conn, app_id, call_id)? {
        let (call, expired) = expire_if_due(conn, call, ring_timeout_ms, now)?;
        if expired {
            changes.push(call.clone());
        }
        if call.status == Status::Active {
            let end_reason = match event {
                RoomEvent::Left(identity) => match call.side_of(identity) {
                    Some(Side::Caller) => Some("hangup_caller"),
                    Some(Side::Callee) => Some("hangup_callee"),
                    None => None,
                },
                RoomEvent::Finished => Some(ROOM_CLOSED),
            };
            if let Some(reason) = end_reason {
                if let Some(next) = apply(conn, &call, Status::Ended, Some(reason), None, now)? {
                    changes.push(next);
                }
            }
        }
    }
    Ok(changes)
}

/// Most calls one listing returns ([`pending_for_callee`]).
pub const MAX_LISTED: usize = 50;

/// Most due calls one listing expires itself; any further due call is left
/// to the ring deadline sweeper (it is never listed either way).
const MAX_EXPIRED_PER_LISTING: usize = 1000;

/// The result of [`pending_for_callee`].
#[derive(Debug, Clone, Default)]
pub struct Listed {
    /// The pending calls, oldest first (`created_at_ms`, then `call_id`), at
    /// most [`MAX_LISTED`].
    pub calls: Vec<CallRecord>,
    /// Calls this listing made `missed` (due ring timeouts), oldest first;
    /// each one is a `call.updated` push.
    pub expired: Vec<CallRecord>,
}

/// The calls of `app_id` where `identity` is the callee and that still wait
/// for an answer (`initiating` / `ringing`), in one transaction. The ring
/// timeouts that are due are applied first, so no listed call is expired.
pub fn pending_for_callee(
    conn: &Conn<'_>,
    app_id: &str,
    identity: &str,
    ring_timeout_ms: u64,
) -> Result<Listed, DbError> {
    pending_for_callee_at(
        conn,
        app_id,
        identity,
        ring_timeout_ms,
        crate::ids::now_ms(),
    )
}

fn pending_for_callee_at(
    conn: &Conn<'_>,
    app_id: &str,
    identity: &str,
    ring_timeout_ms: u64,
    now: u64,
) -> Result<Listed, DbError> {
    // A call is due when now >= created_at_ms + ring_timeout, i.e. when
    // created_at_ms <= cutoff; before the epoch reaches the timeout nothing is.
    let cutoff: i64 = now
        .checked_sub(ring_timeout_ms)
        .map_or(-1, |c| i64::try_from(c).unwrap_or(i64::MAX));
    let select = |extra: &str, limit: usize| {
        format!(
            "SELECT {COLUMNS} FROM calls
             WHERE app_id = ?1 AND callee_identity = ?2
               AND status IN ('initiating', 'ringing') AND {extra}
             ORDER BY created_at_ms, call_id LIMIT {limit}"
        )
    };
    let due: Vec<CallRecord> = conn.query_map(
        &select("created_at_ms <= ?3", MAX_EXPIRED_PER_LISTING),
        params![app_id, identity, cutoff],
        from_row,
    )?;
    let mut expired = Vec::new();
    for call in due {
        let (call, changed) = expire_if_due(conn, call, ring_timeout_ms, now)?;
        if changed {
            expired.push(call);
        }
    }
    let calls: Vec<CallRecord> = conn.query_map(
        &select("created_at_ms > ?3", MAX_LISTED),
        params![app_id, identity, cutoff],
        from_row,
    )?;
    Ok(Listed { calls, expired })
}

#[cfg(test)]
#[path = "calls_tests.rs"]
mod tests;
