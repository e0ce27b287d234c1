//! The session layer behaves the same whichever transport is below it: one
//! scenario, run over the in-memory fake transport and over LiveKit's FFI
//! library against a real livekit-server whose permissions are changed by
//! RoomService (as the engine does).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use livekit_api::access_token::{AccessToken, VideoGrants};
use livekit_api::services::room::{RoomClient, UpdateParticipantOptions};
use livekit_protocol as proto;
use utd_stream::media::fake::FakeTransport;
use utd_stream::media::livekit_ffi::LiveKitFfiTransport;
use utd_stream::media::{ActiveSpeaker, Permission, TrackSource, TransportOptions};
use utd_stream::session::RoomCore;
use utd_stream::UTDErrorCode;
use utd_testkit::LiveKitServer;

type Grant = Box<dyn Fn(bool) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Polls `probe` every 20 ms for up to 5 s.
async fn eventually(what: &str, probe: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !probe() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The scenario: canPublish follows only what the server pushes; the
/// microphone is refused before the grant, accepted after it, and taken away
/// when the grant is revoked; leave() makes the session reusable.
async fn publish_follows_server_grants(core: Arc<RoomCore>, url: &str, token: &str, grant: Grant) {
    let joined = core
        .connect(url, token, TransportOptions::default())
        .await
        .expect("join");
    assert!(core.connected.get());
    assert!(!core.can_publish.get(), "a listener joins without publish");
    assert_eq!(
        core.local_identity.get().as_deref(),
        Some(joined.local_identity.as_str())
    );

    let refused = core
        .set_microphone(true)
        .await
        .expect_err("no publish before the grant");
    assert_eq!(refused.code(), UTDErrorCode::Forbidden);

    grant(true).await;
    eventually("canPublish true after the server grant", || {
        core.can_publish.get()
    })
    .await;
    core.set_microphone(true)
        .await
        .expect("microphone after the grant");
    assert_eq!(core.published_sources.get(), vec![TrackSource::Microphone]);
    let camera = core
        .set_camera(true)
        .await
        .expect_err("camera was not granted");
    assert_eq!(camera.code(), UTDErrorCode::Forbidden);

    grant(false).await;
    eventually("canPublish false after the revoke", || {
        !core.can_publish.get()
    })
    .await;
    eventually("the server took the microphone away", || {
        core.published_sources.get().is_empty()
    })
    .await;

    core.leave().await.expect("leave");
    assert!(!core.connected.get());
    core.connect(url, token, TransportOptions::default())
        .await
        .expect("the session is reusable");
    assert!(core.connected.get());
    core.leave().await.expect("leave again");
}

fn microphone_permission(granted: bool) -> Permission {
    Permission {
        can_publish: granted,
        can_subscribe: true,
        can_publish_data: true,
        can_publish_sources: if granted {
            vec![TrackSource::Microphone]
        } else {
            Vec::new()
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_fake_transport() {
    let fake = Arc::new(FakeTransport::new(
        "room-1",
        "listener",
        microphone_permission(false),
    ));
    let core = RoomCore::new(fake.clone());
    let grant: Grant = Box::new(move |granted| {
        let fake = fake.clone();
        Box::pin(async move { fake.set_permission(microphone_permission(granted)) })
    });
    publish_follows_server_grants(core, "ws://fake", "fake-token", grant).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_livekit_ffi_transport_and_a_real_livekit_server() {
    let server = LiveKitServer::start().expect("livekit-server");
    let token = AccessToken::with_api_key(server.api_key(), server.api_secret())
        .with_identity("listener")
        .with_ttl(Duration::from_secs(600))
        .with_grants(VideoGrants {
            room_join: true,
            room: "room-1".into(),
            can_publish: Some(false),
            can_subscribe: Some(true),
            can_publish_data: Some(true),
            ..Default::default()
        })
        .to_jwt()
        .expect("token");
    let service = Arc::new(RoomClient::with_api_key(
        &server.http_url(),
        server.api_key(),
        server.api_secret(),
    ));
    let grant: Grant = Box::new(move |granted| {
        let service = service.clone();
        Box::pin(async move {
            // The full permission every time: UpdateParticipant replaces all flags.
            let permission = proto::ParticipantPermission {
                can_subscribe: true,
                can_publish: granted,
                can_publish_data: true,
                can_publish_sources: if granted {
                    vec![proto::TrackSource::Microphone as i32]
                } else {
                    Vec::new()
                },
                ..Default::default()
            };
            service
                .update_participant(
                    "room-1",
                    "listener",
                    UpdateParticipantOptions {
                        permission: Some(permission),
                        ..Default::default()
                    },
                )
                .await
                .expect("RoomService.UpdateParticipant");
        })
    });
    let core = RoomCore::new(Arc::new(LiveKitFfiTransport::new()));
    publish_follows_server_grants(core, &server.ws_url(), &token, grant).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speakers_with_their_levels_and_their_absence_reach_the_session() {
    let fake = Arc::new(FakeTransport::new(
        "room-2",
        "me",
        microphone_permission(false),
    ));
    let core = RoomCore::new(fake.clone());
    core.connect("ws://fake", "fake-token", TransportOptions::default())
        .await
        .expect("join");
    let loud = vec![
        ActiveSpeaker {
            identity: "alice".into(),
            level: Some(0.8),
        },
        ActiveSpeaker {
            identity: "bob".into(),
            level: None,
        },
    ];
    fake.set_active_speakers(loud.clone());
    eventually("the speakers, loudest first, levels kept", || {
        core.active_speakers.get() == loud
    })
    .await;
    fake.set_active_speakers(Vec::new());
    eventually("nobody speaking", || core.active_speakers.get().is_empty()).await;
}
