//! Audio rooms end to end: the engine decides who publishes, LiveKit pushes
//! it, the session reflects it. Real engine + real livekit-server; the
//! control-plane transport joins the room.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::{plan_named, Engine};
use utd_engine::admin_client::AppCredentials;
use utd_stream::api::credentials::AppCredentials as SdkCredentials;
use utd_stream::api::EngineApi;
use utd_stream::auth::AuthState;
use utd_stream::media::control_plane::ControlPlaneTransport;
use utd_stream::session::audio_room::{AudioRoom, AudioRoomJoin};
use utd_stream::UTDErrorCode;
use utd_testkit::LiveKitServer;

fn auth(engine: &Engine, app: &AppCredentials) -> Arc<AuthState> {
    let api = EngineApi::new(
        SdkCredentials::new(app.app_id.clone(), app.app_key.clone()),
        &engine.url(),
        &engine.url(),
    )
    .expect("api");
    Arc::new(AuthState::new(api))
}

async fn join(
    engine: &Engine,
    app: &AppCredentials,
    identity: &str,
    as_host: bool,
    seats: Option<u32>,
) -> AudioRoom {
    AudioRoom::join(
        auth(engine, app),
        Arc::new(ControlPlaneTransport::new()),
        AudioRoomJoin {
            identity: identity.into(),
            room_name: "lobby".into(),
            as_host,
            seat_count: seats,
            seat_mode: Some("free".into()),
            ..AudioRoomJoin::default()
        },
    )
    .await
    .expect("join the audio room")
}

async fn eventually(what: &str, probe: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !probe() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seat_is_what_grants_publish() {
    let livekit = LiveKitServer::start().expect("livekit-server");
    let engine = Engine::start_with(|config| {
        config.livekit_url = livekit.ws_url();
        config.livekit_api_key = livekit.api_key().to_owned();
        config.livekit_api_secret = livekit.api_secret().to_owned();
    })
    .await;
    let app = engine
        .admin()
        .create_app("rooms", plan_named("signaling"))
        .await
        .expect("app");

    let host = join(&engine, &app, "host", true, Some(4)).await;
    assert!(host.is_host());
    assert_eq!(host.seats.get().map(|s| s.seat_count), Some(4));
    let listener = join(&engine, &app, "listener", false, None).await;
    assert!(!listener.is_host());
    assert!(
        !listener.core.can_publish.get(),
        "listeners join without publish"
    );

    let refused = listener
        .core
        .set_microphone(true)
        .await
        .expect_err("no seat, no microphone");
    assert_eq!(refused.code(), UTDErrorCode::Forbidden);

    listener
        .take_seat(1)
        .await
        .expect("take seat 1 (waits for LiveKit's grant, then mic on)");
    assert!(listener.core.can_publish.get());
    let seats = listener.get_seats().await.expect("seats");
    assert_eq!(seats.seats[1].identity.as_deref(), Some("listener"));

    let taken = host
        .invite_to_speak("host", Some(1))
        .await
        .expect_err("seat 1 is taken");
    assert_eq!(taken.code(), UTDErrorCode::Conflict);
    let forbidden = listener
        .invite_to_speak("someone", Some(2))
        .await
        .expect_err("not the host");
    assert_eq!(forbidden.code(), UTDErrorCode::Forbidden);

    listener.leave_seat().await.expect("leave the seat");
    eventually("canPublish false as pushed by LiveKit", || {
        !listener.core.can_publish.get()
    })
    .await;
    let again = listener
        .core
        .set_microphone(true)
        .await
        .expect_err("off the seat");
    assert_eq!(again.code(), UTDErrorCode::Forbidden);

    listener.leave().await.expect("leave");
    host.leave().await.expect("leave");
}
