//! Live stream stage against a real livekit-server: invites grant camera and
//! microphone in LiveKit, removal revokes, requests reach the host.

mod common;

use std::time::Duration;

use common::{connected, error_code, next_msg, send, Harness};
use livekit_api::services::room::RoomClient;
use livekit_protocol::{ParticipantPermission, TrackSource};
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

async fn wait_permission(
    rooms: &RoomClient,
    lk_room: &str,
    identity: &str,
    want: impl Fn(&ParticipantPermission) -> bool,
) -> ParticipantPermission {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let list = rooms.list_participants(lk_room).await.unwrap_or_default();
        let found = list
            .into_iter()
            .find(|p| p.identity == identity)
            .and_then(|p| p.permission);
        match found {
            Some(p) if want(&p) => return p,
            other => assert!(
                tokio::time::Instant::now() < deadline,
                "{identity}: permission never matched: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
        let url = format!(
            "{}/rtc?access_token={}&protocol=15&auto_subscribe=1",
            lk.ws_url(),
            b["token"].as_str().unwrap()
        );
        let (mut lk_ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let drain = tokio::spawn(async move {
            use futures_util::StreamExt as _;
            while let Some(Ok(_)) = lk_ws.next().await {}
        });
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
