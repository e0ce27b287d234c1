//! Unit tests of the call store: the transition table, timeouts, listing.

use super::*;

fn call(status: Status, device: Option<&str>) -> CallRecord {
    CallRecord {
        call_id: "call_x".into(),
        app_id: "1".into(),
        call_type: "audio_call".into(),
        status,
        caller_identity: "bob".into(),
        caller_name: None,
        callee_identity: "alice".into(),
        callee_name: None,
        metadata: serde_json::json!({}),
        created_at_ms: 0,
        updated_at_ms: 0,
        answered: status == Status::Active,
        answered_by_device: device.map(str::to_owned),
        end_reason: None,
    }
}

fn to(status: Status, reason: Option<&'static str>) -> Decision {
    Decision::Change {
        to: status,
        end_reason: reason,
        answer: false,
    }
}

/// The table of engine-api.md §5, row by row.
#[test]
fn the_transition_table() {
    use Action::*;
    use Decision::{NoChange, OtherDevice, Terminal, WrongParty};
    use Side::*;
    use Status as S;
    let accept = Decision::Change {
        to: S::Active,
        end_reason: None,
        answer: true,
    };
    let rows: Vec<(Action, Side, Status, Decision)> = vec![
        (Ringing, Callee, S::Initiating, to(S::Ringing, None)),
        (Ringing, Callee, S::Ringing, NoChange),
        (Ringing, Callee, S::Active, NoChange),
        (Ringing, Callee, S::Ended, NoChange),
        (Ringing, Caller, S::Initiating, WrongParty),
        (Accept, Callee, S::Initiating, accept),
        (Accept, Callee, S::Ringing, accept),
        (Accept, Callee, S::Missed, Terminal),
        (Accept, Callee, S::Cancelled, Terminal),
        (Accept, Caller, S::Ringing, WrongParty),
        (
            Reject,
            Callee,
            S::Ringing,
            to(S::Rejected, Some("rejected")),
        ),
        (Reject, Callee, S::Active, NoChange),
        (Reject, Callee, S::Busy, NoChange),
        (Reject, Caller, S::Ringing, WrongParty),
        (Busy, Callee, S::Initiating, to(S::Busy, Some("busy"))),
        (Busy, Callee, S::Active, NoChange),
        (Busy, Callee, S::Rejected, NoChange),
        (Busy, Caller, S::Ringing, WrongParty),
        (
            Cancel,
            Caller,
            S::Initiating,
            to(S::Cancelled, Some("cancelled")),
        ),
        (
            Cancel,
            Caller,
            S::Ringing,
            to(S::Cancelled, Some("cancelled")),
        ),
        (
            Cancel,
            Caller,
            S::Active,
            to(S::Ended, Some("hangup_caller")),
        ),
        (Cancel, Caller, S::Ended, NoChange),
        (Cancel, Callee, S::Ringing, WrongParty),
        (End, Caller, S::Ringing, to(S::Cancelled, Some("cancelled"))),
        (End, Callee, S::Ringing, to(S::Rejected, Some("rejected"))),
        (End, Caller, S::Active, to(S::Ended, Some("hangup_caller"))),
        (End, Callee, S::Active, to(S::Ended, Some("hangup_callee"))),
        (End, Callee, S::Missed, NoChange),
        (End, Caller, S::Cancelled, NoChange),
    ];
    for (action, side, status, want) in rows {
        let device = (status == S::Active).then_some("d1");
        assert_eq!(
            decide(action, side, &call(status, device), Some("d1")),
            want,
            "{action:?} by {side:?} from {status:?}"
        );
    }
    // Accept of an active call: same device again, another device.
    let active = call(S::Active, Some("d1"));
    assert_eq!(
        decide(Accept, Callee, &active, Some("d1")),
        Decision::NoChange
    );
    assert_eq!(decide(Accept, Callee, &active, Some("d2")), OtherDevice);
    assert_eq!(decide(Accept, Callee, &active, None), OtherDevice);
    let no_device = call(S::Active, None);
    assert_eq!(decide(Accept, Callee, &no_device, None), Decision::NoChange);
}

/// A migrated in-memory SQLite database without foreign keys (no app rows
/// needed), used in autocommit mode: every statement commits on its own.
fn test_db() -> rusqlite::Connection {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    crate::db::migrate(&Conn::sqlite(&conn), crate::db::SQLITE_MIGRATIONS).unwrap();
    conn.pragma_update(None, "foreign_keys", "OFF").unwrap();
    conn
}

fn stored(conn: &Conn<'_>, id: &str, app: &str, caller: &str, callee: &str, at: u64) {
    let mut c = call(Status::Initiating, None);
    c.call_id = id.into();
    c.app_id = app.into();
    c.caller_identity = caller.into();
    c.callee_identity = callee.into();
    c.created_at_ms = at;
    c.updated_at_ms = at;
    c.answered = false;
    assert!(insert(conn, &c).unwrap());
}

fn set_status(conn: &Conn<'_>, id: &str, status: Status) {
    conn.execute(
        "UPDATE calls SET status = ?2 WHERE call_id = ?1",
        params![id, status.as_str()],
    )
    .unwrap();
}

fn ids(calls: &[CallRecord]) -> Vec<&str> {
    calls.iter().map(|c| c.call_id.as_str()).collect()
}

/// The listing: only pending calls of this callee in this app, oldest
/// first (ties by id), due ones expired first and never listed.
#[test]
fn pending_for_callee_lists_live_pending_calls_oldest_first() {
    let db = test_db();
    let conn = Conn::sqlite(&db);
    let timeout = 30_000;
    let now = 1_000_000;
    // Listed: pending, alice the callee, not due (created after now - timeout).
    stored(&conn, "call_b", "1", "bob", "alice", now - 10);
    stored(&conn, "call_a", "1", "bob", "alice", now - 10);
    stored(&conn, "call_c", "1", "carol", "alice", now - 20);
    set_status(&conn, "call_c", Status::Ringing);
    // Not listed: alice is the caller; another callee; another app; terminal;
    // answered.
    stored(&conn, "call_caller", "1", "alice", "bob", now - 5);
    stored(&conn, "call_other", "1", "bob", "carol", now - 5);
    stored(&conn, "call_app2", "2", "bob", "alice", now - 5);
    stored(&conn, "call_done", "1", "bob", "alice", now - 5);
    set_status(&conn, "call_done", Status::Rejected);
    stored(&conn, "call_live", "1", "bob", "alice", now - 5);
    set_status(&conn, "call_live", Status::Active);
    // Due: exactly at the deadline and past it (expired by the listing).
    stored(&conn, "call_due1", "1", "bob", "alice", now - timeout);
    stored(&conn, "call_due2", "1", "bob", "alice", now - timeout - 1);
    set_status(&conn, "call_due2", Status::Ringing);
    // Due but of another callee: left to the ring deadline sweeper.
    stored(&conn, "call_due3", "1", "bob", "carol", now - timeout - 1);

    let listed = pending_for_callee_at(&conn, "1", "alice", timeout, now).unwrap();
    assert_eq!(ids(&listed.calls), ["call_c", "call_a", "call_b"]);
    assert_eq!(listed.calls[0].status, Status::Ringing);
    assert_eq!(ids(&listed.expired), ["call_due2", "call_due1"]);
    for c in &listed.expired {
        assert_eq!(c.status, Status::Missed);
        assert_eq!(c.end_reason.as_deref(), Some("ring_timeout"));
        assert_eq!(c.updated_at_ms, now);
        assert_eq!(get(&conn, "1", &c.call_id).unwrap().as_ref(), Some(c));
    }
    assert_eq!(
        get(&conn, "1", "call_due3").unwrap().unwrap().status,
        Status::Initiating
    );
    // Again: nothing more to expire, the same list.
    let again = pending_for_callee_at(&conn, "1", "alice", timeout, now).unwrap();
    assert_eq!(again.calls, listed.calls);
    assert!(again.expired.is_empty());
    // Nothing pending for bob as callee in app 1 (call_caller is alice's call to bob).
    let bob = pending_for_callee_at(&conn, "1", "bob", timeout, now).unwrap();
    assert_eq!(ids(&bob.calls), ["call_caller"]);
    // Early on the clock (now < timeout) nothing is due.
    let early = pending_for_callee_at(&conn, "1", "alice", u64::MAX, now).unwrap();
    assert_eq!(ids(&early.calls), ["call_c", "call_a", "call_b"]);
}

/// The sweep's read: due pending calls of every app and callee, oldest
/// first (ties by id), at most `limit`; the next deadline among the others;
/// and the expiry of each one moves it exactly once.
#[test]
fn due_finds_pending_calls_past_their_deadline_and_the_next_deadline() {
    let db = test_db();
    let conn = Conn::sqlite(&db);
    let timeout = 30_000;
    let now = 1_000_000;
    assert_eq!(due(&conn, timeout, now, 10).unwrap(), Due::default());
    // Due: exactly at the deadline and past it, any app, any callee.
    stored(&conn, "call_d2", "1", "bob", "alice", now - timeout);
    stored(&conn, "call_d1", "2", "carol", "dave", now - timeout - 5);
    stored(&conn, "call_d0", "1", "bob", "erin", now - timeout - 5);
    set_status(&conn, "call_d0", Status::Ringing);
    // Not due: terminal, answered (whatever their age), or still ringing.
    stored(&conn, "call_over", "1", "bob", "alice", now - timeout - 9);
    set_status(&conn, "call_over", Status::Cancelled);
    stored(&conn, "call_live", "1", "bob", "alice", now - timeout - 9);
    set_status(&conn, "call_live", Status::Active);
    stored(&conn, "call_later", "1", "bob", "alice", now - 10);
    stored(&conn, "call_soon", "1", "bob", "alice", now - timeout + 1);

    let found = due(&conn, timeout, now, 10).unwrap();
    assert_eq!(found.call_ids, ["call_d0", "call_d1", "call_d2"]);
    assert_eq!(found.next_deadline_ms, Some(now + 1));
    assert_eq!(
        due(&conn, timeout, now, 2).unwrap().call_ids,
        ["call_d0", "call_d1"]
    );
    // Early on the clock (now < timeout) nothing is due.
    let early = due(&conn, u64::MAX, now, 10).unwrap();
    assert!(early.call_ids.is_empty());
    assert_eq!(early.next_deadline_ms, Some(u64::MAX));

    // Each expiry is conditional: the first moves the call, a second (a
    // sweep on another node) finds nothing to do.
    for id in &found.call_ids {
        let missed = expire(&conn, id, timeout).unwrap().expect("expired");
        assert_eq!(missed.status, Status::Missed);
        assert_eq!(missed.end_reason.as_deref(), Some("ring_timeout"));
        assert_eq!(expire(&conn, id, timeout).unwrap(), None);
    }
    let after = due(&conn, timeout, now, 10).unwrap();
    assert!(after.call_ids.is_empty());
    assert_eq!(after.next_deadline_ms, Some(now + 1));
    // A call that is not due is left alone by expire.
    assert_eq!(expire(&conn, "call_later", u64::MAX).unwrap(), None);
}

#[test]
fn pending_for_callee_returns_at_most_fifty() {
    let db = test_db();
    let conn = Conn::sqlite(&db);
    for i in 0..(MAX_LISTED + 5) {
        let id = format!("call_{i:03}");
        stored(&conn, &id, "1", "bob", "alice", 1_000 + i as u64);
    }
    let listed = pending_for_callee_at(&conn, "1", "alice", 30_000, 2_000).unwrap();
    assert_eq!(listed.calls.len(), MAX_LISTED);
    assert_eq!(listed.calls[0].call_id, "call_000");
    assert_eq!(listed.calls[MAX_LISTED - 1].call_id, "call_049");
}

#[test]
fn the_call_object_shows_answer_and_reason_only_when_set() {
    let c = call(Status::Ringing, None);
    let v = serde_json::to_value(&c).unwrap();
    assert!(v.get("answered_by_device").is_none(), "{v}");
    assert!(v.get("end_reason").is_none(), "{v}");
    assert_eq!(v["room_name"], "call_x");
    let c = call(Status::Active, None);
    let v = serde_json::to_value(&c).unwrap();
    assert_eq!(v["answered_by_device"], Value::Null, "{v}");
}
