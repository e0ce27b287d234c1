//! 1:1 calls (engine-api.md §5): the transition table, pushes to every
//! device of both parties, who may act, and the ring timeout (also across a
//! restart).

mod common;

use std::time::Duration;

use common::calls::*;
use common::{connected, error_code, status_json, Harness};
use serde_json::{json, Value};
use utd_engine::{DatabaseLocation, EngineConfig, Plan};

#[tokio::test]
async fn happy_path_pushes_every_transition_to_both_parties() {
    let h = Harness::start().await;
    let app = h.app(Plan::Signaling).await;
    let bob = session(&h, &app, "bob", Some("bob-phone"), Some("Bob")).await;
    let alice = session(&h, &app, "alice", Some("ios-1"), Some("Alice A")).await;
    let (mut bob_ws, _) = connected(&h, &bob).await;
    let (mut alice_ws, _) = connected(&h, &alice).await;

    let before = h.counts().await;
    let (s, created) = create(
        &h,
        &bob,
        json!({"callee_identity": "alice", "callee_name": "Alice", "type": "video_call",
               "metadata": {"topic": "hello", "n": 1}}),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let after = h.counts().await;
    assert_eq!(after["calls"], before["calls"] + 1);
    assert_eq!(
        after["rooms"],
        before["rooms"] + 1,
        "the call's room record"
    );
    assert_call_id(&created["call_id"]);
    let call_id = id(&created);
    let created_at = created["created_at_ms"].as_u64().unwrap();
    assert!(created_at > 0);
    assert_eq!(
        without_join(&created),
        json!({
            "call_id": call_id, "type": "video_call", "status": "initiating",
            "caller_identity": "bob", "caller_name": "Bob",
            "callee_identity": "alice", "callee_name": "Alice",
            "room_name": call_id, "metadata": {"topic": "hello", "n": 1},
            "created_at_ms": created_at, "updated_at_ms": created_at,
        })
    );
    let join = &created["join"];
    assert_eq!(join["room_name"], call_id.as_str());
    assert_eq!(join["url"], "ws://127.0.0.1:7880");
    let c = claims(join["token"].as_str().unwrap(), "devkey", "secret");
    assert_eq!(c.sub, "bob");
    assert_eq!(c.name, "Bob");
    assert_eq!(c.metadata, r#"{"role":"caller"}"#);
    assert_eq!(c.video.room, format!("{}_{call_id}", app.app_id));
    assert!(c.video.room_join && c.video.can_publish() && !c.video.room_admin);
    assert_eq!(c.video.can_publish_sources, vec!["camera", "microphone"]);

    // Creation: an invitation to the callee, an update to the caller.
    assert_eq!(
        next_call(&mut alice_ws, "call.invitation").await,
        without_join(&created)
    );
    assert_eq!(
        next_call(&mut bob_ws, "call.updated").await,
        without_join(&created)
    );

    // The callee rings (twice: the duplicate changes and pushes nothing).
    let (s, ringing) = act(&h, &alice, &call_id, "ringing").await;
    assert_eq!(s, 200, "{ringing}");
    assert_eq!(ringing["status"], "ringing");
    assert!(ringing.get("join").is_none(), "{ringing}");
    let (s, again) = act(&h, &alice, &call_id, "ringing").await;
    assert_eq!((s, &again), (200, &ringing));
    for ws in [&mut alice_ws, &mut bob_ws] {
        assert_eq!(next_call(ws, "call.updated").await, ringing);
    }

    // Accept: active, answered on this device, the callee's join.
    let (s, accepted) = act(&h, &alice, &call_id, "accept").await;
    assert_eq!(s, 200, "{accepted}");
    assert_eq!(accepted["status"], "active");
    assert_eq!(accepted["answered_by_device"], "ios-1");
    assert!(accepted.get("end_reason").is_none(), "{accepted}");
    let c = claims(
        accepted["join"]["token"].as_str().unwrap(),
        "devkey",
        "secret",
    );
    assert_eq!(
        (c.sub.as_str(), c.name.as_str(), c.metadata.as_str()),
        ("alice", "Alice A", r#"{"role":"callee"}"#)
    );
    assert_eq!(c.video.room, format!("{}_{call_id}", app.app_id));
    assert_eq!(c.video.can_publish_sources, vec!["camera", "microphone"]);
    for ws in [&mut alice_ws, &mut bob_ws] {
        assert_eq!(next_call(ws, "call.updated").await, without_join(&accepted));
    }

    // A late `ringing` and a `reject` of an active call change nothing.
    let (s, late) = act(&h, &alice, &call_id, "ringing").await;
    assert_eq!((s, late["status"].as_str()), (200, Some("active")));
    let (s, late) = act(&h, &alice, &call_id, "reject").await;
    assert_eq!((s, &late), (200, &without_join(&accepted)));

    // The caller hangs up.
    let (s, ended) = act(&h, &bob, &call_id, "end").await;
    assert_eq!(s, 200, "{ended}");
    assert_eq!(ended["status"], "ended");
    assert_eq!(ended["end_reason"], "hangup_caller");
    assert_eq!(ended["answered_by_device"], "ios-1");
    assert!(ended["updated_at_ms"].as_u64() >= accepted["updated_at_ms"].as_u64());
    for ws in [&mut alice_ws, &mut bob_ws] {
        assert_eq!(next_call(ws, "call.updated").await, ended);
    }
    let (s, got) = h.get(&format!("/api/v1/calls/{call_id}"), &alice).await;
    assert_eq!((s, &got), (200, &ended));
    let (s, got) = h.get(&format!("/api/v1/calls/{call_id}"), &bob).await;
    assert_eq!((s, &got), (200, &ended));
    // Over is over: no more pushes, accept is an invalid state.
    let (s, e) = act(&h, &alice, &call_id, "accept").await;
    assert_eq!((s, error_code(&e).as_str()), (409, "invalid_state"));
    let (s, same) = act(&h, &alice, &call_id, "end").await;
    assert_eq!((s, &same), (200, &ended));
    quiet(&mut alice_ws, 300).await;
    quiet(&mut bob_ws, 100).await;
    h.engine.shutdown().await;
}

/// Expected outcome of one row.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// 200 with this status and end_reason (None: no end_reason).
    Ok(&'static str, Option<&'static str>),
    /// An error status and code.
    Err(u16, &'static str),
}

/// Every row of the table in engine-api.md §5, including the wrong party.
#[tokio::test]
async fn every_row_of_the_transition_table() {
    use Want::{Err, Ok};
    let h = Harness::start().await;
    let app = h.app(Plan::Signaling).await;
    h.admin
        .set_rate_limits(&app.app_id, 100_000, 1_000_000)
        .await
        .unwrap();
    let bob = session(&h, &app, "bob", Some("b1"), None).await;
    let alice = session(&h, &app, "alice", Some("d1"), None).await;
    let alice2 = session(&h, &app, "alice", Some("d2"), None).await;

    let forbidden = Err(403, "forbidden");
    let mut rows: Vec<(&str, &str, &str, Want)> = vec![];
    for from in ["initiating", "ringing"] {
        rows.extend([
            ("ringing", "callee", from, Ok("ringing", None)),
            ("accept", "callee", from, Ok("active", None)),
            ("reject", "callee", from, Ok("rejected", Some("rejected"))),
            ("busy", "callee", from, Ok("busy", Some("busy"))),
            ("cancel", "caller", from, Ok("cancelled", Some("cancelled"))),
            ("end", "caller", from, Ok("cancelled", Some("cancelled"))),
            ("end", "callee", from, Ok("rejected", Some("rejected"))),
        ]);
    }
    rows.extend([
        ("ringing", "callee", "active", Ok("active", None)),
        ("accept", "callee", "active", Ok("active", None)),
        (
            "accept",
            "callee-other-device",
            "active",
            Err(409, "conflict"),
        ),
        ("reject", "callee", "active", Ok("active", None)),
        ("busy", "callee", "active", Ok("active", None)),
        (
            "cancel",
            "caller",
            "active",
            Ok("ended", Some("hangup_caller")),
        ),
        (
            "end",
            "caller",
            "active",
            Ok("ended", Some("hangup_caller")),
        ),
        (
            "end",
            "callee",
            "active",
            Ok("ended", Some("hangup_callee")),
        ),
    ]);
    for (from, reason) in [
        ("rejected", "rejected"),
        ("busy", "busy"),
        ("cancelled", "cancelled"),
        ("ended", "hangup_caller"),
    ] {
        let same = Ok(from, Some(reason));
        rows.extend([
            ("ringing", "callee", from, same),
            ("accept", "callee", from, Err(409, "invalid_state")),
            ("reject", "callee", from, same),
            ("busy", "callee", from, same),
            ("cancel", "caller", from, same),
            ("end", "caller", from, same),
            ("end", "callee", from, same),
        ]);
    }
    // The wrong party, from every state.
    for from in [
        "initiating",
        "ringing",
        "active",
        "rejected",
        "cancelled",
        "ended",
    ] {
        rows.extend([
            ("ringing", "caller", from, forbidden),
            ("accept", "caller", from, forbidden),
            ("reject", "caller", from, forbidden),
            ("busy", "caller", from, forbidden),
            ("cancel", "callee", from, forbidden),
        ]);
    }

    for (action, who, from, want) in rows {
        let call_id = setup(&h, &bob, &alice, from).await;
        let (_, before) = h.get(&format!("/api/v1/calls/{call_id}"), &bob).await;
        let bearer = match who {
            "caller" => &bob,
            "callee" => &alice,
            _ => &alice2,
        };
        let (s, b) = act(&h, bearer, &call_id, action).await;
        let what = format!("{action} by {who} from {from}: {b}");
        let (_, now) = h.get(&format!("/api/v1/calls/{call_id}"), &bob).await;
        match want {
            Ok(status, reason) => {
                assert_eq!(s, 200, "{what}");
                assert_eq!(b["status"], status, "{what}");
                assert_eq!(b["end_reason"].as_str(), reason, "{what}");
                assert_eq!(without_join(&b), now, "{what}: reply = GET");
                if status == from {
                    assert_eq!(now, before, "{what}: no change means no change");
                } else {
                    assert!(now["updated_at_ms"].as_u64() >= before["updated_at_ms"].as_u64());
                }
                // Only accept answers with join credentials.
                assert_eq!(b.get("join").is_some(), action == "accept", "{what}: join");
                if status == "active" {
                    assert_eq!(b["answered_by_device"], "d1", "{what}");
                }
            }
            Err(code, kind) => {
                assert_eq!((s, error_code(&b).as_str()), (code, kind), "{what}");
                assert_eq!(now, before, "{what}: a refusal changes nothing");
            }
        }
    }
    h.engine.shutdown().await;
}

/// Reject, busy and cancel-while-ringing end the call for both parties.
#[tokio::test]
async fn reject_busy_and_cancel_reach_both_parties() {
    let h = Harness::start().await;
    let app = h.app(Plan::Signaling).await;
    let bob = session(&h, &app, "bob", None, None).await;
    let alice = session(&h, &app, "alice", None, None).await;
    let (mut bob_ws, _) = connected(&h, &bob).await;
    let (mut alice_ws, _) = connected(&h, &alice).await;
    for (who, action, status, reason) in [
        ("callee", "reject", "rejected", "rejected"),
        ("callee", "busy", "busy", "busy"),
        ("caller", "cancel", "cancelled", "cancelled"),
    ] {
        let created = call(&h, &bob, "alice").await;
        let call_id = id(&created);
        next_call(&mut alice_ws, "call.invitation").await;
        next_call(&mut bob_ws, "call.updated").await;
        let (s, _) = act(&h, &alice, &call_id, "ringing").await;
        assert_eq!(s, 200);
        next_call(&mut alice_ws, "call.updated").await;
        next_call(&mut bob_ws, "call.updated").await;
        let bearer = if who == "caller" { &bob } else { &alice };
        let (s, b) = act(&h, bearer, &call_id, action).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(
            (b["status"].as_str(), b["end_reason"].as_str()),
            (Some(status), Some(reason))
        );
        assert!(b.get("answered_by_device").is_none(), "{b}");
        for ws in [&mut alice_ws, &mut bob_ws] {
            assert_eq!(next_call(ws, "call.updated").await, b);
        }
    }
    h.engine.shutdown().await;
}

#[tokio::test]
async fn ring_timeout_makes_the_call_missed_for_both_parties() {
    let mut config = EngineConfig::for_tests();
    config.ring_timeout = Duration::from_secs(1);
    let h = Harness::with_config(config).await;
    let app = h.app(Plan::Signaling).await;
    let bob = session(&h, &app, "bob", None, None).await;
    let alice = session(&h, &app, "alice", Some("d1"), None).await;
    let (mut bob_ws, _) = connected(&h, &bob).await;
    let (mut alice_ws, _) = connected(&h, &alice).await;

    let created = call(&h, &bob, "alice").await;
    let call_id = id(&created);
    next_call(&mut alice_ws, "call.invitation").await;
    next_call(&mut bob_ws, "call.updated").await;
    let (s, _) = act(&h, &alice, &call_id, "ringing").await;
    assert_eq!(s, 200);
    next_call(&mut alice_ws, "call.updated").await;
    next_call(&mut bob_ws, "call.updated").await;

    // Nobody answers: missed, pushed to both, about a second after creation.
    let missed = next_call(&mut alice_ws, "call.updated").await;
    assert_eq!(next_call(&mut bob_ws, "call.updated").await, missed);
    assert_eq!(missed["status"], "missed", "{missed}");
    assert_eq!(missed["end_reason"], "ring_timeout");
    assert!(missed.get("answered_by_device").is_none());
    let after =
        missed["updated_at_ms"].as_u64().unwrap() - created["created_at_ms"].as_u64().unwrap();
    assert!(after >= 1000, "{after} ms");
    let (s, got) = h.get(&format!("/api/v1/calls/{call_id}"), &bob).await;
    assert_eq!((s, &got), (200, &missed));
    let (s, e) = act(&h, &alice, &call_id, "accept").await;
    assert_eq!((s, error_code(&e).as_str()), (409, "invalid_state"));
    let (s, same) = act(&h, &bob, &call_id, "cancel").await;
    assert_eq!((s, &same), (200, &missed));

    // An answered call is not touched by the timeout.
    let created = call(&h, &bob, "alice").await;
    let call_id = id(&created);
    next_call(&mut alice_ws, "call.invitation").await;
    next_call(&mut bob_ws, "call.updated").await;
    let (s, b) = act(&h, &alice, &call_id, "accept").await;
    assert_eq!((s, b["status"].as_str()), (200, Some("active")));
    next_call(&mut alice_ws, "call.updated").await;
    next_call(&mut bob_ws, "call.updated").await;
    quiet(&mut bob_ws, 1500).await;
    let (_, got) = h.get(&format!("/api/v1/calls/{call_id}"), &bob).await;
    assert_eq!(got["status"], "active");
    h.engine.shutdown().await;
}

/// Two devices of the callee ring; the one that answers wins, the other sees
/// the answer (with the winner's device) and cannot answer too.
#[tokio::test]
async fn a_second_callee_device_sees_the_answer_and_cannot_take_it() {
    let h = Harness::start().await;
    let app = h.app(Plan::Signaling).await;
    let bob = session(&h, &app, "bob", None, None).await;
    let phone = session(&h, &app, "alice", Some("phone"), None).await;
    let tablet = session(&h, &app, "alice", Some("tablet"), None).await;
    let (mut bob_ws, _) = connected(&h, &bob).await;
    let (mut phone_ws, _) = connected(&h, &phone).await;
    let (mut tablet_ws, _) = connected(&h, &tablet).await;

    let created = call(&h, &bob, "alice").await;
    let call_id = id(&created);
    for ws in [&mut phone_ws, &mut tablet_ws] {
        assert_eq!(
            next_call(ws, "call.invitation").await,
            without_join(&created)
        );
    }
    next_call(&mut bob_ws, "call.updated").await;
    // Both devices ring: the first report moves the call, the second is a no-op.
    for bearer in [&phone, &tablet] {
        let (s, b) = act(&h, bearer, &call_id, "ringing").await;
        assert_eq!((s, b["status"].as_str()), (200, Some("ringing")));
    }
    for ws in [&mut phone_ws, &mut tablet_ws, &mut bob_ws] {
        assert_eq!(next_call(ws, "call.updated").await["status"], "ringing");
    }

    let (s, accepted) = act(&h, &phone, &call_id, "accept").await;
    assert_eq!(s, 200, "{accepted}");
    for ws in [&mut phone_ws, &mut tablet_ws, &mut bob_ws] {
        let c = next_call(ws, "call.updated").await;
        assert_eq!(
            (c["status"].as_str(), c["answered_by_device"].as_str()),
            (Some("active"), Some("phone")),
            "{c}"
        );
    }
    let (s, e) = act(&h, &tablet, &call_id, "accept").await;
    assert_eq!((s, error_code(&e).as_str()), (409, "conflict"), "{e}");
    // The tablet's late decline changes nothing either.
    let (s, b) = act(&h, &tablet, &call_id, "reject").await;
    assert_eq!((s, b["status"].as_str()), (200, Some("active")));
    // The answering device may accept again (e.g. after a crash): same call, new join.
    let (s, again) = act(&h, &phone, &call_id, "accept").await;
    assert_eq!(s, 200, "{again}");
    assert_eq!(without_join(&again), without_join(&accepted));
    assert!(again["join"]["token"].is_string());
    quiet(&mut tablet_ws, 300).await;
    h.engine.shutdown().await;
}

#[tokio::test]
async fn concurrent_accepts_from_two_devices_have_one_winner() {
    let h = Harness::start().await;
    let app = h.app(Plan::Signaling).await;
    let bob = session(&h, &app, "bob", None, None).await;
    let d1 = session(&h, &app, "alice", Some("d1"), None).await;
    let d2 = session(&h, &app, "alice", Some("d2"), None).await;
    for _ in 0..20 {
        let call_id = id(&call(&h, &bob, "alice").await);
        let (a, b) = tokio::join!(
            act(&h, &d1, &call_id, "accept"),
            act(&h, &d2, &call_id, "accept")
        );
        let (winner, loser, device) = match (a.0, b.0) {
            (200, 409) => (a.1, b.1, "d1"),
            (409, 200) => (b.1, a.1, "d2"),
            other => panic!("not exactly one winner: {other:?} {} {}", a.1, b.1),
        };
        assert_eq!(error_code(&loser), "conflict", "{loser}");
        assert_eq!(winner["answered_by_device"], device, "{winner}");
        let (_, got) = h.get(&format!("/api/v1/calls/{call_id}"), &bob).await;
        assert_eq!(got, without_join(&winner));
    }
    h.engine.shutdown().await;
}

/// Only the two parties may read or act; other apps do not see the call;
/// refusals write nothing.
#[tokio::test]
async fn only_the_parties_of_the_app_see_the_call() {
    let h = Harness::start().await;
    let app = h.app(Plan::Signaling).await;
    let other_app = h.app(Plan::Signaling).await;
    let bob = session(&h, &app, "bob", None, None).await;
    let alice = session(&h, &app, "alice", None, None).await;
    let carol = session(&h, &app, "carol", None, None).await;
    // Same identity, another app.
    let alice_elsewhere = session(&h, &other_app, "alice", None, None).await;
    let (mut carol_ws, _) = connected(&h, &carol).await;
    let (mut elsewhere_ws, _) = connected(&h, &alice_elsewhere).await;
    let call_id = id(&call(&h, &bob, "alice").await);

    let before = h.counts().await;
    let path = format!("/api/v1/calls/{call_id}");
    let (s, e) = h.get(&path, &carol).await;
    assert_eq!((s, error_code(&e).as_str()), (403, "forbidden"));
    let (s, e) = h.get(&path, &alice_elsewhere).await;
    assert_eq!((s, error_code(&e).as_str()), (404, "not_found"));
    for action in ["ringing", "accept", "reject", "busy", "cancel", "end"] {
        let (s, e) = act(&h, &carol, &call_id, action).await;
        assert_eq!((s, error_code(&e).as_str()), (403, "forbidden"), "{action}");
        let (s, e) = act(&h, &alice_elsewhere, &call_id, action).await;
        assert_eq!((s, error_code(&e).as_str()), (404, "not_found"), "{action}");
    }
    for unknown in ["call_AAAAAAAAAAAAAAAAAAAAAA", "c1", "call_x"] {
        let (s, e) = h.get(&format!("/api/v1/calls/{unknown}"), &alice).await;
        assert_eq!(
            (s, error_code(&e).as_str()),
            (404, "not_found"),
            "{unknown}"
        );
        let (s, e) = act(&h, &alice, unknown, "accept").await;
        assert_eq!(
            (s, error_code(&e).as_str()),
            (404, "not_found"),
            "{unknown}"
        );
    }
    // Unknown actions are unknown routes; other methods are 405.
    let (s, e) = act(&h, &alice, &call_id, "answer").await;
    assert_eq!((s, error_code(&e).as_str()), (404, "not_found"));
    let resp = h
        .http
        .delete(h.url(&path))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    let (s, e) = status_json(resp).await;
    assert_eq!((s, error_code(&e).as_str()), (405, "invalid_argument"));
    let (s, e) = h
        .get(&format!("/api/v1/calls/{call_id}/accept"), &alice)
        .await;
    assert_eq!((s, error_code(&e).as_str()), (405, "invalid_argument"));
    assert_eq!(h.counts().await, before);
    // No one else heard of it.
    quiet(&mut carol_ws, 200).await;
    quiet(&mut elsewhere_ws, 100).await;
    // Still ringing for the real parties.
    let (s, b) = h.get(&path, &alice).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("initiating")));
    h.engine.shutdown().await;
}

#[tokio::test]
async fn create_validates_the_request_and_the_plan() {
    let h = Harness::start().await;
    let app = h.app(Plan::Signaling).await;
    let bob = session(&h, &app, "bob", None, None).await;
    let before = h.counts().await;
    let bad = [
        json!({"callee_identity": "bob", "type": "audio_call"}),
        json!({"callee_identity": "alice", "type": "audio_room"}),
        json!({"callee_identity": "alice"}),
        json!({"callee_identity": "a b", "type": "audio_call"}),
        json!({"callee_identity": "alice", "type": "audio_call", "metadata": [1]}),
        json!({"callee_identity": "alice", "type": "audio_call", "metadata": "x"}),
        json!({"callee_identity": "alice", "type": "audio_call", "callee_name": ""}),
        json!({"callee_identity": "alice", "type": "audio_call", "extra": 1}),
        // {"k":"…"} is 8 bytes plus the value: 4097 bytes serialized.
        json!({"callee_identity": "alice", "type": "audio_call",
               "metadata": {"k": "x".repeat(4089)}}),
    ];
    for body in bad {
        let (s, e) = create(&h, &bob, body.clone()).await;
        assert_eq!(
            (s, error_code(&e).as_str()),
            (400, "invalid_argument"),
            "{body}"
        );
    }
    assert_eq!(h.counts().await, before, "refusals write nothing");
    // Exactly 4 KiB is fine; null metadata is {}.
    let (s, b) = create(
        &h,
        &bob,
        json!({"callee_identity": "alice", "type": "audio_call",
               "metadata": {"k": "x".repeat(4088)}}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = create(
        &h,
        &bob,
        json!({"callee_identity": "alice", "type": "audio_call", "metadata": null,
               "callee_name": null}),
    )
    .await;
    assert_eq!(
        (s, &b["metadata"], &b["callee_name"]),
        (201, &json!({}), &Value::Null)
    );

    // Plans without signaling: feature_disabled, for every call route.
    let free = h.app(Plan::Free).await;
    let f = session(&h, &free, "bob", None, None).await;
    let before = h.counts().await;
    let (s, e) = create(
        &h,
        &f,
        json!({"callee_identity": "alice", "type": "audio_call"}),
    )
    .await;
    assert_eq!((s, error_code(&e).as_str()), (403, "feature_disabled"));
    assert_eq!(e["error"]["capability"], "signaling");
    let call_id = id(&b);
    let (s, e) = h.get(&format!("/api/v1/calls/{call_id}"), &f).await;
    assert_eq!(
        (s, e["error"]["capability"].as_str()),
        (403, Some("signaling"))
    );
    let (s, e) = act(&h, &f, &call_id, "end").await;
    assert_eq!(
        (s, e["error"]["capability"].as_str()),
        (403, Some("signaling"))
    );
    assert_eq!(h.counts().await, before);

    // Bans and rate limits apply.
    let (s, _) = h.mint(&app, "mallory").await;
    assert_eq!(s, 200);
    let mallory = session(&h, &app, "mallory", None, None).await;
    h.admin.ban(&app.app_id, "mallory").await.unwrap();
    let (s, e) = create(
        &h,
        &mallory,
        json!({"callee_identity": "alice", "type": "audio_call"}),
    )
    .await;
    assert_eq!((s, error_code(&e).as_str()), (403, "banned"));
    h.admin.set_rate_limits(&app.app_id, 1, 1000).await.unwrap();
    let mut limited = false;
    for _ in 0..3 {
        let (s, e) = h.get(&format!("/api/v1/calls/{call_id}"), &bob).await;
        if s == 429 {
            assert_eq!(error_code(&e), "rate_limited");
            limited = true;
            break;
        }
    }
    assert!(limited, "the per-user bucket of 1/min runs out");
    h.engine.shutdown().await;
}

/// A file-backed engine stopped while a call rings still has the call after
/// a restart, and its ring timeout still fires.
#[tokio::test]
async fn a_ringing_call_survives_a_restart_and_still_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = EngineConfig::for_tests();
    config.database = DatabaseLocation::File(dir.path().join("engine.sqlite3"));
    config.ring_timeout = Duration::from_secs(600);

    let h = Harness::with_config(config.clone()).await;
    let app = h.app(Plan::Signaling).await;
    let bob = session(&h, &app, "bob", None, None).await;
    let alice = session(&h, &app, "alice", Some("d1"), None).await;
    let created = call(&h, &bob, "alice").await;
    let call_id = id(&created);
    let (s, ringing) = act(&h, &alice, &call_id, "ringing").await;
    assert_eq!(s, 200);
    // A second call that is answered before the restart stays answered.
    let answered = id(&call(&h, &bob, "alice").await);
    let (s, _) = act(&h, &alice, &answered, "accept").await;
    assert_eq!(s, 200);
    h.engine.shutdown().await;

    // The restarted engine runs with a short ring timeout (counted from the
    // call's creation).
    config.ring_timeout = Duration::from_secs(5);
    let h = Harness::with_config(config).await;
    let (mut bob_ws, _) = connected(&h, &bob).await;
    let (mut alice_ws, _) = connected(&h, &alice).await;
    let (s, got) = h.get(&format!("/api/v1/calls/{call_id}"), &bob).await;
    assert_eq!(
        (s, &got),
        (200, &ringing),
        "the call is still there, ringing"
    );
    let missed = next_call(&mut alice_ws, "call.updated").await;
    assert_eq!(next_call(&mut bob_ws, "call.updated").await, missed);
    assert_eq!(
        (
            missed["call_id"].as_str(),
            missed["status"].as_str(),
            missed["end_reason"].as_str()
        ),
        (Some(call_id.as_str()), Some("missed"), Some("ring_timeout"))
    );
    let (_, got) = h.get(&format!("/api/v1/calls/{answered}"), &bob).await;
    assert_eq!(got["status"], "active");
    h.engine.shutdown().await;
}
