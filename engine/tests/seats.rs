//! Audio room seats: atomic claims, host-only operations, request mode,
//! room subscriptions and the LiveKit permission updates.

mod common;

use std::time::Duration;

use common::livekit::{join_livekit, wait_permission};
use common::{connected, error_code, next_msg, send, Harness};
use futures_util::future::join_all;
use livekit_api::services::room::RoomClient;
use serde_json::{json, Value};
use utd_engine::{EngineConfig, Plan};

/// Mints a room token (bearer) and returns the reply.
async fn room_token(h: &Harness, bearer: &str, room: &str, as_host: bool) -> (u16, Value) {
    h.post(
        "/api/v1/token",
        bearer,
        json!({"room_name": room, "stream_type": "audio_room", "as_host": as_host}),
    )
    .await
}

async fn put_seats(h: &Harness, bearer: &str, room: &str, body: Value) -> (u16, Value) {
    let resp = h
        .http
        .put(h.url(&format!("/api/v1/rooms/{room}/seats")))
        .bearer_auth(bearer)
        .json(&body)
        .send()
        .await
        .expect("request");
    common::status_json(resp).await
}

/// A host with an 8-seat room in `mode`.
async fn room_with_host(
    h: &Harness,
    app: &utd_engine::admin_client::AppCredentials,
    mode: &str,
) -> String {
    let host = h.token_for(app, "host").await;
    let (s, b) = room_token(h, &host, "lobby", true).await;
    assert_eq!((s, b["role"].as_str()), (200, Some("host")), "{b}");
    let (s, b) = put_seats(
        h,
        &host,
        "lobby",
        json!({"seat_count": 8, "seat_mode": mode}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["seat_count"], 8);
    assert_eq!(b["seats"].as_array().unwrap().len(), 8);
    host
}

/// The JWT's payload.
fn claims(jwt: &str) -> Value {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1).expect("payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64");
    serde_json::from_slice(&bytes).expect("json")
}

/// The `version` of a Seats state (an integer ≥ 0).
fn version(state: &Value) -> u64 {
    state["version"]
        .as_u64()
        .unwrap_or_else(|| panic!("no integer version: {state}"))
}

#[tokio::test]
async fn twenty_concurrent_takers_exactly_one_wins() {
    let h = Harness::start().await;
    let app = h.app(Plan::Signaling).await;
    room_with_host(&h, &app, "free").await;
    let mut bearers = Vec::new();
    for i in 0..20 {
        bearers.push(h.token_for(&app, &format!("u{i}")).await);
    }
    let (_, before) = h.get("/api/v1/rooms/lobby/seats", &bearers[0]).await;
    let before = version(&before);
    let takes = bearers
        .iter()
        .map(|b| h.post("/api/v1/rooms/lobby/seats/3/take", b, json!({})));
    let results = join_all(takes).await;
    let wins: Vec<&Value> = results
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(wins.len(), 1, "{results:?}");
    // The one claim is one change: exactly one version step.
    assert_eq!(version(wins[0]), before + 1, "{}", wins[0]);
    for (s, b) in &results {
        if *s != 200 {
            assert_eq!((*s, error_code(b)), (409, "conflict".to_owned()), "{b}");
        }
    }
    let (_, state) = h.get("/api/v1/rooms/lobby/seats", &bearers[0]).await;
    let occupant = state["seats"][3]["identity"].as_str().expect("seated");
    assert!(occupant.starts_with('u'), "{state}");
    let occupied = state["seats"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| !s["identity"].is_null())
        .count();
    assert_eq!(occupied, 1, "{state}");
    assert_eq!(
        version(&state),
        before + 1,
        "losers changed nothing: {state}"
    );
    h.engine.shutdown().await;
}

/// Next message, which must be a `seats.updated`; returns its state.
async fn next_seats(ws: &mut common::Ws) -> Value {
    let m = next_msg(ws).await.unwrap();
    assert_eq!(m["type"], "seats.updated", "{m}");
    m["seats"].clone()
}

/// One change: the reply (or the state read right after) equals the push,
/// and its version is above the previous one.
fn step(last: &mut u64, reply: &Value, pushed: &Value, what: &str) {
    assert_eq!(reply, pushed, "{what}: reply and push differ");
    let v = version(reply);
    assert!(v > *last, "{what}: version {v} not above {last}");
    *last = v;
}

/// Asserts that nothing was pushed before the `echo` round trip.
async fn no_push(ws: &mut common::Ws, r: i64) {
    send(ws, json!({"type": "echo", "ref": r})).await;
    let m = next_msg(ws).await.unwrap();
    assert_eq!(m["type"], "echo", "expected no push: {m}");
}

#[tokio::test]
async fn seat_versions_increase_and_replies_match_pushes() {
    let h = Harness::start().await;
    let app = h.app(Plan::Signaling).await;
    let host = h.token_for(&app, "host").await;
    let (s, b) = room_token(&h, &host, "lobby", true).await;
    assert_eq!(s, 200, "{b}");
    // A room with no setup reports version 0.
    let (s, b) = h.get("/api/v1/rooms/lobby/seats", &host).await;
    assert_eq!(
        (s, version(&b), b["seat_count"].as_i64()),
        (200, 0, Some(0))
    );

    let watcher = h.token_for(&app, "watcher").await;
    let (mut ws, _) = connected(&h, &watcher).await;
    send(
        &mut ws,
        json!({"type": "room.subscribe", "room_name": "lobby", "ref": 1}),
    )
    .await;
    assert_eq!(version(&next_seats(&mut ws).await), 0);
    assert_eq!(next_msg(&mut ws).await.unwrap()["type"], "ack");

    let alice = h.token_for(&app, "alice").await;
    let bob = h.token_for(&app, "bob").await;
    let carol = h.token_for(&app, "carol").await;
    let mut last = 0;

    let (s, b) = put_seats(
        &h,
        &host,
        "lobby",
        json!({"seat_count": 8, "seat_mode": "free"}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    step(&mut last, &b, &next_seats(&mut ws).await, "setup");
    let (s, b) = h
        .post("/api/v1/rooms/lobby/seats/0/take", &alice, json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    step(&mut last, &b, &next_seats(&mut ws).await, "take");

    // No change: same version, nothing pushed.
    let v = last;
    let (s, b) = h
        .post("/api/v1/rooms/lobby/seats/0/take", &alice, json!({}))
        .await;
    assert_eq!((s, version(&b)), (200, v), "{b}");
    let (s, b) = h
        .post("/api/v1/rooms/lobby/seats/leave", &bob, json!({}))
        .await;
    assert_eq!((s, version(&b)), (200, v), "{b}");
    no_push(&mut ws, 2).await;
    // A refusal changes nothing either.
    let (s, _) = h
        .post("/api/v1/rooms/lobby/seats/0/take", &bob, json!({}))
        .await;
    assert_eq!(s, 409);
    let (_, b) = h.get("/api/v1/rooms/lobby/seats", &bob).await;
    assert_eq!(version(&b), v, "{b}");

    let (s, b) = h
        .post(
            "/api/v1/rooms/lobby/seats/invite",
            &host,
            json!({"identity": "bob"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    step(&mut last, &b, &next_seats(&mut ws).await, "invite");
    let (s, b) = put_seats(
        &h,
        &host,
        "lobby",
        json!({"seat_count": 6, "seat_mode": "request"}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    step(&mut last, &b, &next_seats(&mut ws).await, "setup again");

    // A request replies with its id; its push carries the next version.
    let (s, b) = h
        .post("/api/v1/rooms/lobby/seats/requests", &carol, json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    let id = b["request_id"].as_i64().unwrap();
    let pushed = next_seats(&mut ws).await;
    let (_, now) = h.get("/api/v1/rooms/lobby/seats", &carol).await;
    step(&mut last, &now, &pushed, "request");
    let approve = format!("/api/v1/rooms/lobby/seats/requests/{id}/approve");
    let (s, b) = h.post(&approve, &host, json!({})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["seats"][2]["identity"], "carol", "{b}");
    step(&mut last, &b, &next_seats(&mut ws).await, "approve");
    let (s, b) = h
        .post("/api/v1/rooms/lobby/seats/leave", &alice, json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    step(&mut last, &b, &next_seats(&mut ws).await, "leave");

    // Webhook changes: mute, participant_left, room_finished.
    let lk_room = format!("{}_lobby", app.app_id);
    let muted = json!({
        "event": "track_muted",
        "room": {"name": lk_room},
        "participant": {"identity": "bob"},
        "track": {"sid": "TR_1", "source": "MICROPHONE", "muted": true},
    })
    .to_string();
    assert_eq!(common::deliver_signed(&h, &muted).await.0, 204);
    let pushed = next_seats(&mut ws).await;
    assert_eq!(pushed["seats"][1]["muted"], true, "{pushed}");
    let (_, now) = h.get("/api/v1/rooms/lobby/seats", &bob).await;
    step(&mut last, &now, &pushed, "mute");
    // The same mute again is no change.
    assert_eq!(common::deliver_signed(&h, &muted).await.0, 204);
    no_push(&mut ws, 3).await;

    let left = common::webhook_event("participant_left", &lk_room, "bob");
    assert_eq!(common::deliver_signed(&h, &left).await.0, 204);
    let pushed = next_seats(&mut ws).await;
    let (_, now) = h.get("/api/v1/rooms/lobby/seats", &bob).await;
    step(&mut last, &now, &pushed, "participant_left");

    let finished = common::webhook_event("room_finished", &lk_room, "");
    assert_eq!(common::deliver_signed(&h, &finished).await.0, 204);
    let pushed = next_seats(&mut ws).await;
    assert!(pushed["seats"][2]["identity"].is_null(), "{pushed}");
    let (_, now) = h.get("/api/v1/rooms/lobby/seats", &bob).await;
    step(&mut last, &now, &pushed, "room_finished");

    // After the room was cleared, changes keep counting up.
    let (s, b) = room_token(&h, &alice, "lobby", true).await;
    assert_eq!((s, b["role"].as_str()), (200, Some("host")), "{b}");
    let (s, b) = h
        .post("/api/v1/rooms/lobby/seats/4/take", &alice, json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    step(
        &mut last,
        &b,
        &next_seats(&mut ws).await,
        "take after room_finished",
    );
    h.engine.shutdown().await;
}

#[tokio::test]
async fn free_mode_take_leave_and_errors() {
    let h = Harness::start().await;
    let app = h.app(Plan::Signaling).await;
    room_with_host(&h, &app, "free").await;
    let alice = h.token_for(&app, "alice").await;
    let bob = h.token_for(&app, "bob").await;

    let (s, b) = h
        .post("/api/v1/rooms/lobby/seats/0/take", &alice, json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["seats"][0]["identity"], "alice");
    // Same seat again: no change.
    let (s, _) = h
        .post("/api/v1/rooms/lobby/seats/0/take", &alice, json!({}))
        .await;
    assert_eq!(s, 200);
    // Another seat while seated: conflict.
    let (s, b) = h
        .post("/api/v1/rooms/lobby/seats/1/take", &alice, json!({}))
        .await;
    assert_eq!((s, error_code(&b)), (409, "conflict".into()));
    // Someone else's seat: conflict; out of range: 400.
    let (s, b) = h
        .post("/api/v1/rooms/lobby/seats/0/take", &bob, json!({}))
        .await;
    assert_eq!((s, error_code(&b)), (409, "conflict".into()));
    let (s, b) = h
        .post("/api/v1/rooms/lobby/seats/8/take", &bob, json!({}))
        .await;
    assert_eq!((s, error_code(&b)), (400, "invalid_argument".into()));
    // Requests are for request mode.
    let (s, b) = h
        .post("/api/v1/rooms/lobby/seats/requests", &bob, json!({}))
        .await;
    assert_eq!((s, error_code(&b)), (409, "invalid_state".into()));

    // A seated listener's room token grants the microphone.
    let (s, b) = room_token(&h, &alice, "lobby", false).await;
    assert_eq!((s, b["role"].as_str()), (200, Some("speaker")), "{b}");
    let video = &claims(b["token"].as_str().unwrap())["video"];
    assert_eq!(video["canPublish"], true, "{video}");
    assert_eq!(video["canPublishSources"], json!(["microphone"]), "{video}");
    let (_, b) = room_token(&h, &bob, "lobby", false).await;
    assert_eq!(b["role"], "audience");
    assert_eq!(
        claims(b["token"].as_str().unwrap())["video"]["canPublish"],
        false
    );

    let (s, b) = h
        .post("/api/v1/rooms/lobby/seats/leave", &alice, json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    assert!(b["seats"][0]["identity"].is_null(), "{b}");
    let (s, _) = h
        .post("/api/v1/rooms/lobby/seats/leave", &alice, json!({}))
        .await;
    assert_eq!(s, 200, "leave is idempotent");
    let (_, b) = room_token(&h, &alice, "lobby", false).await;
    assert_eq!(b["role"], "audience");

    // Unknown room / room of another type: 404.
    let (s, b) = h.get("/api/v1/rooms/nope/seats", &bob).await;
    assert_eq!((s, error_code(&b)), (404, "not_found".into()));
    h.engine.shutdown().await;
}

#[tokio::test]
async fn host_operations_are_forbidden_to_others() {
    let h = Harness::start().await;
    let app = h.app(Plan::Signaling).await;
    let host = room_with_host(&h, &app, "request").await;
    let eve = h.token_for(&app, "eve").await;
    let bob = h.token_for(&app, "bob").await;

    let (s, b) = put_seats(
        &h,
        &eve,
        "lobby",
        json!({"seat_count": 2, "seat_mode": "free"}),
    )
    .await;
    assert_eq!((s, error_code(&b)), (403, "forbidden".into()));
    let (s, b) = h
        .post(
            "/api/v1/rooms/lobby/seats/invite",
            &eve,
            json!({"identity": "eve"}),
        )
        .await;
    assert_eq!((s, error_code(&b)), (403, "forbidden".into()));
    // Request mode: listeners cannot take.
    let (s, b) = h
        .post("/api/v1/rooms/lobby/seats/0/take", &eve, json!({}))
        .await;
    assert_eq!((s, error_code(&b)), (403, "forbidden".into()));

    // Request, duplicate request, approval by the host only.
    let (s, b) = h
        .post("/api/v1/rooms/lobby/seats/requests", &bob, json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    let id = b["request_id"].as_i64().unwrap();
    let (_, b) = h
        .post("/api/v1/rooms/lobby/seats/requests", &bob, json!({}))
        .await;
    assert_eq!(b["request_id"].as_i64(), Some(id));
    let approve = format!("/api/v1/rooms/lobby/seats/requests/{id}/approve");
    let (s, b) = h.post(&approve, &eve, json!({})).await;
    assert_eq!((s, error_code(&b)), (403, "forbidden".into()));
    let (s, b) = h.post(&approve, &host, json!({})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["seats"][0]["identity"], "bob");
    assert_eq!(b["requests"], json!([]));
    let (s, b) = h.post(&approve, &host, json!({})).await;
    assert_eq!((s, error_code(&b)), (404, "not_found".into()));

    // The host takes any seat and invites to a given seat.
    let (s, _) = h
        .post("/api/v1/rooms/lobby/seats/5/take", &host, json!({}))
        .await;
    assert_eq!(s, 200);
    let (s, b) = h
        .post(
            "/api/v1/rooms/lobby/seats/invite",
            &host,
            json!({"identity": "eve", "seat_index": 5}),
        )
        .await;
    assert_eq!((s, error_code(&b)), (409, "conflict".into()));
    let (s, b) = h
        .post(
            "/api/v1/rooms/lobby/seats/invite",
            &host,
            json!({"identity": "eve"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["seats"][1]["identity"], "eve");

    // Shrinking unseats occupants of removed seats.
    let (s, b) = put_seats(
        &h,
        &host,
        "lobby",
        json!({"seat_count": 1, "seat_mode": "request"}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["seats"],
        json!([{"index": 0, "identity": "bob", "name": null, "muted": false}])
    );
    h.engine.shutdown().await;
}

#[tokio::test]
async fn subscribers_get_seats_updated() {
    let h = Harness::start().await;
    let app = h.app(Plan::Signaling).await;
    room_with_host(&h, &app, "free").await;
    let alice = h.token_for(&app, "alice").await;
    let watcher = h.token_for(&app, "watcher").await;
    let (mut ws, _) = connected(&h, &watcher).await;
    send(
        &mut ws,
        json!({"type": "room.subscribe", "room_name": "lobby", "ref": 1}),
    )
    .await;
    let first = next_msg(&mut ws).await.unwrap();
    assert_eq!(first["type"], "seats.updated", "{first}");
    assert_eq!(first["seats"]["seat_count"], 8);
    assert_eq!(
        next_msg(&mut ws).await.unwrap(),
        json!({"type": "ack", "ref": 1})
    );

    let (s, _) = h
        .post("/api/v1/rooms/lobby/seats/2/take", &alice, json!({}))
        .await;
    assert_eq!(s, 200);
    let m = next_msg(&mut ws).await.unwrap();
    assert_eq!(m["type"], "seats.updated");
    assert_eq!(m["seats"]["seats"][2]["identity"], "alice", "{m}");

    send(
        &mut ws,
        json!({"type": "room.unsubscribe", "room_name": "lobby", "ref": 2}),
    )
    .await;
    assert_eq!(
        next_msg(&mut ws).await.unwrap(),
        json!({"type": "ack", "ref": 2})
    );
    let (s, _) = h
        .post("/api/v1/rooms/lobby/seats/leave", &alice, json!({}))
        .await;
    assert_eq!(s, 200);
    send(&mut ws, json!({"type": "echo", "ref": 3})).await;
    let m = next_msg(&mut ws).await.unwrap();
    assert_eq!(m["type"], "echo", "no update after unsubscribe: {m}");
    h.engine.shutdown().await;
}

#[test]
fn seating_updates_the_livekit_permission() {
    let lk = utd_testkit::LiveKitServer::start().expect("livekit-server");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut config = EngineConfig::for_tests();
        config.livekit_url = lk.ws_url();
        config.livekit_api_key = lk.api_key().to_owned();
        config.livekit_api_secret = lk.api_secret().to_owned();
        let h = Harness::with_config(config).await;
        let app = h.app(Plan::Signaling).await;
        room_with_host(&h, &app, "free").await;
        let alice = h.token_for(&app, "alice").await;
        let (s, b) = room_token(&h, &alice, "lobby", false).await;
        assert_eq!((s, b["role"].as_str()), (200, Some("audience")), "{b}");
        let drain = join_livekit(&lk.ws_url(), b["token"].as_str().unwrap()).await;

        let rooms = RoomClient::with_api_key(&lk.http_url(), lk.api_key(), lk.api_secret());
        let lk_room = format!("{}_lobby", app.app_id);
        let p = wait_permission(&rooms, &lk_room, "alice", |_| true).await;
        assert!(!p.can_publish, "{p:?}");

        let (s, b) = h
            .post("/api/v1/rooms/lobby/seats/4/take", &alice, json!({}))
            .await;
        assert_eq!(s, 200, "{b}");
        let p = wait_permission(&rooms, &lk_room, "alice", |p| p.can_publish).await;
        assert!(p.can_subscribe && p.can_publish_data, "{p:?}");
        assert_eq!(
            p.can_publish_sources,
            vec![livekit_protocol::TrackSource::Microphone as i32]
        );

        let (s, _) = h
            .post("/api/v1/rooms/lobby/seats/leave", &alice, json!({}))
            .await;
        assert_eq!(s, 200);
        let p = wait_permission(&rooms, &lk_room, "alice", |p| !p.can_publish).await;
        assert!(p.can_subscribe && p.can_publish_data, "{p:?}");
        drain.abort();
        h.engine.shutdown().await;
    });
}

#[tokio::test]
async fn seats_and_stage_need_signaling() {
    let h = Harness::start().await;
    let app = h.app(Plan::Free).await;
    let host = h.token_for(&app, "host").await;
    let (s, b) = room_token(&h, &host, "lobby", true).await;
    assert_eq!(s, 200, "{b}");
    for path in ["/api/v1/rooms/lobby/seats", "/api/v1/rooms/lobby/stage"] {
        let (s, b) = h.get(path, &host).await;
        assert_eq!(
            (s, error_code(&b)),
            (403, "feature_disabled".into()),
            "{path}"
        );
        assert_eq!(b["error"]["capability"], "signaling");
    }
    let (s, b) = h
        .post("/api/v1/rooms/lobby/seats/0/take", &host, json!({}))
        .await;
    assert_eq!((s, error_code(&b)), (403, "feature_disabled".into()));
    // A signaling app: stage routes refuse audio rooms, odd names are 404.
    let app = h.app(Plan::Signaling).await;
    let host = h.token_for(&app, "host").await;
    room_token(&h, &host, "lobby", true).await;
    let (s, b) = h.get("/api/v1/rooms/lobby/stage", &host).await;
    assert_eq!((s, error_code(&b)), (404, "not_found".into()));
    let (s, b) = h.get("/api/v1/rooms/bad%20name/seats", &host).await;
    assert_eq!((s, error_code(&b)), (404, "not_found".into()));
    h.engine.shutdown().await;
}

/// With livekit-server frozen (SIGSTOP) a seat change is answered at once
/// (it used to wait out the 5 s RoomService timeout) and its permission is
/// retried until LiveKit runs again and takes it.
#[test]
fn a_seat_taken_while_livekit_is_frozen_is_answered_at_once_and_granted_later() {
    let lk = utd_testkit::LiveKitServer::start().expect("livekit-server");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut config = EngineConfig::for_tests();
        config.livekit_url = lk.ws_url();
        config.livekit_api_key = lk.api_key().to_owned();
        config.livekit_api_secret = lk.api_secret().to_owned();
        let h = Harness::with_config(config).await;
        let app = h.app(Plan::Signaling).await;
        room_with_host(&h, &app, "free").await;
        let alice = h.token_for(&app, "alice").await;
        let (s, b) = room_token(&h, &alice, "lobby", false).await;
        assert_eq!(s, 200, "{b}");
        let drain = join_livekit(&lk.ws_url(), b["token"].as_str().unwrap()).await;
        let rooms = RoomClient::with_api_key(&lk.http_url(), lk.api_key(), lk.api_secret());
        let lk_room = format!("{}_lobby", app.app_id);
        wait_permission(&rooms, &lk_room, "alice", |p| !p.can_publish).await;

        common::signal_process(lk.pid(), "-STOP");
        let started = std::time::Instant::now();
        let (s, b) = h
            .post("/api/v1/rooms/lobby/seats/4/take", &alice, json!({}))
            .await;
        let waited = started.elapsed();
        // Long enough for the first attempt to time out and be retried.
        tokio::time::sleep(Duration::from_secs(6)).await;
        common::signal_process(lk.pid(), "-CONT");
        assert_eq!(s, 200, "{b}");
        assert!(
            waited < Duration::from_secs(2),
            "the take waited {waited:?}"
        );
        wait_permission(&rooms, &lk_room, "alice", |p| p.can_publish).await;
        drain.abort();
        h.engine.shutdown().await;
    });
}
