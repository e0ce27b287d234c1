//! A call's LiveKit room (engine-api.md §5, §9): at most two participants,
//! nobody else gets a token, and a party leaving the room (or the room
//! closing) ends an active call.

mod common;

use std::time::Duration;

use common::calls::*;
use common::livekit::join_livekit;
use common::{connected, error_code, status_json, Harness, Ws};
use livekit_api::access_token::{AccessToken, VideoGrants};
use livekit_api::services::room::RoomClient;
use serde_json::{json, Value};
use utd_engine::admin_client::AppCredentials;
use utd_engine::{EngineConfig, Plan};

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
        // Created beside the reply.
        let listed = wait_room(&rooms, &lk_room).await;
        assert_eq!(listed.max_participants, 2, "{listed:?}");
        assert_eq!(listed.empty_timeout, 60, "{listed:?}");
        assert_eq!(listed.departure_timeout, 20, "{listed:?}");
        let c = claims(
            created["join"]["token"].as_str().unwrap(),
            lk.api_key(),
            lk.api_secret(),
        );
        assert_eq!(c.video.room, lk_room);
        // The same settings ride in the token, for a join that comes first.
        let config = c
            .room_config
            .expect("the call token carries the room's settings");
        assert_eq!(
            (
                config.max_participants,
                config.empty_timeout,
                config.departure_timeout
            ),
            (2, 60, 20)
        );
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

/// With livekit-server frozen (SIGSTOP), creating and answering a call wait
/// on nothing LiveKit does: before, each waited out the 5 s RoomService
/// timeout while the ring clock ran. Once LiveKit runs again the parties
/// join a room with the call's cap, whether the engine's CreateRoom or the
/// first join made it.
#[test]
fn a_frozen_livekit_holds_up_no_call_reply() {
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
        let (mut alice_ws, _) = connected(&h, &alice).await;
        let rooms = RoomClient::with_api_key(&lk.http_url(), lk.api_key(), lk.api_secret());

        common::signal_process(lk.pid(), "-STOP");
        let started = std::time::Instant::now();
        let created = call(&h, &bob, "alice").await;
        let call_id = id(&created);
        let invitation = common::next_msg(&mut alice_ws).await.unwrap();
        assert_eq!(invitation["type"], "call.invitation", "{invitation}");
        let (s, accepted) = act(&h, &alice, &call_id, "accept").await;
        assert_eq!(s, 200, "{accepted}");
        let waited = started.elapsed();
        common::signal_process(lk.pid(), "-CONT");
        assert!(
            waited < Duration::from_secs(2),
            "create + invitation + accept took {waited:?} with LiveKit frozen"
        );

        let lk_room = format!("{}_{call_id}", app.app_id);
        let mut drains = vec![];
        for token in [
            created["join"]["token"].as_str().unwrap(),
            accepted["join"]["token"].as_str().unwrap(),
        ] {
            drains.push(join_livekit(&lk.ws_url(), token).await);
        }
        wait_participants(&rooms, &lk_room, |ids| ids == ["alice", "bob"]).await;
        let listed = wait_room(&rooms, &lk_room).await;
        assert_eq!(listed.max_participants, 2, "{listed:?}");
        for d in drains {
            d.abort();
        }
        h.engine.shutdown().await;
    });
}

/// The LiveKit room `lk_room` once it exists (10 s at most).
async fn wait_room(rooms: &RoomClient, lk_room: &str) -> livekit_protocol::Room {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let listed = rooms
            .list_rooms(vec![lk_room.to_owned()])
            .await
            .unwrap_or_default();
        if let Some(room) = listed.into_iter().next() {
            return room;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "room {lk_room} not created"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
