//! 1:1 calls (engine-api.md §5): the transition table, pushes to every
//! device of both parties, the ring timeout (also across a restart), and the
//! call's LiveKit room (at most two participants, nobody else gets a token).

mod common;

use std::time::Duration;

use common::{connected, error_code, next_msg, status_json, Harness, Ws};
use livekit_api::access_token::{AccessToken, TokenVerifier, VideoGrants};
use livekit_api::services::room::RoomClient;
use serde_json::{json, Value};
use utd_engine::admin_client::AppCredentials;
use utd_engine::{DatabaseLocation, EngineConfig, Plan};

/// A session with an optional device id and display name.
async fn session(
    h: &Harness,
    app: &AppCredentials,
    identity: &str,
    device: Option<&str>,
    name: Option<&str>,
) -> String {
    let resp = h
        .http
        .post(h.url("/api/v1/auth/session"))
        .header("X-UTD-App-Id", &app.app_id)
        .header("X-UTD-App-Key", &app.app_key)
        .json(&json!({ "identity": identity, "device_id": device, "name": name }))
        .send()
        .await
        .expect("request");
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 200, "{body}");
    body["user_token"].as_str().unwrap().to_owned()
}

async fn create(h: &Harness, bearer: &str, body: Value) -> (u16, Value) {
    h.post("/api/v1/calls", bearer, body).await
}

/// Creates an audio call to `callee`; returns the reply (201 asserted).
async fn call(h: &Harness, bearer: &str, callee: &str) -> Value {
    let (s, b) = create(
        h,
        bearer,
        json!({"callee_identity": callee, "type": "audio_call"}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    b
}

async fn act(h: &Harness, bearer: &str, call_id: &str, action: &str) -> (u16, Value) {
    h.post(
        &format!("/api/v1/calls/{call_id}/{action}"),
        bearer,
        json!({}),
    )
    .await
}

fn id(call: &Value) -> String {
    call["call_id"].as_str().expect("call_id").to_owned()
}

/// The Call object of a reply (without `join`).
fn without_join(reply: &Value) -> Value {
    let mut v = reply.clone();
    v.as_object_mut().unwrap().remove("join");
    v
}

/// The next message, which must be `kind`; returns its `call`.
async fn next_call(ws: &mut Ws, kind: &str) -> Value {
    let m = next_msg(ws).await.expect("a message");
    assert_eq!(m["type"], kind, "{m}");
    let keys: Vec<&String> = m.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["call", "type"], "{m}");
    m["call"].clone()
}

/// Asserts that nothing but pings arrives for `ms`.
async fn quiet(ws: &mut Ws, ms: u64) {
    use futures_util::StreamExt as _;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return,
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t)))) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                assert_eq!(v["type"], "ping", "unexpected message {v}");
            }
            Ok(Some(Ok(_))) => {}
            Ok(other) => panic!("socket ended: {other:?}"),
        }
    }
}

fn claims(token: &str, key: &str, secret: &str) -> livekit_api::access_token::Claims {
    TokenVerifier::with_api_key(key, secret)
        .verify(token)
        .expect("a token signed with the engine's LiveKit key")
}

fn assert_call_id(value: &Value) {
    let s = value.as_str().expect("a string");
    let rest = s.strip_prefix("call_").expect("call_ prefix");
    assert_eq!(rest.len(), 22, "{s}");
    assert!(
        rest.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{s}"
    );
}

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

/// Drives a fresh call into `from`; returns its id.
async fn setup(h: &Harness, bob: &str, alice: &str, from: &str) -> String {
    let call_id = id(&call(h, bob, "alice").await);
    let steps: &[(&str, &str)] = match from {
        "initiating" => &[],
        "ringing" => &[("callee", "ringing")],
        "active" => &[("callee", "accept")],
        "rejected" => &[("callee", "reject")],
        "busy" => &[("callee", "busy")],
        "cancelled" => &[("caller", "cancel")],
        "ended" => &[("callee", "accept"), ("caller", "end")],
        other => panic!("no setup for {other}"),
    };
    for (who, action) in steps {
        let bearer = if *who == "caller" { bob } else { alice };
        let (s, b) = act(h, bearer, &call_id, action).await;
        assert_eq!(s, 200, "setup {from}: {action}: {b}");
    }
    let (_, b) = h.get(&format!("/api/v1/calls/{call_id}"), bob).await;
    assert_eq!(b["status"], from, "{b}");
    call_id
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

/// Against a real livekit-server: the call room is created with
/// max_participants = 2, only the parties get tokens for it (the LiveKit cap
/// keeps a third participant out anyway), and it is deleted when the call ends.
#[test]
fn the_call_room_admits_the_two_parties_only() {
    let lk = utd_testkit::LiveKitServer::start().expect("livekit-server");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut config = EngineConfig::for_tests();
        config.livekit_url = lk.ws_url();
        config.livekit_api_key = lk.api_key().to_owned();
        config.livekit_api_secret = lk.api_secret().to_owned();
        let h = Harness::with_config(config).await;
        let app = h.app(Plan::Signaling).await;
        let bob = session(&h, &app, "bob", Some("b1"), Some("Bob")).await;
        let alice = session(&h, &app, "alice", Some("d1"), None).await;
        let alice2 = session(&h, &app, "alice", Some("d2"), None).await;
        let carol = session(&h, &app, "carol", None, None).await;
        let rooms = RoomClient::with_api_key(&lk.http_url(), lk.api_key(), lk.api_secret());

        let created = call(&h, &bob, "alice").await;
        let call_id = id(&created);
        let lk_room = format!("{}_{call_id}", app.app_id);
        let listed = rooms.list_rooms(vec![lk_room.clone()]).await.unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0].max_participants, 2, "{:?}", listed[0]);
        assert_eq!(listed[0].empty_timeout, 60, "{:?}", listed[0]);
        assert_eq!(listed[0].departure_timeout, 20, "{:?}", listed[0]);
        let c = claims(
            created["join"]["token"].as_str().unwrap(),
            lk.api_key(),
            lk.api_secret(),
        );
        assert_eq!(c.video.room, lk_room);
        assert_eq!(created["join"]["url"], lk.ws_url().as_str());

        // The room-token mint: a third user never gets in.
        let before = h.counts().await;
        let mint = |bearer: String, stream_type: &'static str| {
            let h = &h;
            let call_id = call_id.clone();
            async move {
                h.post(
                    "/api/v1/token",
                    &bearer,
                    json!({"room_name": call_id, "stream_type": stream_type, "as_host": true}),
                )
                .await
            }
        };
        let (s, e) = mint(carol.clone(), "audio_call").await;
        assert_eq!((s, error_code(&e).as_str()), (403, "forbidden"), "{e}");
        let (s, e) = mint(carol.clone(), "audio_room").await;
        assert_eq!((s, error_code(&e).as_str()), (409, "conflict"), "{e}");
        let (s, e) = mint(carol.clone(), "live_stream").await;
        assert_eq!((s, error_code(&e).as_str()), (409, "conflict"), "{e}");
        // Through app headers, claiming a non-party identity: same refusal,
        // and no session is minted.
        let resp = h
            .http
            .post(h.url("/api/v1/token"))
            .header("X-UTD-App-Id", &app.app_id)
            .header("X-UTD-App-Key", &app.app_key)
            .json(&json!({"identity": "dave", "room_name": call_id, "stream_type": "audio_call"}))
            .send()
            .await
            .unwrap();
        let (s, e) = status_json(resp).await;
        assert_eq!((s, error_code(&e).as_str()), (403, "forbidden"), "{e}");
        // The callee joins by accepting, not by minting.
        let (s, e) = mint(alice.clone(), "audio_call").await;
        assert_eq!((s, error_code(&e).as_str()), (409, "invalid_state"), "{e}");
        // Another call's room name of the wrong media type.
        let (s, e) = mint(bob.clone(), "video_call").await;
        assert_eq!((s, error_code(&e).as_str()), (409, "conflict"), "{e}");
        assert_eq!(h.counts().await, before, "refusals write nothing");
        // The caller may re-mint (rejoin) while the call is not over.
        let (s, t) = mint(bob.clone(), "audio_call").await;
        assert_eq!((s, t["role"].as_str()), (200, Some("caller")), "{t}");
        let c = claims(t["token"].as_str().unwrap(), lk.api_key(), lk.api_secret());
        assert_eq!(c.video.room, lk_room);
        assert_eq!(c.video.can_publish_sources, vec!["microphone"]);

        let (s, accepted) = act(&h, &alice, &call_id, "accept").await;
        assert_eq!(s, 200, "{accepted}");
        // After the answer: the answering device may re-mint, the other may not.
        let (s, t) = mint(alice.clone(), "audio_call").await;
        assert_eq!((s, t["role"].as_str()), (200, Some("callee")), "{t}");
        let (s, e) = mint(alice2.clone(), "audio_call").await;
        assert_eq!((s, error_code(&e).as_str()), (409, "conflict"), "{e}");

        // Both parties join LiveKit's signal endpoint.
        let mut drains = vec![];
        for token in [
            created["join"]["token"].as_str().unwrap(),
            accepted["join"]["token"].as_str().unwrap(),
        ] {
            drains.push(join_livekit(&lk.ws_url(), token).await);
        }
        wait_participants(&rooms, &lk_room, |ids| ids == ["alice", "bob"]).await;
        let listed = rooms.list_rooms(vec![lk_room.clone()]).await.unwrap();
        assert_eq!(listed[0].max_participants, 2, "still capped after accept");

        // Even a validly signed token for a third identity does not get in.
        let forged = AccessToken::with_api_key(lk.api_key(), lk.api_secret())
            .with_identity("mallory")
            .with_grants(VideoGrants {
                room_join: true,
                room: lk_room.clone(),
                ..Default::default()
            })
            .to_jwt()
            .unwrap();
        let url = format!(
            "{}/rtc?access_token={forged}&protocol=15&auto_subscribe=1",
            lk.ws_url()
        );
        let third = tokio_tungstenite::connect_async(url).await;
        let drain_third = third.ok().map(|(mut ws, _)| {
            tokio::spawn(async move {
                use futures_util::StreamExt as _;
                while let Some(Ok(_)) = ws.next().await {}
            })
        });
        for _ in 0..15 {
            let ids = participant_ids(&rooms, &lk_room).await;
            assert!(!ids.contains(&"mallory".to_owned()), "{ids:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        // The call ends: the room is deleted and both parties are gone.
        let (s, ended) = act(&h, &alice, &call_id, "end").await;
        assert_eq!(
            (s, ended["end_reason"].as_str()),
            (200, Some("hangup_callee"))
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let listed = rooms.list_rooms(vec![lk_room.clone()]).await.unwrap();
            if listed.is_empty() {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "room not deleted: {listed:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (s, e) = mint(bob.clone(), "audio_call").await;
        assert_eq!((s, error_code(&e).as_str()), (409, "invalid_state"), "{e}");
        for d in drains.into_iter().chain(drain_third) {
            d.abort();
        }
        h.engine.shutdown().await;
    });
}

/// Connects to LiveKit's signal endpoint with `token` (enough to be a
/// participant) and keeps reading in the background.
async fn join_livekit(ws_url: &str, token: &str) -> tokio::task::JoinHandle<()> {
    let url = format!("{ws_url}/rtc?access_token={token}&protocol=15&auto_subscribe=1");
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("LiveKit join");
    tokio::spawn(async move {
        use futures_util::StreamExt as _;
        while let Some(Ok(_)) = ws.next().await {}
    })
}

async fn participant_ids(rooms: &RoomClient, lk_room: &str) -> Vec<String> {
    let mut ids: Vec<String> = rooms
        .list_participants(lk_room)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|p| p.identity)
        .collect();
    ids.sort();
    ids
}

async fn wait_participants(rooms: &RoomClient, lk_room: &str, want: impl Fn(&[String]) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let ids = participant_ids(rooms, lk_room).await;
        if want(&ids) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "participants never matched: {ids:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const PENDING: &str = "/api/v1/calls?role=callee&status=pending";

/// `GET /api/v1/calls?role=callee&status=pending` as `bearer`: the list
/// (200 and the reply's exact shape asserted).
async fn pending(h: &Harness, bearer: &str) -> Vec<Value> {
    let (s, b) = h.get(PENDING, bearer).await;
    assert_eq!(s, 200, "{b}");
    let keys: Vec<&String> = b.as_object().expect("an object").keys().collect();
    assert_eq!(keys, ["calls"], "{b}");
    b["calls"].as_array().expect("an array").clone()
}

fn ids_of(calls: &[Value]) -> Vec<String> {
    calls.iter().map(id).collect()
}

/// The listing of pending calls: only calls ringing for the bearer's user
/// (as callee, in its app, not over, not answered), oldest first, each the
/// same Call object as `GET /calls/{id}`; reading it writes and pushes nothing.
#[tokio::test]
async fn pending_calls_list_only_the_calls_ringing_for_the_user() {
    let h = Harness::start().await;
    let app = h.app(Plan::Signaling).await;
    let other_app = h.app(Plan::Signaling).await;
    h.admin
        .set_rate_limits(&app.app_id, 100_000, 1_000_000)
        .await
        .unwrap();
    let bob = session(&h, &app, "bob", None, Some("Bob")).await;
    let carol = session(&h, &app, "carol", None, None).await;
    let alice = session(&h, &app, "alice", Some("d1"), None).await;
    let alice2 = session(&h, &app, "alice", Some("d2"), None).await;
    let dave = session(&h, &app, "dave", None, None).await;
    let bob_elsewhere = session(&h, &other_app, "bob", None, None).await;
    let alice_elsewhere = session(&h, &other_app, "alice", None, None).await;

    let (s, b) = h.get(PENDING, &alice).await;
    assert_eq!((s, &b), (200, &json!({"calls": []})));

    // Distinct creation times, so "oldest first" is observable.
    let pause = || tokio::time::sleep(Duration::from_millis(5));
    let first = id(&call(&h, &bob, "alice").await);
    pause().await;
    let (s, second) = create(
        &h,
        &carol,
        json!({"callee_identity": "alice", "callee_name": "Al", "type": "video_call",
               "metadata": {"k": "v"}}),
    )
    .await;
    assert_eq!(s, 201, "{second}");
    let second = id(&second);
    pause().await;
    let third = id(&call(&h, &bob, "alice").await);
    pause().await;
    // Not alice's to answer: her own call, another user's, another app's.
    let outgoing = id(&call(&h, &alice, "dave").await);
    let others = id(&call(&h, &bob, "dave").await);
    let elsewhere = id(&call(&h, &bob_elsewhere, "alice").await);
    // Over or answered: rejected, busy, cancelled, hung up (rejected), active.
    for (who, action) in [
        ("callee", "reject"),
        ("callee", "busy"),
        ("caller", "cancel"),
        ("callee", "end"),
        ("callee", "accept"),
    ] {
        let c = id(&call(&h, &bob, "alice").await);
        let bearer = if who == "caller" { &bob } else { &alice };
        let (s, b) = act(&h, bearer, &c, action).await;
        assert_eq!(s, 200, "{action}: {b}");
    }
    // The second call is ringing now: still pending.
    let (s, _) = act(&h, &alice2, &second, "ringing").await;
    assert_eq!(s, 200);

    let (mut alice_ws, _) = connected(&h, &alice).await;
    let (mut bob_ws, _) = connected(&h, &bob).await;
    let before = h.counts().await;
    let listed = pending(&h, &alice).await;
    assert_eq!(
        ids_of(&listed),
        [first.as_str(), second.as_str(), third.as_str()]
    );
    for c in &listed {
        let (s, got) = h.get(&format!("/api/v1/calls/{}", id(c)), &alice).await;
        assert_eq!((s, &got), (200, c), "the same Call object as GET");
        assert!(c.get("join").is_none(), "{c}");
    }
    assert_eq!(listed[0]["status"], "initiating");
    assert_eq!(listed[1]["status"], "ringing");
    assert_eq!(
        (
            listed[1]["caller_identity"].as_str(),
            listed[1]["callee_name"].as_str(),
            listed[1]["type"].as_str(),
            &listed[1]["metadata"]
        ),
        (
            Some("carol"),
            Some("Al"),
            Some("video_call"),
            &json!({"k": "v"})
        )
    );
    let times: Vec<u64> = listed
        .iter()
        .map(|c| c["created_at_ms"].as_u64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    // Every device of the user gets the same list; the defaults are the same
    // listing.
    assert_eq!(pending(&h, &alice2).await, listed);
    for query in [
        "",
        "?",
        "?role=callee",
        "?status=pending",
        "?status=pending&role=callee",
    ] {
        let (s, b) = h.get(&format!("/api/v1/calls{query}"), &alice).await;
        assert_eq!((s, &b), (200, &json!({ "calls": listed })), "{query:?}");
    }
    // The others: dave has alice's and bob's calls, bob and carol nothing,
    // alice of the other app only hers there.
    assert_eq!(
        ids_of(&pending(&h, &dave).await),
        [outgoing.as_str(), others.as_str()]
    );
    assert!(pending(&h, &bob).await.is_empty());
    assert!(pending(&h, &carol).await.is_empty());
    assert_eq!(
        ids_of(&pending(&h, &alice_elsewhere).await),
        [elsewhere.as_str()]
    );
    assert_eq!(h.counts().await, before, "a listing writes nothing");
    quiet(&mut alice_ws, 200).await;
    quiet(&mut bob_ws, 100).await;

    // Answered on one device: gone from every device's list.
    let (s, _) = act(&h, &alice2, &second, "accept").await;
    assert_eq!(s, 200);
    assert_eq!(
        ids_of(&pending(&h, &alice).await),
        [first.as_str(), third.as_str()]
    );
    h.engine.shutdown().await;
}

/// A call whose ring timeout is due is never listed, even when its timer has
/// not fired yet: the listing applies the timeout (and pushes it) first.
#[tokio::test]
async fn pending_calls_never_include_an_expired_call() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("engine.sqlite3");
    let mut config = EngineConfig::for_tests();
    config.database = DatabaseLocation::File(path.clone());
    config.ring_timeout = Duration::from_secs(600);
    let h = Harness::with_config(config).await;
    let app = h.app(Plan::Signaling).await;
    let bob = session(&h, &app, "bob", None, None).await;
    let alice = session(&h, &app, "alice", Some("d1"), None).await;
    let (mut bob_ws, _) = connected(&h, &bob).await;
    let (mut alice_ws, _) = connected(&h, &alice).await;
    let old = id(&call(&h, &bob, "alice").await);
    let fresh = id(&call(&h, &bob, "alice").await);
    for _ in 0..2 {
        next_call(&mut alice_ws, "call.invitation").await;
        next_call(&mut bob_ws, "call.updated").await;
    }
    assert_eq!(
        ids_of(&pending(&h, &alice).await),
        [old.as_str(), fresh.as_str()]
    );

    // The first call's ring deadline passes (it was created 601 s ago, as
    // far as the database knows); its timer, due in ten minutes, is still
    // asleep.
    let db = rusqlite::Connection::open(&path).unwrap();
    db.busy_timeout(Duration::from_secs(5)).unwrap();
    let n = db
        .execute(
            "UPDATE calls SET created_at_ms = created_at_ms - 601000,
                 updated_at_ms = updated_at_ms - 601000 WHERE call_id = ?1",
            [old.as_str()],
        )
        .unwrap();
    assert_eq!(n, 1);
    drop(db);

    let listed = pending(&h, &alice).await;
    assert_eq!(
        ids_of(&listed),
        [fresh.as_str()],
        "the due call is not listed"
    );
    // The listing made it missed, pushed to both parties, as a GET would.
    let missed = next_call(&mut alice_ws, "call.updated").await;
    assert_eq!(next_call(&mut bob_ws, "call.updated").await, missed);
    assert_eq!(
        (
            missed["call_id"].as_str(),
            missed["status"].as_str(),
            missed["end_reason"].as_str()
        ),
        (Some(old.as_str()), Some("missed"), Some("ring_timeout"))
    );
    let (s, got) = h.get(&format!("/api/v1/calls/{old}"), &bob).await;
    assert_eq!((s, &got), (200, &missed));
    // Once only: the next listing is the same and pushes nothing.
    assert_eq!(pending(&h, &alice).await, listed);
    quiet(&mut alice_ws, 200).await;
    quiet(&mut bob_ws, 100).await;
    h.engine.shutdown().await;
}

/// With a short ring timeout: listed while ringing, gone once missed.
#[tokio::test]
async fn a_missed_call_leaves_the_pending_list() {
    let mut config = EngineConfig::for_tests();
    config.ring_timeout = Duration::from_secs(1);
    let h = Harness::with_config(config).await;
    let app = h.app(Plan::Signaling).await;
    let bob = session(&h, &app, "bob", None, None).await;
    let alice = session(&h, &app, "alice", None, None).await;
    let c = id(&call(&h, &bob, "alice").await);
    assert_eq!(ids_of(&pending(&h, &alice).await), [c.as_str()]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(pending(&h, &alice).await.is_empty());
    let (_, got) = h.get(&format!("/api/v1/calls/{c}"), &alice).await;
    assert_eq!(got["status"], "missed");
    h.engine.shutdown().await;
}

/// The listing's checks: bearer (401), ban, rate limit, query (400), plan.
#[tokio::test]
async fn pending_calls_check_auth_query_and_plan() {
    let h = Harness::start().await;
    let app = h.app(Plan::Signaling).await;
    let bob = session(&h, &app, "bob", None, None).await;
    let alice = session(&h, &app, "alice", None, None).await;
    call(&h, &bob, "alice").await;

    // No bearer, a bogus one: 401, whatever the query.
    for path in [PENDING, "/api/v1/calls", "/api/v1/calls?role=caller"] {
        let resp = h.http.get(h.url(path)).send().await.unwrap();
        let (s, e) = status_json(resp).await;
        assert_eq!(
            (s, error_code(&e).as_str()),
            (401, "unauthenticated"),
            "{path}"
        );
        let resp = h
            .http
            .get(h.url(path))
            .bearer_auth("utdst_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
            .send()
            .await
            .unwrap();
        let (s, e) = status_json(resp).await;
        assert_eq!(
            (s, error_code(&e).as_str()),
            (401, "unauthenticated"),
            "{path}"
        );
    }
    // App headers are not a bearer.
    let resp = h
        .http
        .get(h.url(PENDING))
        .header("X-UTD-App-Id", &app.app_id)
        .header("X-UTD-App-Key", &app.app_key)
        .send()
        .await
        .unwrap();
    let (s, e) = status_json(resp).await;
    assert_eq!((s, error_code(&e).as_str()), (401, "unauthenticated"));

    // Only role=callee and status=pending, each at most once.
    for query in [
        "?role=caller",
        "?role=",
        "?role",
        "?role=CALLEE",
        "?status=ringing",
        "?status=active",
        "?status=",
        "?role=callee&status=pending&role=callee",
        "?status=pending&status=pending",
        "?limit=10",
        "?role=callee&status=pending&before_ms=1",
        "?=x",
    ] {
        let (s, e) = h.get(&format!("/api/v1/calls{query}"), &alice).await;
        assert_eq!(
            (s, error_code(&e).as_str()),
            (400, "invalid_argument"),
            "{query}: {e}"
        );
    }
    let (_, e) = h.get("/api/v1/calls?role=caller", &alice).await;
    assert_eq!(
        e["error"]["message"],
        "unsupported role: only role=callee is supported"
    );
    let (_, e) = h.get("/api/v1/calls?limit=10", &alice).await;
    assert_eq!(
        e["error"]["message"],
        "unknown query parameter \"limit\": only role=callee and status=pending are supported"
    );
    // Other methods than GET and POST: 405.
    let resp = h
        .http
        .delete(h.url(PENDING))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    let (s, e) = status_json(resp).await;
    assert_eq!((s, error_code(&e).as_str()), (405, "invalid_argument"));

    // A plan without signaling: the query is checked first, then the plan.
    let free = h.app(Plan::Free).await;
    let f = session(&h, &free, "alice", None, None).await;
    let (s, e) = h.get("/api/v1/calls?role=caller", &f).await;
    assert_eq!((s, error_code(&e).as_str()), (400, "invalid_argument"));
    let (s, e) = h.get(PENDING, &f).await;
    assert_eq!(
        (
            s,
            error_code(&e).as_str(),
            e["error"]["capability"].as_str()
        ),
        (403, "feature_disabled", Some("signaling"))
    );

    // Banned: 403 banned. Rate limited: 429.
    let mallory = session(&h, &app, "mallory", None, None).await;
    h.admin.ban(&app.app_id, "mallory").await.unwrap();
    let (s, e) = h.get(PENDING, &mallory).await;
    assert_eq!((s, error_code(&e).as_str()), (403, "banned"));
    h.admin.set_rate_limits(&app.app_id, 1, 1000).await.unwrap();
    let mut limited = false;
    for _ in 0..3 {
        let (s, e) = h.get(PENDING, &alice).await;
        if s == 429 {
            assert_eq!(error_code(&e), "rate_limited");
            limited = true;
            break;
        }
        assert_eq!(s, 200, "{e}");
    }
    assert!(limited, "the per-user bucket of 1/min runs out");
    h.engine.shutdown().await;
}

/// Delivers a correctly signed LiveKit webhook event; asserts 204.
async fn webhook(h: &Harness, body: &str) {
    let (s, b) = common::deliver_signed(h, body).await;
    assert_eq!(s, 204, "{b}");
}

/// Both parties connected after `setup` (so no earlier push is queued).
async fn call_in(h: &Harness, from: &str) -> (AppCredentials, String, String, String, Ws, Ws) {
    let app = h.app(Plan::Signaling).await;
    h.admin
        .set_rate_limits(&app.app_id, 100_000, 1_000_000)
        .await
        .unwrap();
    let bob = session(h, &app, "bob", Some("b1"), None).await;
    let alice = session(h, &app, "alice", Some("d1"), None).await;
    let call_id = setup(h, &bob, &alice, from).await;
    let (bob_ws, _) = connected(h, &bob).await;
    let (alice_ws, _) = connected(h, &alice).await;
    (app, bob, alice, call_id, bob_ws, alice_ws)
}

/// A party leaving an active call's LiveKit room for good ends the call as
/// that party's `end` would, pushed to both parties.
#[tokio::test]
async fn a_party_leaving_the_room_ends_an_active_call() {
    let h = Harness::start().await;
    for (kind, who, reason) in [
        ("participant_left", "alice", "hangup_callee"),
        ("participant_left", "bob", "hangup_caller"),
        ("participant_connection_aborted", "alice", "hangup_callee"),
    ] {
        let (app, bob, _, call_id, mut bob_ws, mut alice_ws) = call_in(&h, "active").await;
        let (_, before) = h.get(&format!("/api/v1/calls/{call_id}"), &bob).await;
        let lk_room = format!("{}_{call_id}", app.app_id);
        webhook(&h, &common::webhook_event(kind, &lk_room, who)).await;
        let ended = next_call(&mut bob_ws, "call.updated").await;
        assert_eq!(next_call(&mut alice_ws, "call.updated").await, ended);
        assert_eq!(ended["status"], "ended", "{kind} {who}: {ended}");
        assert_eq!(ended["end_reason"], reason, "{kind} {who}: {ended}");
        assert_eq!(ended["answered_by_device"], "d1");
        assert!(ended["updated_at_ms"].as_u64() >= before["updated_at_ms"].as_u64());
        let (s, got) = h.get(&format!("/api/v1/calls/{call_id}"), &bob).await;
        assert_eq!((s, &got), (200, &ended));
        // A late duplicate changes nothing.
        webhook(&h, &common::webhook_event(kind, &lk_room, who)).await;
        webhook(&h, &common::webhook_event("room_finished", &lk_room, "")).await;
        quiet(&mut bob_ws, 200).await;
        let (_, got) = h.get(&format!("/api/v1/calls/{call_id}"), &bob).await;
        assert_eq!(got, ended);
    }
    h.engine.shutdown().await;
}

/// `room_finished` ends an active call with `room_closed`.
#[tokio::test]
async fn the_room_finishing_ends_an_active_call() {
    let h = Harness::start().await;
    let (app, bob, _, call_id, mut bob_ws, mut alice_ws) = call_in(&h, "active").await;
    let lk_room = format!("{}_{call_id}", app.app_id);
    let body = json!({
        "event": "room_finished", "id": "EV_2", "createdAt": "1700000000",
        "room": {"sid": "RM_1", "name": lk_room},
    })
    .to_string();
    webhook(&h, &body).await;
    let ended = next_call(&mut alice_ws, "call.updated").await;
    assert_eq!(next_call(&mut bob_ws, "call.updated").await, ended);
    assert_eq!(ended["status"], "ended", "{ended}");
    assert_eq!(ended["end_reason"], "room_closed", "{ended}");
    let (_, got) = h.get(&format!("/api/v1/calls/{call_id}"), &bob).await;
    assert_eq!(got, ended);
    h.engine.shutdown().await;
}

/// Asserts the call reads as `want`.
async fn still(h: &Harness, bearer: &str, call_id: &str, want: &Value) {
    let (_, got) = h.get(&format!("/api/v1/calls/{call_id}"), bearer).await;
    assert_eq!(&got, want);
}

/// Webhooks that must not move a call: a non-party, a replaced connection,
/// another app's room, a pending call, a terminal call, a bad signature.
#[tokio::test]
async fn room_webhooks_leave_other_calls_alone() {
    let h = Harness::start().await;
    let cfg = EngineConfig::for_tests();

    // Active call: a non-party leaving, the party replaced by its own rejoin
    // (or migrated), the same call id under another app's prefix, a forged
    // signature.
    let (app, bob, _, call_id, mut bob_ws, mut alice_ws) = call_in(&h, "active").await;
    let (_, active) = h.get(&format!("/api/v1/calls/{call_id}"), &bob).await;
    let lk_room = format!("{}_{call_id}", app.app_id);
    webhook(
        &h,
        &common::webhook_event("participant_left", &lk_room, "carol"),
    )
    .await;
    for reason in ["DUPLICATE_IDENTITY", "MIGRATION"] {
        let body = json!({
            "event": "participant_left", "id": "EV_3", "createdAt": "1700000000",
            "room": {"sid": "RM_1", "name": lk_room},
            "participant": {"sid": "PA_1", "identity": "alice", "disconnectReason": reason},
        })
        .to_string();
        webhook(&h, &body).await;
    }
    let other = h.app(Plan::Signaling).await;
    let foreign = format!("{}_{call_id}", other.app_id);
    webhook(
        &h,
        &common::webhook_event("participant_left", &foreign, "alice"),
    )
    .await;
    webhook(&h, &common::webhook_event("room_finished", &foreign, "")).await;
    let body = common::webhook_event("participant_left", &lk_room, "alice");
    let forged = common::sign_webhook(&cfg.livekit_api_key, "not-the-secret", &body);
    let (s, e) = common::deliver_webhook(&h, Some(&forged), &body).await;
    assert_eq!((s, error_code(&e).as_str()), (401, "unauthenticated"));
    let (s, e) = common::deliver_webhook(&h, None, &body).await;
    assert_eq!((s, error_code(&e).as_str()), (401, "unauthenticated"));
    quiet(&mut bob_ws, 200).await;
    quiet(&mut alice_ws, 10).await;
    still(&h, &bob, &call_id, &active).await;

    // Pending calls (the caller may be reconnecting; the ring timeout or a
    // cancel ends them) and terminal calls.
    for from in ["initiating", "ringing", "ended", "rejected", "cancelled"] {
        let (app, bob, _, call_id, mut bob_ws, mut alice_ws) = call_in(&h, from).await;
        let (_, before) = h.get(&format!("/api/v1/calls/{call_id}"), &bob).await;
        let lk_room = format!("{}_{call_id}", app.app_id);
        for (kind, who) in [
            ("participant_left", "bob"),
            ("participant_connection_aborted", "bob"),
            ("participant_left", "alice"),
            ("room_finished", ""),
        ] {
            webhook(&h, &common::webhook_event(kind, &lk_room, who)).await;
        }
        quiet(&mut bob_ws, 200).await;
        quiet(&mut alice_ws, 10).await;
        still(&h, &bob, &call_id, &before).await;
    }
    h.engine.shutdown().await;
}
