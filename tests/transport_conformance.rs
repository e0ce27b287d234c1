//! One transport contract, checked against every transport compiled in: the
//! in-memory fake (with the test playing the server) and LiveKit's FFI
//! library against a real livekit-server (RoomService playing the engine).
//! Whatever the sessions above rely on (who decides publishing, which
//! events say what, which errors are typed how) is asserted here once, for
//! all of them. The phone transport (`--features livekit`) gets its harness
//! compiled here too; it cannot be linked on these machines.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::broadcast;
use utd_stream::media::fake::FakeTransport;
use utd_stream::media::frames::{
    AudioFrame, VideoFrame, VideoPixelFormat, VideoPlane, VideoRotation,
};
use utd_stream::media::{
    DisconnectReason, OutgoingData, Permission, RoomTransport, TrackSource, TransportEvent,
    TransportOptions, MAX_DATA_PAYLOAD_BYTES,
};
use utd_stream::UTDErrorCode;

const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

/// A room and the server side of it, for one kind of transport.
#[async_trait]
trait Harness: Send + Sync {
    /// A transport for `identity`, not connected yet.
    fn transport(&self, identity: &str) -> Arc<dyn RoomTransport>;
    /// The URL and token `identity` joins with (publish only if `can_publish`).
    fn credentials(&self, identity: &str, can_publish: bool) -> (String, String);
    /// The server replaces `identity`'s permission: publishing `sources`
    /// (none: no publishing), subscribing and data allowed.
    async fn grant(&self, identity: &str, sources: &[TrackSource]);
}

struct Fake {
    transports: std::sync::Mutex<Vec<(String, FakeTransport)>>,
}

impl Fake {
    fn new() -> Self {
        Self {
            transports: std::sync::Mutex::new(Vec::new()),
        }
    }
}

fn permission(sources: &[TrackSource]) -> Permission {
    Permission {
        can_publish: !sources.is_empty(),
        can_subscribe: true,
        can_publish_data: true,
        can_publish_sources: sources.to_vec(),
    }
}

#[async_trait]
impl Harness for Fake {
    fn transport(&self, identity: &str) -> Arc<dyn RoomTransport> {
        let fake = FakeTransport::new("conformance", identity, permission(&[]));
        self.transports
            .lock()
            .unwrap()
            .push((identity.to_string(), fake.clone()));
        Arc::new(fake)
    }

    fn credentials(&self, identity: &str, can_publish: bool) -> (String, String) {
        // What a token grants: publishing every source, or none.
        let grant = Permission {
            can_publish,
            ..permission(&[])
        };
        for (who, fake) in self.transports.lock().unwrap().iter() {
            if who == identity && fake.permission().is_none() {
                fake.set_permission(grant.clone());
            }
        }
        ("ws://fake".into(), "fake-token".into())
    }

    async fn grant(&self, identity: &str, sources: &[TrackSource]) {
        for (who, fake) in self.transports.lock().unwrap().iter() {
            if who == identity {
                fake.set_permission(permission(sources));
            }
        }
    }
}

#[cfg(feature = "livekit-ffi")]
mod livekit_server {
    use livekit_api::access_token::{AccessToken, VideoGrants};
    use livekit_api::services::room::{RoomClient, UpdateParticipantOptions};
    use livekit_protocol as proto;
    use utd_stream::media::livekit_ffi::LiveKitFfiTransport;
    use utd_testkit::LiveKitServer;

    use super::*;

    /// A real livekit-server; `T` makes the transports.
    pub struct Server<T> {
        pub server: LiveKitServer,
        pub make: T,
    }

    pub fn ffi() -> Server<fn() -> Arc<dyn RoomTransport>> {
        Server {
            server: LiveKitServer::start().expect("livekit-server"),
            make: || Arc::new(LiveKitFfiTransport::new()),
        }
    }

    #[async_trait]
    impl<T: Fn() -> Arc<dyn RoomTransport> + Send + Sync> Harness for Server<T> {
        fn transport(&self, _identity: &str) -> Arc<dyn RoomTransport> {
            (self.make)()
        }

        fn credentials(&self, identity: &str, can_publish: bool) -> (String, String) {
            let token = AccessToken::with_api_key(self.server.api_key(), self.server.api_secret())
                .with_identity(identity)
                .with_ttl(Duration::from_secs(600))
                .with_grants(VideoGrants {
                    room_join: true,
                    room: "conformance".into(),
                    can_publish: Some(can_publish),
                    can_subscribe: Some(true),
                    can_publish_data: Some(true),
                    ..Default::default()
                })
                .to_jwt()
                .expect("mint token");
            (self.server.ws_url(), token)
        }

        async fn grant(&self, identity: &str, sources: &[TrackSource]) {
            let to_proto = |s: &TrackSource| match s {
                TrackSource::Camera => proto::TrackSource::Camera,
                TrackSource::Microphone => proto::TrackSource::Microphone,
                _ => proto::TrackSource::Unknown,
            } as i32;
            let permission = proto::ParticipantPermission {
                can_subscribe: true,
                can_publish: !sources.is_empty(),
                can_publish_data: true,
                can_publish_sources: sources.iter().map(to_proto).collect(),
                ..Default::default()
            };
            RoomClient::with_api_key(
                &self.server.http_url(),
                self.server.api_key(),
                self.server.api_secret(),
            )
            .update_participant(
                "conformance",
                identity,
                UpdateParticipantOptions {
                    permission: Some(permission),
                    ..Default::default()
                },
            )
            .await
            .expect("RoomService.UpdateParticipant");
        }
    }
}

/// The phone transport's harness: compiled with `--features livekit` so the
/// contract keeps type-checking against it; running it needs libwebrtc.
#[cfg(feature = "livekit")]
#[allow(dead_code)]
fn phone_transport() -> Arc<dyn RoomTransport> {
    Arc::new(utd_stream::media::livekit::LiveKitTransport::new())
}

async fn wait_for(
    events: &mut broadcast::Receiver<TransportEvent>,
    what: &str,
    mut want: impl FnMut(&TransportEvent) -> bool,
) -> TransportEvent {
    let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(event)) if want(&event) => return event,
            Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
            Ok(Err(e)) => panic!("event stream failed while waiting for {what}: {e}"),
            Err(_) => panic!("no {what} within {EVENT_TIMEOUT:?}"),
        }
    }
}

async fn connect(
    harness: &dyn Harness,
    transport: &Arc<dyn RoomTransport>,
    identity: &str,
    can_publish: bool,
) {
    let (url, token) = harness.credentials(identity, can_publish);
    let joined = transport
        .connect(&url, &token, TransportOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{identity} joins: {e}"));
    assert_eq!(joined.local_identity, identity);
    assert_eq!(joined.permission.can_publish, can_publish);
}

/// Publishing follows only what the server grants, and what it revokes is
/// reported as taken back.
async fn publishing_follows_the_server(harness: &dyn Harness) {
    let transport = harness.transport("listener");
    let mut events = transport.events();
    connect(harness, &transport, "listener", false).await;
    let again = harness.credentials("listener", false);
    let e = transport
        .connect(&again.0, &again.1, TransportOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        e.kind(),
        UTDErrorCode::InvalidState,
        "a second connect: {e}"
    );

    let e = transport
        .publish(TrackSource::Microphone)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), UTDErrorCode::Forbidden, "no grant: {e}");
    let e = transport
        .publish(TrackSource::ScreenShare)
        .await
        .unwrap_err();
    assert_eq!(
        e.kind(),
        UTDErrorCode::InvalidArgument,
        "not a source this SDK publishes: {e}"
    );

    harness.grant("listener", &[TrackSource::Microphone]).await;
    wait_for(
        &mut events,
        "the grant",
        |e| matches!(e, TransportEvent::PermissionChanged(p) if p.can_publish),
    )
    .await;
    assert!(transport
        .permission()
        .is_some_and(|p| p.allows_publishing(TrackSource::Microphone)));
    transport
        .set_microphone(true)
        .await
        .expect("publish after the grant");
    wait_for(&mut events, "our microphone published", |e| {
        matches!(e, TransportEvent::TrackPublished { local: true, track, .. } if track.source == TrackSource::Microphone)
    })
    .await;
    transport
        .publish(TrackSource::Microphone)
        .await
        .expect("publishing twice is a no-op");
    assert_eq!(transport.published_sources(), vec![TrackSource::Microphone]);
    let e = transport.set_camera(true).await.unwrap_err();
    assert_eq!(
        e.kind(),
        UTDErrorCode::Forbidden,
        "the grant names the microphone only: {e}"
    );
    transport.set_microphone(false).await.expect("mute");
    assert_eq!(
        transport.published_sources(),
        vec![TrackSource::Microphone],
        "muted is still published"
    );

    harness.grant("listener", &[]).await;
    wait_for(&mut events, "the track taken back", |e| {
        matches!(e, TransportEvent::LocalTrackUnpublishedByServer { track } if track.source == TrackSource::Microphone)
    })
    .await;
    wait_for(&mut events, "our track unpublished", |e| {
        matches!(e, TransportEvent::TrackUnpublished { local: true, track, .. } if track.source == TrackSource::Microphone)
    })
    .await;
    assert!(transport.published_sources().is_empty());

    harness
        .grant("listener", &[TrackSource::Microphone, TrackSource::Camera])
        .await;
    wait_for(
        &mut events,
        "the second grant",
        |e| matches!(e, TransportEvent::PermissionChanged(p) if p.can_publish),
    )
    .await;
    transport
        .set_camera(true)
        .await
        .expect("camera after the grant");
    transport
        .unpublish(TrackSource::Camera)
        .await
        .expect("unpublish");
    wait_for(&mut events, "our camera unpublished", |e| {
        matches!(e, TransportEvent::TrackUnpublished { local: true, track, .. } if track.source == TrackSource::Camera)
    })
    .await;
    transport
        .unpublish(TrackSource::Camera)
        .await
        .expect("unpublishing twice is a no-op");
    transport.disconnect().await.expect("leave");
}

/// Bad input is refused with typed errors before anything is sent; leaving
/// is reported and makes every room call `invalidState`.
async fn bad_input_and_leaving_are_typed(harness: &dyn Harness) {
    let transport = harness.transport("speaker");
    let mut events = transport.events();
    connect(harness, &transport, "speaker", true).await;

    let too_big = OutgoingData {
        payload: vec![0; MAX_DATA_PAYLOAD_BYTES + 1],
        reliable: true,
        ..Default::default()
    };
    assert_eq!(
        transport.send_data(too_big).await.unwrap_err().kind(),
        UTDErrorCode::InvalidArgument
    );
    let empty_identity = OutgoingData {
        payload: b"x".to_vec(),
        destination_identities: vec![String::new()],
        ..Default::default()
    };
    assert_eq!(
        transport
            .send_data(empty_identity)
            .await
            .unwrap_err()
            .kind(),
        UTDErrorCode::InvalidArgument
    );

    let odd = AudioFrame {
        samples: vec![0; 479],
        sample_rate: 48_000,
        num_channels: 2,
    };
    assert_eq!(
        transport.capture_audio(odd).await.unwrap_err().kind(),
        UTDErrorCode::InvalidArgument
    );
    let ok = AudioFrame {
        samples: vec![0; 480],
        sample_rate: 48_000,
        num_channels: 1,
    };
    transport
        .capture_audio(ok)
        .await
        .expect("a well-formed frame");
    let short_plane = VideoFrame {
        width: 16,
        height: 16,
        format: VideoPixelFormat::Nv12,
        planes: vec![
            VideoPlane {
                data: vec![0; 256],
                stride: 16,
            },
            VideoPlane {
                data: vec![0; 10],
                stride: 16,
            },
        ],
        timestamp_us: 0,
        rotation: VideoRotation::Deg0,
    };
    assert_eq!(
        transport.capture_video(&short_plane).unwrap_err().kind(),
        UTDErrorCode::InvalidArgument
    );

    assert_eq!(
        transport.remote_audio("nobody").await.unwrap_err().kind(),
        UTDErrorCode::NotFound
    );
    assert_eq!(
        transport
            .remote_video("TR_nothing")
            .await
            .unwrap_err()
            .kind(),
        UTDErrorCode::NotFound
    );

    transport.disconnect().await.expect("leave");
    wait_for(&mut events, "our own leave", |e| {
        matches!(
            e,
            TransportEvent::Disconnected {
                reason: DisconnectReason::ClientInitiated
            }
        )
    })
    .await;
    assert!(transport.permission().is_none());
    let e = transport
        .send_data(OutgoingData::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), UTDErrorCode::InvalidState, "{e}");
    transport
        .disconnect()
        .await
        .expect("leaving twice is a no-op");
    connect(harness, &transport, "speaker", true).await;
    transport.disconnect().await.expect("leave again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_publishing_follows_the_server() {
    publishing_follows_the_server(&Fake::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_bad_input_and_leaving_are_typed() {
    bad_input_and_leaving_are_typed(&Fake::new()).await;
}

#[cfg(feature = "livekit-ffi")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn livekit_ffi_publishing_follows_the_server() {
    publishing_follows_the_server(&livekit_server::ffi()).await;
}

#[cfg(feature = "livekit-ffi")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn livekit_ffi_bad_input_and_leaving_are_typed() {
    bad_input_and_leaving_are_typed(&livekit_server::ffi()).await;
}
