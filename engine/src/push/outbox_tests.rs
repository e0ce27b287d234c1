//! Tests of the outbox storage (in-memory database).

use super::*;
use crate::config::DatabaseLocation;
use crate::db::calls::{insert, Status};
use crate::db::Db;
use crate::push::payload::ending;

const CALL: &str = "call_AAAAAAAAAAAAAAAAAAAAAA";

fn db() -> Db {
    let db = Db::open(&DatabaseLocation::Memory).unwrap();
    db.call_blocking(|c| {
        c.execute_batch(
            "INSERT INTO apps VALUES ('1', 'a', 'k', 's', 'free', 1, NULL, NULL, NULL, 1, 1, 0)",
        )?;
        Ok(())
    })
    .unwrap();
    db
}

fn record(status: Status) -> CallRecord {
    CallRecord {
        call_id: CALL.into(),
        app_id: "1".into(),
        call_type: "audio_call".into(),
        status,
        caller_identity: "bob".into(),
        caller_name: None,
        callee_identity: "alice".into(),
        callee_name: None,
        metadata: serde_json::json!({}),
        created_at_ms: 1_000,
        updated_at_ms: 1_000,
        answered: false,
        answered_by_device: None,
        end_reason: None,
    }
}

fn set_status(c: &Conn<'_>, status: &str, device: Option<&str>) {
    c.execute(
        "UPDATE calls SET status = ?1, answered_by_device = ?2,
             answered_at_ms = CASE WHEN ?1 = 'active' THEN 1 ELSE answered_at_ms END",
        params![status, device],
    )
    .unwrap();
}

fn push<'a>(
    kind: &'a str,
    platform: &'a str,
    token: &'a str,
    device: Option<&'a str>,
) -> NewPush<'a> {
    NewPush {
        app_id: "1",
        call_id: CALL,
        kind,
        platform,
        token,
        device_id: device,
        reason: None,
        expires_at_ms: 31_000,
    }
}

fn rows(c: &Conn<'_>) -> Vec<(String, String, Option<String>)> {
    c.query_map(
        "SELECT kind, token, reason FROM push_outbox ORDER BY push_id",
        params![],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .unwrap()
}

#[test]
fn rows_are_claimed_once_by_lease_and_released_or_rescheduled() {
    let db = db();
    db.call_blocking(|c| {
        assert!(insert(c, &record(Status::Initiating))?);
        assert!(enqueue(
            c,
            &push(KIND_CALL, FCM, "f1", Some("phone")),
            1_000
        )?);
        assert!(
            !enqueue(c, &push(KIND_CALL, FCM, "f1", Some("phone")), 1_000)?,
            "unique"
        );
        assert!(enqueue(c, &push(KIND_CALL, APNS_VOIP, "a1", None), 1_000)?);

        let b = claim_due(c, "me", 2_000, 30_000, 10)?;
        assert_eq!(b.claimed.len(), 2);
        assert_eq!(b.claimed[0].attempts, 1);
        assert_eq!(b.claimed[0].call.as_ref().unwrap().caller_identity, "bob");
        assert_eq!(b.next_due_ms, Some(32_000), "the leases");
        // Leased: nobody else gets them.
        let other = claim_due(c, "other", 3_000, 30_000, 10)?;
        assert!(other.claimed.is_empty() && other.dropped.is_empty());
        // Only the lease owner reschedules.
        let id = b.claimed[0].push_id;
        assert!(!reschedule(c, id, "other", 4_000, "x")?);
        assert!(reschedule(c, id, "me", 4_000, "503")?);
        assert_eq!(
            claim_due(c, "other", 3_999, 30_000, 10)?.next_due_ms,
            Some(4_000)
        );
        let again = claim_due(c, "other", 4_000, 30_000, 10)?;
        assert_eq!(again.claimed.len(), 1);
        assert_eq!(again.claimed[0].attempts, 2);
        // A clean stop gives the leases back.
        assert_eq!(release_leases(c, "me")?, 1);
        assert_eq!(claim_due(c, "third", 4_001, 30_000, 10)?.claimed.len(), 1);
        Ok(())
    })
    .unwrap();
}

#[test]
fn expired_rows_and_pushes_of_calls_no_longer_ringing_are_dropped_unsent() {
    let db = db();
    db.call_blocking(|c| {
        assert!(insert(c, &record(Status::Initiating))?);
        enqueue(c, &push(KIND_CALL, FCM, "f1", None), 1_000)?;
        let b = claim_due(c, "me", 31_000, 30_000, 10)?;
        assert!(b.claimed.is_empty());
        assert_eq!(b.dropped[0].why, "expired");
        assert_eq!(b.next_due_ms, None);

        enqueue(c, &push(KIND_CALL, FCM, "f2", None), 1_000)?;
        set_status(c, "cancelled", None);
        let b = claim_due(c, "me", 2_000, 30_000, 10)?;
        assert!(b.claimed.is_empty());
        assert_eq!(b.dropped[0].why, "call_over");
        assert!(rows(c).is_empty());
        Ok(())
    })
    .unwrap();
}

#[test]
fn call_over_drops_unsent_pushes_and_ends_the_delivered_ones_except_the_answering_device() {
    let db = db();
    db.call_blocking(|c| {
        assert!(insert(c, &record(Status::Initiating))?);
        for (token, device) in [("f1", Some("phone")), ("f2", Some("tablet")), ("f3", None)] {
            enqueue(c, &push(KIND_CALL, FCM, token, device), 1_000)?;
        }
        enqueue(c, &push(KIND_CALL, FCM, "late", Some("tv")), 1_000)?;
        let b = claim_due(c, "me", 2_000, 30_000, 10)?;
        for row in b.claimed.iter().filter(|r| r.token != "late") {
            assert!(!delivered(c, row, 2_100, ending, 60_000)?);
        }
        assert_eq!(rows(c).len(), 1, "the late one is still in flight");
        // Answered on the phone.
        set_status(c, "active", Some("phone"));
        let over = call_over(c, CALL, "answered_elsewhere", Some("phone"), 3_000, 60_000)?;
        assert_eq!(
            over,
            Over {
                dropped: 1,
                queued: 2
            }
        );
        let r = rows(c);
        assert_eq!(
            r,
            [
                (
                    "call_ended".into(),
                    "f2".into(),
                    Some("answered_elsewhere".into())
                ),
                (
                    "call_ended".into(),
                    "f3".into(),
                    Some("answered_elsewhere".into())
                ),
            ]
        );
        // The in-flight one lands after the call stopped ringing: it is
        // told at once.
        let late = b.claimed.iter().find(|r| r.token == "late").unwrap();
        assert!(delivered(c, late, 3_100, ending, 60_000)?);
        assert_eq!(rows(c).len(), 3);
        // Deliveries are consumed: a later transition queues nothing.
        set_status(c, "ended", Some("phone"));
        assert_eq!(
            call_over(c, CALL, "ended", None, 4_000, 60_000)?,
            Over::default()
        );
        // call_ended rows carry their reason and die after their TTL.
        let b = claim_due(c, "me", 5_000, 30_000, 10)?;
        assert_eq!(b.claimed.len(), 3);
        assert!(b
            .claimed
            .iter()
            .all(|r| r.kind == KIND_CALL_ENDED && r.expires_at_ms >= 63_000));
        Ok(())
    })
    .unwrap();
}

#[test]
fn a_dead_token_is_forgotten_everywhere_and_prune_keeps_enabled_platforms() {
    let db = db();
    db.call_blocking(|c| {
        assert!(insert(c, &record(Status::Initiating))?);
        crate::db::push::register(c, "1", "alice", "fcm", "f1", Some("phone"))?;
        crate::db::push::register(c, "1", "alice", "apns_voip", "a1", Some("phone"))?;
        let toks = tokens_of(c, "1", "alice", &[FCM])?;
        assert_eq!(
            toks,
            [("fcm".to_owned(), "f1".to_owned(), Some("phone".to_owned()))]
        );
        enqueue(c, &push(KIND_CALL, FCM, "f1", None), 1_000)?;
        enqueue(c, &push(KIND_CALL, APNS_VOIP, "a1", None), 1_000)?;
        assert!(forget_token(c, "1", "f1")?);
        assert!(!forget_token(c, "1", "f1")?);
        assert_eq!(tokens_of(c, "1", "alice", &[FCM, APNS_VOIP])?.len(), 1);
        assert_eq!(rows(c).len(), 1);
        assert_eq!(prune_platforms(c, &[APNS_VOIP])?, 0);
        assert_eq!(prune_platforms(c, &[FCM])?, 1);
        assert!(rows(c).is_empty());
        Ok(())
    })
    .unwrap();
}
