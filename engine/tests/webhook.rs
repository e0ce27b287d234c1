//! The LiveKit webhook: signature checks, seat release on
//! `participant_left` / `room_finished`, and events delivered twice, at once,
//! or late (applied once; stale ones dropped).

mod common;

use std::time::Duration;

use common::{deliver_signed, error_code, Harness};
use common::{deliver_webhook as deliver, sign_webhook as sign, webhook_event as event};
use serde_json::json;
use utd_engine::{EngineConfig, Plan};

/// A host, an 8-seat free room and `alice` on seat 0.
async fn seated_alice(h: &Harness) -> (String, String) {
    let app = h.app(Plan::Signaling).await;
    let host = h.token_for(&app, "host").await;
    let (s, b) = h
        .post(
            "/api/v1/token",
            &host,
            json!({"room_name": "lobby", "stream_type": "audio_room", "as_host": true}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let resp = h
        .http
        .put(h.url("/api/v1/rooms/lobby/seats"))
        .bearer_auth(&host)
        .json(&json!({"seat_count": 8, "seat_mode": "free"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let alice = h.token_for(&app, "alice").await;
    let (s, b) = h
        .post("/api/v1/rooms/lobby/seats/0/take", &alice, json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    (format!("{}_lobby", app.app_id), alice)
}

/// A participant (or room) webhook event with its own `id` and `createdAt`
/// (seconds), as LiveKit sends them.
pub fn event_at(kind: &str, lk_room: &str, identity: &str, id: &str, created_at: i64) -> String {
    json!({
        "event": kind,
        "id": id,
        "createdAt": created_at.to_string(),
        "room": {"sid": "RM_1", "name": lk_room},
        "participant": {"sid": "PA_1", "identity": identity},
    })
    .to_string()
}

/// A microphone track event (`track_muted`, ...) like [`event_at`].
pub fn mic_event_at(
    kind: &str,
    lk_room: &str,
    identity: &str,
    id: &str,
    created_at: i64,
) -> String {
    json!({
        "event": kind,
        "id": id,
        "createdAt": created_at.to_string(),
        "room": {"sid": "RM_1", "name": lk_room},
        "participant": {"sid": "PA_1", "identity": identity},
        "track": {"sid": "TR_1", "source": "MICROPHONE", "muted": kind == "track_muted"},
    })
    .to_string()
}

/// A socket of `bearer` subscribed to the room `lobby` (its first state
/// consumed).
async fn subscribed(h: &Harness, bearer: &str) -> common::Ws {
    let (mut ws, _) = common::connected(h, bearer).await;
    common::send(
        &mut ws,
        json!({"type": "room.subscribe", "room_name": "lobby"}),
    )
    .await;
    let first = common::next_msg(&mut ws).await.unwrap();
    assert_eq!(first["seats"]["seats"][0]["identity"], "alice", "{first}");
    ws
}

/// The next push, which must be `seats.updated`; returns seat 0.
async fn next_seat0(ws: &mut common::Ws) -> serde_json::Value {
    let m = common::next_msg(ws).await.unwrap();
    assert_eq!(m["type"], "seats.updated", "{m}");
    m["seats"]["seats"][0].clone()
}

/// Seat 0 as `GET /seats` reads it.
async fn seat0(h: &Harness, bearer: &str) -> serde_json::Value {
    let (s, state) = h.get("/api/v1/rooms/lobby/seats", bearer).await;
    assert_eq!(s, 200, "{state}");
    state["seats"][0].clone()
}

async fn deliver_ok(h: &Harness, body: &str) {
    let (s, b) = deliver_signed(h, body).await;
    assert_eq!(s, 204, "{b}");
}

#[tokio::test]
async fn unsigned_or_forged_webhooks_are_refused() {
    let h = Harness::start().await;
    let (lk_room, alice) = seated_alice(&h).await;
    let body = event("participant_left", &lk_room, "alice");
    let cfg = EngineConfig::for_tests();

    let (s, b) = deliver(&h, None, &body).await;
    assert_eq!((s, error_code(&b)), (401, "unauthenticated".into()));
    let (s, b) = deliver(&h, Some("not-a-jwt"), &body).await;
    assert_eq!((s, error_code(&b)), (401, "unauthenticated".into()));
    // Signed with another secret.
    let forged = sign(&cfg.livekit_api_key, "not-the-secret", &body);
    let (s, b) = deliver(&h, Some(&forged), &body).await;
    assert_eq!((s, error_code(&b)), (401, "unauthenticated".into()));
    // Right key, but the signature covers another body.
    let other = sign(
        &cfg.livekit_api_key,
        &cfg.livekit_api_secret,
        &event("participant_left", &lk_room, "bob"),
    );
    let (s, b) = deliver(&h, Some(&other), &body).await;
    assert_eq!((s, error_code(&b)), (401, "unauthenticated".into()));

    let (_, state) = h.get("/api/v1/rooms/lobby/seats", &alice).await;
    assert_eq!(state["seats"][0]["identity"], "alice", "{state}");
    h.engine.shutdown().await;
}

#[tokio::test]
async fn signed_participant_left_frees_the_seat() {
    let h = Harness::start().await;
    let (lk_room, alice) = seated_alice(&h).await;
    let cfg = EngineConfig::for_tests();
    let (mut ws, _) = common::connected(&h, &alice).await;
    common::send(
        &mut ws,
        json!({"type": "room.subscribe", "room_name": "lobby"}),
    )
    .await;
    let first = common::next_msg(&mut ws).await.unwrap();
    assert_eq!(first["seats"]["seats"][0]["identity"], "alice");

    // Mute tracking from track events.
    let muted = json!({
        "event": "track_muted",
        "room": {"name": lk_room},
        "participant": {"identity": "alice"},
        "track": {"sid": "TR_1", "source": "MICROPHONE", "muted": true},
    })
    .to_string();
    let (s, b) = deliver(
        &h,
        Some(&sign(&cfg.livekit_api_key, &cfg.livekit_api_secret, &muted)),
        &muted,
    )
    .await;
    assert_eq!(s, 204, "{b}");
    let m = common::next_msg(&mut ws).await.unwrap();
    assert_eq!(m["seats"]["seats"][0]["muted"], true, "{m}");

    let body = event("participant_left", &lk_room, "alice");
    let auth = sign(&cfg.livekit_api_key, &cfg.livekit_api_secret, &body);
    let (s, b) = deliver(&h, Some(&auth), &body).await;
    assert_eq!(s, 204, "{b}");
    let m = common::next_msg(&mut ws).await.unwrap();
    assert_eq!(m["type"], "seats.updated");
    assert!(m["seats"]["seats"][0]["identity"].is_null(), "{m}");
    let (_, state) = h.get("/api/v1/rooms/lobby/seats", &alice).await;
    assert!(state["seats"][0]["identity"].is_null(), "{state}");

    // Unknown events and rooms are accepted and ignored.
    let body = event("egress_started", "nounderscore", "x");
    let auth = sign(&cfg.livekit_api_key, &cfg.livekit_api_secret, &body);
    assert_eq!(deliver(&h, Some(&auth), &body).await.0, 204);
    h.engine.shutdown().await;
}

#[tokio::test]
async fn room_finished_clears_seats_and_ownership() {
    let h = Harness::start().await;
    let (lk_room, alice) = seated_alice(&h).await;
    let cfg = EngineConfig::for_tests();
    let body = event("room_finished", &lk_room, "");
    let auth = sign(&cfg.livekit_api_key, &cfg.livekit_api_secret, &body);
    assert_eq!(deliver(&h, Some(&auth), &body).await.0, 204);
    let (_, state) = h.get("/api/v1/rooms/lobby/seats", &alice).await;
    assert!(state["seats"][0]["identity"].is_null(), "{state}");
    // Ownership is released: another user may now host the room.
    let (s, b) = h
        .post(
            "/api/v1/token",
            &alice,
            json!({"room_name": "lobby", "stream_type": "audio_room", "as_host": true}),
        )
        .await;
    assert_eq!((s, b["role"].as_str()), (200, Some("host")), "{b}");
    h.engine.shutdown().await;
}

#[test]
fn livekit_reports_a_departed_speaker() {
    // The engine's port must be known before LiveKit starts, so bind it first.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let h = rt.block_on(Harness::start());
    let lk = utd_testkit::LiveKitServer::builder()
        .with_webhook(h.url("/api/v1/livekit/webhook"))
        .start()
        .expect("livekit-server");
    rt.block_on(async {
        // LiveKit signs webhooks with its key pair, which the engine's test
        // config shares.
        let cfg = EngineConfig::for_tests();
        assert_eq!(
            (lk.api_key(), lk.api_secret()),
            (
                cfg.livekit_api_key.as_str(),
                cfg.livekit_api_secret.as_str()
            ),
            "testkit keys differ from EngineConfig::for_tests"
        );
        let (lk_room, alice) = seated_alice(&h).await;
        let token = h
            .post(
                "/api/v1/token",
                &alice,
                json!({"room_name": "lobby", "stream_type": "audio_room"}),
            )
            .await
            .1["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let url = format!(
            "{}/rtc?access_token={token}&protocol=15&auto_subscribe=1",
            lk.ws_url()
        );
        let (mut lk_ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let rooms = livekit_api::services::room::RoomClient::with_api_key(
            &lk.http_url(),
            lk.api_key(),
            lk.api_secret(),
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let list = rooms.list_participants(&lk_room).await.unwrap_or_default();
            if list.iter().any(|p| p.identity == "alice") {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "alice never joined");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Kick her out through LiveKit: LiveKit reports her gone (as
        // participant_connection_aborted, since she never sent media).
        rooms.remove_participant(&lk_room, "alice").await.unwrap();
        let _ = futures_util::SinkExt::close(&mut lk_ws).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let (_, state) = h.get("/api/v1/rooms/lobby/seats", &alice).await;
            if state["seats"][0]["identity"].is_null() {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "seat never freed: {state}\n{}",
                lk.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        h.engine.shutdown().await;
    });
}

/// LiveKit retries a delivery it thinks failed: the same event again changes
/// nothing and pushes nothing, even after the state moved on.
#[tokio::test]
async fn the_same_event_twice_applies_once() {
    let h = Harness::start().await;
    let (lk_room, alice) = seated_alice(&h).await;
    let mut ws = subscribed(&h, &alice).await;
    let t = 1_700_000_100;
    let left = event_at("participant_left", &lk_room, "alice", "EV_left", t);
    deliver_ok(&h, &left).await;
    assert!(next_seat0(&mut ws).await["identity"].is_null());

    // Alice takes her seat again; the redelivered leave does not free it.
    let (s, b) = h
        .post("/api/v1/rooms/lobby/seats/0/take", &alice, json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(next_seat0(&mut ws).await["identity"], "alice");
    deliver_ok(&h, &left).await;
    assert_eq!(seat0(&h, &alice).await["identity"], "alice");

    // The next push is the next event's: the duplicate pushed nothing.
    let muted = mic_event_at("track_muted", &lk_room, "alice", "EV_mute", t + 1);
    deliver_ok(&h, &muted).await;
    let seat = next_seat0(&mut ws).await;
    assert_eq!(
        (&seat["identity"], &seat["muted"]),
        (&json!("alice"), &json!(true))
    );
    h.engine.shutdown().await;
}

/// Events that arrive after a newer one of their room / participant are
/// dropped: they would undo newer state.
#[tokio::test]
async fn a_stale_event_after_a_newer_one_is_dropped() {
    let h = Harness::start().await;
    let (lk_room, alice) = seated_alice(&h).await;
    let mut ws = subscribed(&h, &alice).await;
    let t = 1_700_000_000;

    // Alice (re)joined at t + 200; her leave of t + 100 comes late.
    deliver_ok(
        &h,
        &event_at("participant_joined", &lk_room, "alice", "EV_j", t + 200),
    )
    .await;
    deliver_ok(
        &h,
        &event_at("participant_left", &lk_room, "alice", "EV_l", t + 100),
    )
    .await;
    assert_eq!(seat0(&h, &alice).await["identity"], "alice");

    // The room (re)started at t + 300; a finish of t + 250 comes late.
    deliver_ok(
        &h,
        &event_at("room_started", &lk_room, "", "EV_rs", t + 300),
    )
    .await;
    deliver_ok(
        &h,
        &event_at("room_finished", &lk_room, "", "EV_rf", t + 250),
    )
    .await;
    assert_eq!(seat0(&h, &alice).await["identity"], "alice");

    // Muted at t + 400; an unmute of t + 350 comes late.
    deliver_ok(
        &h,
        &mic_event_at("track_muted", &lk_room, "alice", "EV_m", t + 400),
    )
    .await;
    let seat = next_seat0(&mut ws).await;
    assert_eq!(
        (&seat["identity"], &seat["muted"]),
        (&json!("alice"), &json!(true))
    );
    deliver_ok(
        &h,
        &mic_event_at("track_unmuted", &lk_room, "alice", "EV_u", t + 350),
    )
    .await;
    assert_eq!(seat0(&h, &alice).await["muted"], true);
    // An event older than the room's newest is stale too.
    deliver_ok(
        &h,
        &mic_event_at("track_unmuted", &lk_room, "alice", "EV_u2", t + 299),
    )
    .await;
    assert_eq!(seat0(&h, &alice).await["muted"], true);

    // A newer leave applies, and its push is the next one (the stale events
    // pushed nothing).
    deliver_ok(
        &h,
        &event_at("participant_left", &lk_room, "alice", "EV_l2", t + 500),
    )
    .await;
    assert!(next_seat0(&mut ws).await["identity"].is_null());
    assert!(seat0(&h, &alice).await["identity"].is_null());
    // Events of the same second apply in arrival order.
    let (s, b) = h
        .post("/api/v1/rooms/lobby/seats/0/take", &alice, json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(next_seat0(&mut ws).await["identity"], "alice");
    deliver_ok(
        &h,
        &event_at("participant_left", &lk_room, "alice", "EV_l3", t + 500),
    )
    .await;
    assert!(next_seat0(&mut ws).await["identity"].is_null());
    h.engine.shutdown().await;
}

/// The same event delivered ten times at once (LiveKit retrying while the
/// first delivery is slow, possibly to other nodes) is applied once.
#[tokio::test]
async fn the_same_event_ten_times_at_once_applies_once() {
    let h = Harness::start().await;
    let (lk_room, alice) = seated_alice(&h).await;
    let mut ws = subscribed(&h, &alice).await;
    let t = 1_700_000_100;
    let left = event_at("participant_left", &lk_room, "alice", "EV_burst", t);
    let burst = || futures_util::future::join_all((0..10).map(|_| deliver_signed(&h, &left)));
    for (s, b) in burst().await {
        assert_eq!(s, 204, "{b}");
    }
    assert!(next_seat0(&mut ws).await["identity"].is_null());

    // Seated again, another burst of the same event changes nothing.
    let (s, b) = h
        .post("/api/v1/rooms/lobby/seats/0/take", &alice, json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(next_seat0(&mut ws).await["identity"], "alice");
    for (s, b) in burst().await {
        assert_eq!(s, 204, "{b}");
    }
    assert_eq!(seat0(&h, &alice).await["identity"], "alice");
    // The next push is the next event's.
    let muted = mic_event_at("track_muted", &lk_room, "alice", "EV_mute", t + 1);
    deliver_ok(&h, &muted).await;
    let seat = next_seat0(&mut ws).await;
    assert_eq!(
        (&seat["identity"], &seat["muted"]),
        (&json!("alice"), &json!(true))
    );
    h.engine.shutdown().await;
}
