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
