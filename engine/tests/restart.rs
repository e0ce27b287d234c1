//! A file-backed engine restarted on the same port keeps its state.

mod common;

use common::{connected, error_code, expect_close, Harness};
use utd_engine::{DatabaseLocation, EngineConfig, Plan};

fn free_port() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

#[tokio::test]
async fn restart_with_file_db_keeps_sessions_apps_and_bans() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = EngineConfig::for_tests();
    config.bind = free_port();
    config.database = DatabaseLocation::File(dir.path().join("engine.sqlite3"));

    let h = Harness::with_config(config.clone()).await;
    let app = h.app(Plan::Signaling).await;
    let alice = h.token_for(&app, "alice").await;
    let _ = h.token_for(&app, "mallory").await;
    h.admin.ban(&app.app_id, "mallory").await.unwrap();
    let (mut ws, _) = connected(&h, &alice).await;
    let base = h.engine.base_url();
    h.engine.shutdown().await;
    // Connected clients are told the server is going away.
    assert_eq!(
        expect_close(&mut ws).await,
        (1001, "server_shutdown".to_owned())
    );

    let h = Harness::with_config(config).await;
    assert_eq!(h.engine.base_url(), base, "same port after restart");
    let (status, me) = h.get("/api/v1/me", &alice).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["identity"], "alice");
    assert_eq!(me["signaling_enabled"], true);
    let (status, e) = h.mint(&app, "mallory").await;
    assert_eq!((status, error_code(&e).as_str()), (403, "banned"));
    let (_ws, hello) = connected(&h, &alice).await;
    assert_eq!(hello["identity"], "alice");
    h.engine.shutdown().await;
}

fn version(state: &serde_json::Value) -> u64 {
    state["version"]
        .as_u64()
        .unwrap_or_else(|| panic!("no integer version: {state}"))
}

/// Seat and stage versions are stored: neither `room_finished` (which clears
/// the rooms) nor a restart takes them back.
#[tokio::test]
async fn state_versions_survive_room_finished_and_restart() {
    use serde_json::json;
    let dir = tempfile::tempdir().unwrap();
    let mut config = EngineConfig::for_tests();
    config.database = DatabaseLocation::File(dir.path().join("engine.sqlite3"));

    let h = Harness::with_config(config.clone()).await;
    let app = h.app(Plan::Signaling).await;
    let host = h.token_for(&app, "host").await;
    let alice = h.token_for(&app, "alice").await;
    for (room, kind) in [("lobby", "audio_room"), ("show", "live_stream")] {
        let body = json!({"room_name": room, "stream_type": kind, "as_host": true});
        let (s, b) = h.post("/api/v1/token", &host, body).await;
        assert_eq!(s, 200, "{b}");
    }
    let resp = h
        .http
        .put(h.url("/api/v1/rooms/lobby/seats"))
        .bearer_auth(&host)
        .json(&json!({"seat_count": 4, "seat_mode": "free"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let (s, b) = h
        .post("/api/v1/rooms/lobby/seats/1/take", &alice, json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    let seats_taken = version(&b);
    let (s, b) = h
        .post("/api/v1/rooms/show/stage/request", &alice, json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    let stage_requested = version(&b);

    for room in ["lobby", "show"] {
        let body = common::webhook_event("room_finished", &format!("{}_{room}", app.app_id), "");
        assert_eq!(common::deliver_signed(&h, &body).await.0, 204);
    }
    let (_, seats) = h.get("/api/v1/rooms/lobby/seats", &alice).await;
    assert!(seats["seats"][1]["identity"].is_null(), "{seats}");
    assert!(version(&seats) > seats_taken, "{seats}");
    let (_, stage) = h.get("/api/v1/rooms/show/stage", &alice).await;
    assert_eq!(stage["requests"], json!([]), "{stage}");
    assert!(version(&stage) > stage_requested, "{stage}");
    h.engine.shutdown().await;

    let h = Harness::with_config(config).await;
    let (s, b) = h.get("/api/v1/rooms/lobby/seats", &alice).await;
    assert_eq!((s, version(&b)), (200, version(&seats)), "{b}");
    let (s, b) = h.get("/api/v1/rooms/show/stage", &alice).await;
    assert_eq!((s, version(&b)), (200, version(&stage)), "{b}");
    // And they go on up from there.
    let (s, b) = h
        .post("/api/v1/rooms/lobby/seats/2/take", &alice, json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(version(&b), version(&seats) + 1, "{b}");
    let (s, b) = h
        .post("/api/v1/rooms/show/stage/request", &alice, json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(version(&b), version(&stage) + 1, "{b}");
    h.engine.shutdown().await;
}
