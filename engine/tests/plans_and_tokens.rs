//! Capability flags and limits per plan (including "not reported"), and
//! role-aware LiveKit grants.

mod common;

use common::{error_code, expect_close, status_json, Harness};
use livekit_api::access_token::TokenVerifier;
use serde_json::{json, Value};
use utd_engine::Plan;

#[tokio::test]
async fn each_plan_reports_its_flags_and_limits() {
    let h = Harness::start().await;
    let expected = [
        (Plan::Free, "free", false, false, [1, 0, 50, 0]),
        (Plan::Signaling, "signaling", true, false, [1, 0, 500, 0]),
        (Plan::Pro, "pro", true, true, [30, 256, 5000, 100]),
        (
            Plan::Enterprise,
            "enterprise",
            true,
            true,
            [365, 2000, 100000, 1000],
        ),
    ];
    for (plan, name, signaling, messaging, limits) in expected {
        let app = h.app(plan).await;
        let (status, s) = h.mint(&app, "alice").await;
        assert_eq!(status, 200, "{s}");
        assert_eq!(s["plan"], name);
        assert_eq!(s["signaling_enabled"], signaling, "{s}");
        assert_eq!(s["messaging_enabled"], messaging, "{s}");
        let l = &s["limits"];
        let got = [
            &l["history_days"],
            &l["max_group_members"],
            &l["max_friends"],
            &l["max_chatrooms"],
        ];
        for (g, e) in got.iter().zip(limits) {
            assert_eq!(**g, json!(e), "{name}: {s}");
        }
        assert!(s["user_token"].as_str().unwrap().starts_with("utdst_"));
        // /me is the same object without the bearer.
        let (_, me) = h.get("/api/v1/me", s["user_token"].as_str().unwrap()).await;
        let mut minted = s.clone();
        minted.as_object_mut().unwrap().remove("user_token");
        assert_eq!(me, minted);
    }
    h.engine.shutdown().await;
}

#[tokio::test]
async fn unreported_capabilities_are_null_but_still_enforced() {
    let h = Harness::start().await;
    let app = h.app(Plan::Free).await;
    h.admin
        .set_plan(&app.app_id, Plan::Free, false)
        .await
        .unwrap();
    let (status, s) = h.mint(&app, "alice").await;
    assert_eq!(status, 200);
    assert_eq!(s["plan"], "free");
    assert_eq!(s["signaling_enabled"], Value::Null, "{s}");
    assert_eq!(s["messaging_enabled"], Value::Null);
    for k in [
        "history_days",
        "max_group_members",
        "max_friends",
        "max_chatrooms",
    ] {
        assert_eq!(s["limits"][k], Value::Null, "{k}");
    }
    // The gate still holds: a free app cannot open the signal socket.
    let mut ws = h.ws(s["user_token"].as_str()).await;
    assert_eq!(
        expect_close(&mut ws).await,
        (4403, "feature_disabled:signaling".to_owned())
    );
    // And a plan upgrade shows at once.
    h.admin
        .set_plan(&app.app_id, Plan::Pro, true)
        .await
        .unwrap();
    let (_, me) = h.get("/api/v1/me", s["user_token"].as_str().unwrap()).await;
    assert_eq!(me["signaling_enabled"], true);
    assert_eq!(me["messaging_enabled"], true);
    // So does a mint with the app headers (the mint above read the app, and
    // an engine keeps what it read for a moment).
    let (_, again) = h.mint(&app, "alice").await;
    assert_eq!(
        (again["plan"].as_str(), again["signaling_enabled"].as_bool()),
        (Some("pro"), Some(true)),
        "{again}"
    );
    h.engine.shutdown().await;
}

fn grants(token: &str) -> livekit_api::access_token::Claims {
    TokenVerifier::with_api_key("devkey", "secret")
        .verify(token)
        .expect("a token signed with the engine's LiveKit key")
}

#[tokio::test]
async fn room_tokens_carry_role_aware_grants() {
    let h = Harness::start().await;
    let app = h.app(Plan::Signaling).await;
    let host = h.token_for(&app, "host1").await;
    let viewer = h.token_for(&app, "viewer1").await;

    let mint = |bearer: String, room: &'static str, kind: &'static str, as_host: bool| {
        let h = &h;
        async move {
            let body = json!({"room_name": room, "stream_type": kind, "as_host": as_host});
            h.post("/api/v1/token", &bearer, body).await
        }
    };

    // Live stream host: camera + microphone, in the app-prefixed room.
    let (status, t) = mint(host.clone(), "show", "live_stream", true).await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["role"], "host");
    assert_eq!(t["room_name"], "show");
    assert_eq!(t["user_token"], host.as_str());
    assert!(t["ws_url"].as_str().unwrap().ends_with("/api/v1/signal"));
    let c = grants(t["token"].as_str().unwrap());
    assert_eq!(c.sub, "host1");
    assert_eq!(c.video.room, format!("{}_show", app.app_id));
    assert!(c.video.can_publish());
    assert_eq!(c.video.can_publish_sources, vec!["camera", "microphone"]);
    assert!(!c.video.room_admin);

    // Audience: subscribe + data, never publish.
    let (status, t) = mint(viewer.clone(), "show", "live_stream", false).await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["role"], "audience");
    let c = grants(t["token"].as_str().unwrap());
    assert!(!c.video.can_publish());
    assert!(c.video.can_subscribe());
    assert!(c.video.can_publish_data());
    assert!(c.video.can_publish_sources.is_empty());

    // A viewer claiming host of an owned room is refused, and nothing changes.
    let before = h.counts().await;
    let (status, e) = mint(viewer.clone(), "show", "live_stream", true).await;
    assert_eq!((status, error_code(&e).as_str()), (403, "forbidden"));
    // Same room name as another product: conflict.
    let (status, e) = mint(viewer.clone(), "show", "audio_room", false).await;
    assert_eq!((status, error_code(&e).as_str()), (409, "conflict"));
    assert_eq!(h.counts().await, before);

    // Audio room host: microphone only.
    let (status, t) = mint(host.clone(), "lobby", "audio_room", true).await;
    assert_eq!(status, 200, "{t}");
    let c = grants(t["token"].as_str().unwrap());
    assert_eq!(c.video.can_publish_sources, vec!["microphone"]);

    // Call rooms are only handed out for a call (tests/calls.rs): a room
    // name that is no call's room is not found.
    let (status, e) = mint(host.clone(), "lobby2", "video_call", false).await;
    assert_eq!((status, error_code(&e).as_str()), (404, "not_found"));
    h.engine.shutdown().await;
}

#[tokio::test]
async fn app_header_token_mint_also_mints_a_session() {
    let h = Harness::start().await;
    let app = h.app(Plan::Free).await;
    let resp = h
        .http
        .post(h.url("/api/v1/token"))
        .header("X-UTD-App-Id", &app.app_id)
        .header("X-UTD-App-Key", &app.app_key)
        .json(
            &json!({"identity": "u1", "name": "U One", "room_name": "lobby",
                      "stream_type": "audio_room", "as_host": true}),
        )
        .send()
        .await
        .unwrap();
    let (status, t) = status_json(resp).await;
    assert_eq!(status, 200, "{t}");
    // Free plan: no signaling, so no signal socket URL.
    assert_eq!(t["ws_url"], Value::Null);
    let (status, me) = h.get("/api/v1/me", t["user_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(me["identity"], "u1");
    assert_eq!(me["name"], "U One");
    assert_eq!(grants(t["token"].as_str().unwrap()).name, "U One");

    // Identity is required with app headers.
    let resp = h
        .http
        .post(h.url("/api/v1/token"))
        .header("X-UTD-App-Id", &app.app_id)
        .header("X-UTD-App-Key", &app.app_key)
        .json(&json!({"room_name": "lobby", "stream_type": "audio_room"}))
        .send()
        .await
        .unwrap();
    let (status, e) = status_json(resp).await;
    assert_eq!((status, error_code(&e).as_str()), (400, "invalid_argument"));
    // A bearer cannot claim another identity.
    let body =
        json!({"identity": "someone-else", "room_name": "lobby", "stream_type": "audio_room"});
    let (status, e) = h
        .post("/api/v1/token", t["user_token"].as_str().unwrap(), body)
        .await;
    assert_eq!((status, error_code(&e).as_str()), (403, "forbidden"));
    h.engine.shutdown().await;
}

#[tokio::test]
async fn push_tokens_are_stored_and_removed() {
    let h = Harness::start().await;
    let app = h.app(Plan::Free).await;
    let bearer = h.token_for(&app, "alice").await;
    let base = h.counts().await["push_tokens"];
    let body = json!({"platform": "apns_voip", "token": "abc123", "device_id": "ios-1"});
    let (status, _) = h
        .post("/api/v1/devices/push-token", &bearer, body.clone())
        .await;
    assert_eq!(status, 204);
    // Re-registering is idempotent.
    let (status, _) = h.post("/api/v1/devices/push-token", &bearer, body).await;
    assert_eq!(status, 204);
    assert_eq!(h.counts().await["push_tokens"], base + 1);
    let (status, e) = h
        .post(
            "/api/v1/devices/push-token",
            &bearer,
            json!({"platform": "sms", "token": "x"}),
        )
        .await;
    assert_eq!((status, error_code(&e).as_str()), (400, "invalid_argument"));
    let resp = h
        .http
        .delete(h.url("/api/v1/devices/push-token"))
        .bearer_auth(&bearer)
        .json(&json!({"token": "abc123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    assert_eq!(h.counts().await["push_tokens"], base);
    h.engine.shutdown().await;
}
