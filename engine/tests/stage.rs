//! Live stream stage against a real livekit-server: invites grant camera and
//! microphone in LiveKit, removal revokes, requests reach the host.

mod common;

use std::time::Duration;

use common::livekit::{join_livekit, wait_permission};
use common::{connected, error_code, next_msg, send, Harness};
use livekit_api::services::room::RoomClient;
use livekit_protocol::TrackSource;
use serde_json::{json, Value};
use utd_engine::{EngineConfig, Plan};

async fn live_token(h: &Harness, bearer: &str, as_host: bool) -> (u16, Value) {
    h.post(
        "/api/v1/token",
        bearer,
        json!({"room_name": "show", "stream_type": "live_stream", "as_host": as_host}),
    )
    .await
}

#[test]
fn stage_invite_request_remove_and_leave() {
    let lk = utd_testkit::LiveKitServer::start().expect("livekit-server");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut config = EngineConfig::for_tests();
        config.livekit_url = lk.ws_url();
        config.livekit_api_key = lk.api_key().to_owned();
        config.livekit_api_secret = lk.api_secret().to_owned();
        let h = Harness::with_config(config).await;
        let app = h.app(Plan::Signaling).await;
        let host = h.token_for(&app, "host1").await;
        let v7 = h.token_for(&app, "v7").await;
        let (s, b) = live_token(&h, &host, true).await;
        assert_eq!((s, b["role"].as_str()), (200, Some("host")), "{b}");
        let (s, b) = live_token(&h, &v7, false).await;
        assert_eq!((s, b["role"].as_str()), (200, Some("audience")), "{b}");

        // v7 joins LiveKit's signal endpoint (enough to be a participant).
        let drain = join_livekit(&lk.ws_url(), b["token"].as_str().unwrap()).await;
        let rooms = RoomClient::with_api_key(&lk.http_url(), lk.api_key(), lk.api_secret());
        let lk_room = format!("{}_show", app.app_id);
        let p = wait_permission(&rooms, &lk_room, "v7", |_| true).await;
        assert!(!p.can_publish, "{p:?}");

        let (mut ws, _) = connected(&h, &host).await;
        send(
            &mut ws,
            json!({"type": "room.subscribe", "room_name": "show", "ref": "s"}),
        )
        .await;
        let first = next_msg(&mut ws).await.unwrap();
        assert_eq!(first["type"], "stage.updated", "{first}");
        assert_eq!(
            first["stage"]["members"],
            json!([{"identity": "host1", "name": null, "role": "host"}])
        );
        assert_eq!(
            next_msg(&mut ws).await.unwrap(),
            json!({"type": "ack", "ref": "s"})
        );

        // Host-only operations.
        let (s, b) = h
            .post(
                "/api/v1/rooms/show/stage/invite",
                &v7,
                json!({"identity": "v7"}),
            )
            .await;
        assert_eq!((s, error_code(&b)), (403, "forbidden".into()));

        // A request reaches the host.
        let (s, b) = h
            .post("/api/v1/rooms/show/stage/request", &v7, json!({}))
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["requests"][0]["identity"], "v7");
        let m = next_msg(&mut ws).await.unwrap();
        assert_eq!(
            (m["type"].as_str(), m["identity"].as_str()),
            (Some("stage.requested"), Some("v7")),
            "{m}"
        );
        let m = next_msg(&mut ws).await.unwrap();
        assert_eq!(m["type"], "stage.updated", "{m}");
        let (s, _) = h
            .post("/api/v1/rooms/show/stage/request", &v7, json!({}))
            .await;
        assert_eq!(s, 200, "duplicate request is no change");

        // Someone not in the LiveKit room cannot be invited.
        let (s, b) = h
            .post(
                "/api/v1/rooms/show/stage/invite",
                &host,
                json!({"identity": "ghost"}),
            )
            .await;
        assert_eq!((s, error_code(&b)), (404, "not_found".into()), "{b}");

        // Invite: camera + microphone in LiveKit.
        let (s, b) = h
            .post(
                "/api/v1/rooms/show/stage/invite",
                &host,
                json!({"identity": "v7"}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(
            b["members"][1],
            json!({"identity": "v7", "name": null, "role": "co_host"})
        );
        assert_eq!(b["requests"], json!([]));
        let p = wait_permission(&rooms, &lk_room, "v7", |p| p.can_publish).await;
        assert!(p.can_subscribe && p.can_publish_data, "{p:?}");
        assert_eq!(
            p.can_publish_sources,
            vec![TrackSource::Camera as i32, TrackSource::Microphone as i32]
        );
        let m = next_msg(&mut ws).await.unwrap();
        assert_eq!(m["stage"]["members"][1]["identity"], "v7", "{m}");
        // The reply and the push of one change carry the same version.
        assert_eq!(m["stage"], b, "{m}");
        let (_, b) = live_token(&h, &v7, false).await;
        assert_eq!(b["role"], "speaker", "{b}");

        // The host stays on stage.
        let (s, b) = h
            .post(
                "/api/v1/rooms/show/stage/remove",
                &host,
                json!({"identity": "host1"}),
            )
            .await;
        assert_eq!((s, error_code(&b)), (409, "invalid_state".into()));
        let (s, b) = h
            .post("/api/v1/rooms/show/stage/leave", &host, json!({}))
            .await;
        assert_eq!((s, error_code(&b)), (409, "invalid_state".into()));

        // Remove revokes publishing.
        let (s, b) = h
            .post(
                "/api/v1/rooms/show/stage/remove",
                &host,
                json!({"identity": "v7"}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["members"].as_array().unwrap().len(), 1);
        let p = wait_permission(&rooms, &lk_room, "v7", |p| !p.can_publish).await;
        assert!(p.can_subscribe, "{p:?}");

        // Invite again, then leave on one's own: revoked again.
        let (s, _) = h
            .post(
                "/api/v1/rooms/show/stage/invite",
                &host,
                json!({"identity": "v7"}),
            )
            .await;
        assert_eq!(s, 200);
        wait_permission(&rooms, &lk_room, "v7", |p| p.can_publish).await;
        let (s, b) = h
            .post("/api/v1/rooms/show/stage/leave", &v7, json!({}))
            .await;
        assert_eq!(s, 200, "{b}");
        wait_permission(&rooms, &lk_room, "v7", |p| !p.can_publish).await;
        let (s, _) = h
            .post("/api/v1/rooms/show/stage/leave", &v7, json!({}))
            .await;
        assert_eq!(s, 200, "leave is idempotent");

        // Stage routes are for live streams only.
        let (s, b) = h.get("/api/v1/rooms/nope/stage", &v7).await;
        assert_eq!((s, error_code(&b)), (404, "not_found".into()));
        drain.abort();
        h.engine.shutdown().await;
    });
}

/// Next message, which must be a `stage.updated`; returns its state.
async fn next_stage(ws: &mut common::Ws) -> Value {
    loop {
        let m = next_msg(ws).await.unwrap();
        if m["type"] == "stage.requested" {
            continue;
        }
        assert_eq!(m["type"], "stage.updated", "{m}");
        return m["stage"].clone();
    }
}

fn version(state: &Value) -> u64 {
    state["version"]
        .as_u64()
        .unwrap_or_else(|| panic!("no integer version: {state}"))
}

/// Stage changes that need no LiveKit: each reply equals its push and the
/// version goes up; no-ops keep it; `room_finished` and a new host go on
/// counting.
#[tokio::test]
async fn stage_versions_increase_and_replies_match_pushes() {
    let h = Harness::start().await;
    let app = h.app(Plan::Signaling).await;
    let host = h.token_for(&app, "host1").await;
    let v7 = h.token_for(&app, "v7").await;
    let watcher = h.token_for(&app, "watcher").await;
    let (s, b) = live_token(&h, &host, true).await;
    assert_eq!((s, b["role"].as_str()), (200, Some("host")), "{b}");
    let (_, b) = h.get("/api/v1/rooms/show/stage", &v7).await;
    let mut last = version(&b);
    assert!(last > 0, "claiming the room put the host on stage: {b}");

    let (mut ws, _) = connected(&h, &watcher).await;
    send(
        &mut ws,
        json!({"type": "room.subscribe", "room_name": "show", "ref": 1}),
    )
    .await;
    assert_eq!(version(&next_stage(&mut ws).await), last);
    assert_eq!(next_msg(&mut ws).await.unwrap()["type"], "ack");

    let mut step = |reply: &Value, pushed: &Value, what: &str| {
        assert_eq!(reply, pushed, "{what}: reply and push differ");
        let v = version(reply);
        assert!(v > last, "{what}: version {v} not above {last}");
        last = v;
        v
    };

    let (s, b) = h
        .post("/api/v1/rooms/show/stage/request", &v7, json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    let v = step(&b, &next_stage(&mut ws).await, "request");
    // Duplicate request, the host's request and inviting themselves: no change.
    let (_, b) = h
        .post("/api/v1/rooms/show/stage/request", &v7, json!({}))
        .await;
    assert_eq!(version(&b), v, "{b}");
    let (_, b) = h
        .post("/api/v1/rooms/show/stage/request", &host, json!({}))
        .await;
    assert_eq!(version(&b), v, "{b}");
    let (_, b) = h
        .post(
            "/api/v1/rooms/show/stage/invite",
            &host,
            json!({"identity": "host1"}),
        )
        .await;
    assert_eq!(version(&b), v, "{b}");
    // Removing someone not on stage is refused and records nothing.
    let (s, _) = h
        .post(
            "/api/v1/rooms/show/stage/remove",
            &host,
            json!({"identity": "v7"}),
        )
        .await;
    assert_eq!(s, 404);
    let (_, b) = h.get("/api/v1/rooms/show/stage", &v7).await;
    assert_eq!(version(&b), v, "{b}");
    assert_eq!(b["requests"][0]["identity"], "v7", "{b}");

    // Leave drops the request.
    let (s, b) = h
        .post("/api/v1/rooms/show/stage/leave", &v7, json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["requests"], json!([]));
    let v = step(&b, &next_stage(&mut ws).await, "leave");
    let (_, b) = h
        .post("/api/v1/rooms/show/stage/leave", &v7, json!({}))
        .await;
    assert_eq!(version(&b), v, "idempotent leave: {b}");
    send(&mut ws, json!({"type": "echo", "ref": 2})).await;
    assert_eq!(next_msg(&mut ws).await.unwrap()["type"], "echo");

    // LiveKit reports the requester gone.
    let (s, b) = h
        .post("/api/v1/rooms/show/stage/request", &v7, json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    step(&b, &next_stage(&mut ws).await, "request again");
    let lk_room = format!("{}_show", app.app_id);
    let left = common::webhook_event("participant_left", &lk_room, "v7");
    assert_eq!(common::deliver_signed(&h, &left).await.0, 204);
    let pushed = next_stage(&mut ws).await;
    let (_, now) = h.get("/api/v1/rooms/show/stage", &v7).await;
    step(&now, &pushed, "participant_left");

    // room_finished releases the host: a change.
    let finished = common::webhook_event("room_finished", &lk_room, "");
    assert_eq!(common::deliver_signed(&h, &finished).await.0, 204);
    let pushed = next_stage(&mut ws).await;
    assert_eq!(pushed["members"], json!([]), "{pushed}");
    let (_, now) = h.get("/api/v1/rooms/show/stage", &v7).await;
    step(&now, &pushed, "room_finished");

    // A new host claims the room: the stage changed again.
    let (s, b) = live_token(&h, &v7, true).await;
    assert_eq!((s, b["role"].as_str()), (200, Some("host")), "{b}");
    let (_, now) = h.get("/api/v1/rooms/show/stage", &v7).await;
    assert_eq!(now["members"][0]["identity"], "v7", "{now}");
    assert!(version(&now) > last, "{now}");
    h.engine.shutdown().await;
}

/// A stage invite needs LiveKit's answer (is the identity in the room?):
/// with livekit-server frozen it fails within its bounded wait with a typed
/// error and records nothing, instead of waiting out the 5 s RoomService
/// timeout.
#[test]
fn a_stage_invite_to_a_frozen_livekit_fails_promptly_and_records_nothing() {
    let lk = utd_testkit::LiveKitServer::start().expect("livekit-server");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut config = EngineConfig::for_tests();
        config.livekit_url = lk.ws_url();
        config.livekit_api_key = lk.api_key().to_owned();
        config.livekit_api_secret = lk.api_secret().to_owned();
        let h = Harness::with_config(config).await;
        let app = h.app(Plan::Signaling).await;
        let host = h.token_for(&app, "host1").await;
        let v7 = h.token_for(&app, "v7").await;
        let (s, b) = live_token(&h, &host, true).await;
        assert_eq!(s, 200, "{b}");
        let (s, _) = live_token(&h, &v7, false).await;
        assert_eq!(s, 200);

        common::signal_process(lk.pid(), "-STOP");
        let started = std::time::Instant::now();
        let (s, b) = h
            .post(
                "/api/v1/rooms/show/stage/invite",
                &host,
                json!({"identity": "v7"}),
            )
            .await;
        let waited = started.elapsed();
        common::signal_process(lk.pid(), "-CONT");
        assert_eq!((s, error_code(&b)), (500, "internal".into()), "{b}");
        assert!(
            waited < Duration::from_secs(4),
            "the invite waited {waited:?}"
        );
        let (s, stage) = h.get("/api/v1/rooms/show/stage", &host).await;
        assert_eq!(s, 200, "{stage}");
        assert_eq!(
            stage["members"],
            json!([{"identity": "host1", "name": null, "role": "host"}]),
            "nothing recorded"
        );
        h.engine.shutdown().await;
    });
}
