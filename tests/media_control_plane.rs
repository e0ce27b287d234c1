//! The control-plane media transport against a real livekit-server on
//! loopback: real joins, real permission pushes after
//! RoomService.UpdateParticipant, real AddTrack accept/refuse, real room caps.
//!
//! livekit-server removes a participant without WebRTC 60 s after it joins,
//! so every scenario here finishes well within that.

use std::time::{Duration, Instant};

use livekit_api::access_token::{AccessToken, VideoGrants};
use livekit_api::services::room::{CreateRoomOptions, RoomClient, UpdateParticipantOptions};
use livekit_protocol as proto;
use tokio::sync::broadcast;
use utd_stream::media::control_plane::ControlPlaneTransport;
use utd_stream::media::{
    DisconnectReason, JoinedRoom, RoomTransport, TrackSource, TransportEvent, TransportOptions,
};
use utd_stream::UTDErrorCode;
use utd_testkit::LiveKitServer;

/// Generous for a loaded 2-core machine; real pushes arrive in milliseconds.
const EVENT_TIMEOUT: Duration = Duration::from_secs(5);

fn token(server: &LiveKitServer, room: &str, identity: &str, can_publish: bool) -> String {
    AccessToken::with_api_key(server.api_key(), server.api_secret())
        .with_identity(identity)
        .with_name(&format!("{identity} name"))
        .with_ttl(Duration::from_secs(600))
        .with_grants(VideoGrants {
            room_join: true,
            room: room.to_string(),
            can_publish: Some(can_publish),
            can_subscribe: Some(true),
            can_publish_data: Some(true),
            ..Default::default()
        })
        .to_jwt()
        .expect("mint token")
}

struct Joined {
    transport: ControlPlaneTransport,
    room: JoinedRoom,
    events: broadcast::Receiver<TransportEvent>,
}

async fn join(server: &LiveKitServer, room: &str, identity: &str, can_publish: bool) -> Joined {
    let transport = ControlPlaneTransport::new();
    let events = transport.events();
    let room = transport
        .connect(
            &server.ws_url(),
            &token(server, room, identity, can_publish),
            TransportOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{identity} could not join {room}: {e}"));
    Joined {
        transport,
        room,
        events,
    }
}

fn room_service(server: &LiveKitServer) -> RoomClient {
    RoomClient::with_api_key(&server.http_url(), server.api_key(), server.api_secret())
}

/// RoomService.UpdateParticipant with the FULL permission, as the engine
/// sends it (it replaces every flag).
async fn set_publish(
    service: &RoomClient,
    room: &str,
    identity: &str,
    sources: &[proto::TrackSource],
) {
    let permission = proto::ParticipantPermission {
        can_subscribe: true,
        can_publish: !sources.is_empty(),
        can_publish_data: true,
        can_publish_sources: sources.iter().map(|s| *s as i32).collect(),
        ..Default::default()
    };
    service
        .update_participant(
            room,
            identity,
            UpdateParticipantOptions {
                permission: Some(permission),
                ..Default::default()
            },
        )
        .await
        .expect("RoomService.UpdateParticipant");
}

/// The first event matching `want`, skipping others; panics after the timeout.
async fn wait_for(
    events: &mut broadcast::Receiver<TransportEvent>,
    what: &str,
    mut want: impl FnMut(&TransportEvent) -> bool,
) -> TransportEvent {
    let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(event)) if want(&event) => return event,
            Ok(Ok(_)) => continue,
            Ok(Err(e)) => panic!("event stream failed while waiting for {what}: {e}"),
            Err(_) => panic!("no {what} within {EVENT_TIMEOUT:?}"),
        }
    }
}

/// Every event up to and including the first matching `want`.
async fn collect_until(
    events: &mut broadcast::Receiver<TransportEvent>,
    what: &str,
    want: impl Fn(&TransportEvent) -> bool,
) -> Vec<TransportEvent> {
    let mut seen = Vec::new();
    wait_for(events, what, |e| {
        seen.push(e.clone());
        want(e)
    })
    .await;
    seen
}

/// Everything that arrives within `window`.
async fn drain(
    events: &mut broadcast::Receiver<TransportEvent>,
    window: Duration,
) -> Vec<TransportEvent> {
    let deadline = tokio::time::Instant::now() + window;
    let mut seen = Vec::new();
    while let Ok(Ok(event)) = tokio::time::timeout_at(deadline, events.recv()).await {
        seen.push(event);
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_follows_the_permission_the_server_pushes() {
    let server = LiveKitServer::start().expect("livekit-server");
    let service = room_service(&server);
    let room = "audio-room";
    let mut host = join(&server, room, "host", true).await;
    let mut listener = join(&server, room, "listener", false).await;
    assert_eq!(listener.room.room_name, room);
    assert_eq!(listener.room.local_identity, "listener");
    assert!(!listener.room.permission.can_publish);
    assert!(listener.room.permission.can_subscribe);
    assert!(
        listener
            .room
            .remote_participants
            .iter()
            .any(|p| p.identity == "host"),
        "the listener's join lists the host: {:?}",
        listener.room.remote_participants
    );
    wait_for(&mut host.events, "the listener joining", |e| {
        matches!(e, TransportEvent::ParticipantJoined(p) if p.identity == "listener" && p.name == "listener name")
    })
    .await;

    // (a) A listener's publish is refused: by the SDK's own check ...
    let refused = listener
        .transport
        .publish(TrackSource::Microphone)
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), UTDErrorCode::Forbidden, "{refused}");
    // ... and by the SFU itself when asked anyway (RequestResponse NOT_ALLOWED).
    let refused = listener
        .transport
        .publish_without_local_check(TrackSource::Microphone)
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), UTDErrorCode::Forbidden, "{refused}");
    assert!(refused.message().contains("NOT_ALLOWED"), "{refused}");
    assert!(listener.transport.published_sources().is_empty());

    // (b) The server grants the microphone: the push arrives, publish is accepted.
    let granted_at = Instant::now();
    set_publish(
        &service,
        room,
        "listener",
        &[proto::TrackSource::Microphone],
    )
    .await;
    let event = wait_for(
        &mut listener.events,
        "PermissionChanged(can_publish)",
        |e| matches!(e, TransportEvent::PermissionChanged(p) if p.can_publish),
    )
    .await;
    let TransportEvent::PermissionChanged(permission) = event else {
        unreachable!()
    };
    assert_eq!(
        permission.can_publish_sources,
        vec![TrackSource::Microphone]
    );
    assert!(granted_at.elapsed() < EVENT_TIMEOUT);
    assert_eq!(listener.transport.permission(), Some(permission));
    // Other participants see the listener's new permission too.
    wait_for(&mut host.events, "the listener's update", |e| {
        matches!(e, TransportEvent::ParticipantUpdated(p) if p.identity == "listener" && p.can_publish)
    })
    .await;

    listener
        .transport
        .publish(TrackSource::Microphone)
        .await
        .expect("publishing the granted microphone");
    wait_for(&mut listener.events, "the local TrackPublished", |e| {
        matches!(e, TransportEvent::TrackPublished { local: true, identity, track }
            if identity == "listener" && track.source == TrackSource::Microphone && track.sid.starts_with("TR_"))
    })
    .await;
    assert_eq!(
        listener.transport.published_sources(),
        vec![TrackSource::Microphone]
    );
    // Publishing the same source again is a no-op, not a second track.
    listener
        .transport
        .publish(TrackSource::Microphone)
        .await
        .expect("idempotent");

    // The camera is still not an allowed source: refused locally and by the SFU.
    let camera = listener
        .transport
        .publish(TrackSource::Camera)
        .await
        .unwrap_err();
    assert_eq!(camera.kind(), UTDErrorCode::Forbidden);
    assert!(
        camera.message().contains("allowed sources: microphone"),
        "{camera}"
    );
    let camera = listener
        .transport
        .publish_without_local_check(TrackSource::Camera)
        .await
        .unwrap_err();
    assert_eq!(camera.kind(), UTDErrorCode::Forbidden, "{camera}");

    // Without RTP the SFU keeps the accepted track pending: the server lists
    // no live track, so other participants cannot see one (documented limit).
    let listed = service
        .list_participants(room)
        .await
        .expect("RoomService.ListParticipants");
    let listener_info = listed
        .iter()
        .find(|p| p.identity == "listener")
        .expect("listener listed");
    assert!(listener_info.tracks.is_empty());

    // (c) Revoking publish: PermissionChanged(false), and the track goes away.
    set_publish(&service, room, "listener", &[]).await;
    wait_for(
        &mut listener.events,
        "PermissionChanged(!can_publish)",
        |e| matches!(e, TransportEvent::PermissionChanged(p) if !p.can_publish),
    )
    .await;
    wait_for(&mut listener.events, "LocalTrackUnpublishedByServer", |e| {
        matches!(e, TransportEvent::LocalTrackUnpublishedByServer { track } if track.source == TrackSource::Microphone)
    })
    .await;
    wait_for(&mut listener.events, "the local TrackUnpublished", |e| {
        matches!(e, TransportEvent::TrackUnpublished { local: true, track, .. } if track.source == TrackSource::Microphone)
    })
    .await;
    assert!(listener.transport.published_sources().is_empty());
    let again = listener.transport.set_microphone(true).await.unwrap_err();
    assert_eq!(again.kind(), UTDErrorCode::Forbidden);

    listener.transport.disconnect().await.expect("disconnect");
    wait_for(
        &mut host.events,
        "the listener leaving",
        |e| matches!(e, TransportEvent::ParticipantLeft { identity } if identity == "listener"),
    )
    .await;
    host.transport.disconnect().await.expect("disconnect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_call_room_refuses_a_third_participant() {
    let server = LiveKitServer::start().expect("livekit-server");
    room_service(&server)
        .create_room(
            "call",
            CreateRoomOptions {
                max_participants: 2,
                ..Default::default()
            },
        )
        .await
        .expect("RoomService.CreateRoom");
    let caller = join(&server, "call", "caller", true).await;
    let callee = join(&server, "call", "callee", true).await;

    let intruder = ControlPlaneTransport::new();
    let refused = intruder
        .connect(
            &server.ws_url(),
            &token(&server, "call", "intruder", true),
            TransportOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), UTDErrorCode::Conflict, "{refused}");
    assert!(refused.message().contains("max_participants"), "{refused}");
    assert!(intruder.permission().is_none());

    // The cap, not a broken server, refused it: with a seat free the same
    // participant gets in.
    callee.transport.disconnect().await.expect("disconnect");
    let mut waited = 0;
    let joined = loop {
        match intruder
            .connect(
                &server.ws_url(),
                &token(&server, "call", "intruder", true),
                TransportOptions::default(),
            )
            .await
        {
            Ok(room) => break room,
            // The server frees the slot asynchronously after the leave.
            Err(e) if e.kind() == UTDErrorCode::Conflict && waited < 20 => {
                waited += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("joining the freed call room failed: {e}"),
        }
    };
    assert_eq!(joined.remote_participants.len(), 1);
    intruder.disconnect().await.expect("disconnect");
    caller.transport.disconnect().await.expect("disconnect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_messages_are_unsupported_and_say_why() {
    let server = LiveKitServer::start().expect("livekit-server");
    let peer = join(&server, "data-room", "peer", true).await;
    let error = peer
        .transport
        .send_data(b"hello".to_vec(), true, vec![])
        .await
        .unwrap_err();
    assert_eq!(error.kind(), UTDErrorCode::Unsupported);
    assert!(
        error.message().contains("control-plane transport"),
        "{error}"
    );
    assert!(error.message().contains("data channel"), "{error}");
    peer.transport.disconnect().await.expect("disconnect");

    // A disconnected transport refuses operations with a typed error.
    let error = peer
        .transport
        .publish(TrackSource::Microphone)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), UTDErrorCode::InvalidState);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participants_of_two_rooms_never_see_each_other() {
    let server = LiveKitServer::start().expect("livekit-server");
    let service = room_service(&server);
    let mut a1 = join(&server, "room-a", "alice", true).await;
    let mut b1 = join(&server, "room-b", "bob", true).await;
    assert!(b1.room.remote_participants.is_empty());

    let a2 = join(&server, "room-a", "amy", false).await;
    let b2 = join(&server, "room-b", "ben", false).await;
    set_publish(&service, "room-a", "amy", &[proto::TrackSource::Microphone]).await;
    // Each room's first participant sees its own room's join, update and
    // leave, and nothing else.
    // livekit-server batches updates about non-publishers (every 3 s), so
    // amy's join and new permission may arrive as one update.
    let mut seen_a = collect_until(&mut a1.events, "amy's new permission", |e| {
        matches!(e, TransportEvent::ParticipantJoined(p) | TransportEvent::ParticipantUpdated(p)
            if p.identity == "amy" && p.can_publish)
    })
    .await;
    let mut seen_b = collect_until(
        &mut b1.events,
        "ben joining",
        |e| matches!(e, TransportEvent::ParticipantJoined(p) if p.identity == "ben"),
    )
    .await;
    a2.transport.disconnect().await.expect("disconnect");
    b2.transport.disconnect().await.expect("disconnect");
    seen_a.extend(
        collect_until(
            &mut a1.events,
            "amy leaving",
            |e| matches!(e, TransportEvent::ParticipantLeft { identity } if identity == "amy"),
        )
        .await,
    );
    seen_b.extend(
        collect_until(
            &mut b1.events,
            "ben leaving",
            |e| matches!(e, TransportEvent::ParticipantLeft { identity } if identity == "ben"),
        )
        .await,
    );
    // Anything else still in flight would show up now.
    seen_a.extend(drain(&mut a1.events, Duration::from_millis(500)).await);
    seen_b.extend(drain(&mut b1.events, Duration::from_millis(500)).await);
    let mentions = |events: &[TransportEvent]| -> Vec<String> {
        events
            .iter()
            .filter_map(|e| match e {
                TransportEvent::ParticipantJoined(p) | TransportEvent::ParticipantUpdated(p) => {
                    Some(p.identity.clone())
                }
                TransportEvent::ParticipantLeft { identity }
                | TransportEvent::TrackPublished { identity, .. }
                | TransportEvent::TrackUnpublished { identity, .. } => Some(identity.clone()),
                TransportEvent::ActiveSpeakersChanged { identities } => identities.first().cloned(),
                _ => None,
            })
            .collect()
    };
    let in_a = mentions(&seen_a);
    let in_b = mentions(&seen_b);
    assert!(in_a.iter().all(|i| i == "amy"), "room-a saw {seen_a:?}");
    assert!(in_b.iter().all(|i| i == "ben"), "room-b saw {seen_b:?}");
    assert!(seen_a
        .iter()
        .any(|e| matches!(e, TransportEvent::ParticipantJoined(p) if p.identity == "amy")));
    assert!(!seen_b
        .iter()
        .any(|e| matches!(e, TransportEvent::PermissionChanged(_))));
    assert!(a1.transport.remote_participants().is_empty());

    a1.transport.disconnect().await.expect("disconnect");
    wait_for(&mut a1.events, "Disconnected", |e| {
        matches!(
            e,
            TransportEvent::Disconnected {
                reason: DisconnectReason::ClientInitiated
            }
        )
    })
    .await;
    b1.transport.disconnect().await.expect("disconnect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_or_unreachable_server_is_a_typed_error() {
    let server = LiveKitServer::start().expect("livekit-server");
    let transport = ControlPlaneTransport::new();
    let forged = AccessToken::with_api_key(server.api_key(), "not-the-secret")
        .with_identity("mallory")
        .with_grants(VideoGrants {
            room_join: true,
            room: "r".into(),
            ..Default::default()
        })
        .to_jwt()
        .expect("mint");
    let error = transport
        .connect(&server.ws_url(), &forged, TransportOptions::default())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), UTDErrorCode::Unauthenticated, "{error}");

    let port = server.http_url().rsplit(':').next().map(str::to_string);
    drop(server);
    let error = transport
        .connect(
            &format!("ws://127.0.0.1:{}", port.unwrap_or_default()),
            "x.y.z",
            TransportOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(error.is_network(), "{error:?}");
}

/// livekit-server drops a participant without WebRTC after 60 s; the
/// transport must say so, not fail silently. Takes about 65 s (it waits out
/// livekit-server's JOIN_TIMEOUT); it runs alongside the other tests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_past_the_join_timeout_ends_with_a_typed_error() {
    let server = LiveKitServer::start().expect("livekit-server");
    let mut peer = join(&server, "long-room", "patient", true).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(80);
    let reason = loop {
        match tokio::time::timeout_at(deadline, peer.events.recv()).await {
            Ok(Ok(TransportEvent::Disconnected { reason })) => break reason,
            Ok(Ok(_)) => continue,
            other => panic!("no Disconnected before the deadline: {other:?}"),
        }
    };
    assert_eq!(reason, DisconnectReason::JoinFailure);
    let error = peer
        .transport
        .publish(TrackSource::Microphone)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), UTDErrorCode::Unsupported);
    assert!(error.message().contains("JOIN_TIMEOUT"), "{error}");
}
