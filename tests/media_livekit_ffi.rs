//! The desktop transport (LiveKit's FFI library) against a real
//! livekit-server on loopback: real WebRTC. Every check is on media another
//! participant actually received: a tone by frequency and level, a video
//! pattern by its bars, data by its bytes and recipients.

use std::time::Duration;

use livekit_api::access_token::{AccessToken, VideoGrants};
use livekit_api::services::room::{RoomClient, UpdateParticipantOptions};
use livekit_protocol as proto;
use tokio::sync::broadcast;
use utd_stream::media::frames::{
    AudioFrame, VideoFrame, VideoPixelFormat, VideoPlane, VideoRotation,
};
use utd_stream::media::livekit_ffi::LiveKitFfiTransport;
use utd_stream::media::{
    OutgoingData, RoomTransport, TrackKind, TrackSource, TransportEvent, TransportOptions,
    MAX_DATA_PAYLOAD_BYTES,
};
use utd_stream::UTDErrorCode;
use utd_testkit::signals::{is_tone, pattern_i420, read_tone, shows_pattern, Tone};
use utd_testkit::LiveKitServer;

const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

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

struct Peer {
    transport: LiveKitFfiTransport,
    events: broadcast::Receiver<TransportEvent>,
}

async fn join(server: &LiveKitServer, room: &str, identity: &str, can_publish: bool) -> Peer {
    join_with(
        LiveKitFfiTransport::new(),
        server,
        room,
        identity,
        can_publish,
    )
    .await
}

async fn join_with(
    transport: LiveKitFfiTransport,
    server: &LiveKitServer,
    room: &str,
    identity: &str,
    can_publish: bool,
) -> Peer {
    let events = transport.events();
    transport
        .connect(
            &server.ws_url(),
            &token(server, room, identity, can_publish),
            TransportOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{identity} could not join {room}: {e}"));
    Peer { transport, events }
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

/// Pushes a 440 Hz tone into `transport`'s microphone source until dropped.
fn push_tone(transport: &LiveKitFfiTransport) -> tokio::task::JoinHandle<()> {
    let transport = transport.clone();
    tokio::spawn(async move {
        let mut tone = Tone::new(440.0, 0.5);
        loop {
            let frame = AudioFrame {
                samples: tone.next_frame(),
                sample_rate: 48_000,
                num_channels: 1,
            };
            // The source's small buffer paces this loop at real time.
            if let Err(e) = transport.capture_audio(frame).await {
                panic!("pushing audio failed: {e}");
            }
        }
    })
}

/// Collects `duration` of audio of `identity` as heard by `listener`,
/// after skipping the first `settle` (jitter buffer start-up).
async fn hear(
    listener: &LiveKitFfiTransport,
    identity: &str,
    settle: Duration,
    duration: Duration,
) -> Vec<i16> {
    let mut stream = listener
        .remote_audio(identity)
        .await
        .expect("remote audio stream");
    let mut samples = Vec::new();
    let start = tokio::time::Instant::now();
    let deadline = start + settle + duration + EVENT_TIMEOUT;
    let wanted = (duration.as_millis() as usize) * 48;
    while samples.len() < wanted {
        let frame = tokio::time::timeout_at(deadline, stream.next())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "only {} samples of {identity} within the deadline",
                    samples.len()
                )
            })
            .expect("the audio stream ended");
        assert_eq!(frame.sample_rate, 48_000);
        assert_eq!(frame.num_channels, 1);
        if start.elapsed() >= settle {
            samples.extend_from_slice(&frame.samples);
        }
    }
    samples
}

/// Waits until `identity`'s audio at `listener` is the 440 Hz tone.
async fn hears_tone(listener: &LiveKitFfiTransport, identity: &str) {
    hears_tone_once_present(listener, identity, EVENT_TIMEOUT).await;
}

/// [`hears_tone`], allowing `rejoin` for `identity` to be in the room (after
/// an SFU outage each side reconnects on its own clock, seconds apart on a
/// loaded machine).
async fn hears_tone_once_present(listener: &LiveKitFfiTransport, identity: &str, rejoin: Duration) {
    let deadline = tokio::time::Instant::now() + rejoin;
    // After a reconnect the other side may rejoin a moment later.
    while !listener
        .remote_participants()
        .iter()
        .any(|p| p.identity == identity)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{identity} is not in the room"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    loop {
        let samples = hear(
            listener,
            identity,
            Duration::from_millis(300),
            Duration::from_millis(500),
        )
        .await;
        if is_tone(&samples, 440.0, 0.1) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{identity}'s audio is not the tone: {:?}",
            read_tone(&samples)
        );
    }
}

async fn grant(server: &LiveKitServer, room: &str, identity: &str, sources: &[proto::TrackSource]) {
    let permission = proto::ParticipantPermission {
        can_subscribe: true,
        can_publish: !sources.is_empty(),
        can_publish_data: true,
        can_publish_sources: sources.iter().map(|s| *s as i32).collect(),
        ..Default::default()
    };
    RoomClient::with_api_key(&server.http_url(), server.api_key(), server.api_secret())
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_tone_reaches_another_participant_as_the_same_tone() {
    let server = LiveKitServer::start().expect("livekit-server");
    let speaker = join(&server, "tone", "speaker", true).await;
    let mut listener = join(&server, "tone", "listener", false).await;
    let _pusher = push_tone(&speaker.transport);
    speaker
        .transport
        .set_microphone(true)
        .await
        .expect("microphone on");
    let published = wait_for(&mut listener.events, "the speaker's microphone", |e| {
        matches!(e, TransportEvent::TrackPublished { identity, local: false, track } if identity == "speaker" && track.source == TrackSource::Microphone)
    })
    .await;
    let TransportEvent::TrackPublished { track, .. } = published else {
        unreachable!()
    };
    assert_eq!(track.kind, TrackKind::Audio);
    hears_tone(&listener.transport, "speaker").await;
    let remote = listener.transport.remote_participants();
    let heard = remote
        .iter()
        .find(|p| p.identity == "speaker")
        .expect("speaker listed");
    assert!(
        heard
            .tracks
            .iter()
            .any(|t| t.source == TrackSource::Microphone && t.subscribed),
        "{heard:?}"
    );

    // Muted: the listener sees the track muted and gets silence, not the tone.
    speaker.transport.set_microphone(false).await.expect("mute");
    wait_for(&mut listener.events, "the microphone shown muted", |e| {
        matches!(e, TransportEvent::ParticipantUpdated(p) if p.identity == "speaker"
            && p.tracks.iter().any(|t| t.source == TrackSource::Microphone && t.muted))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let samples = hear(
        &listener.transport,
        "speaker",
        Duration::from_millis(200),
        Duration::from_millis(300),
    )
    .await;
    assert!(
        read_tone(&samples).level < 0.02,
        "muted audio: {:?}",
        read_tone(&samples)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sfu_refuses_a_listener_and_takes_the_track_back_when_the_grant_is_revoked() {
    let server = LiveKitServer::start().expect("livekit-server");
    let mut listener = join(&server, "stage", "listener", false).await;
    let host = join(&server, "stage", "host", true).await;
    let refused = listener
        .transport
        .publish(TrackSource::Microphone)
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), UTDErrorCode::Forbidden, "{refused}");
    // Asked anyway, the SFU itself refuses.
    let started = std::time::Instant::now();
    let refused = listener
        .transport
        .publish_without_permission_check(TrackSource::Microphone)
        .await
        .unwrap_err();
    eprintln!("SFU refusal after {:?}: {refused}", started.elapsed());
    assert_eq!(refused.kind(), UTDErrorCode::Forbidden, "{refused}");
    assert!(listener.transport.published_sources().is_empty());

    grant(
        &server,
        "stage",
        "listener",
        &[proto::TrackSource::Microphone],
    )
    .await;
    wait_for(
        &mut listener.events,
        "the grant",
        |e| matches!(e, TransportEvent::PermissionChanged(p) if p.can_publish),
    )
    .await;
    let _pusher = push_tone(&listener.transport);
    listener
        .transport
        .set_microphone(true)
        .await
        .expect("publish after the grant");
    assert_eq!(
        listener.transport.published_sources(),
        vec![TrackSource::Microphone]
    );
    hears_tone(&host.transport, "listener").await;
    let refused = listener
        .transport
        .publish(TrackSource::Camera)
        .await
        .unwrap_err();
    assert_eq!(
        refused.kind(),
        UTDErrorCode::Forbidden,
        "the grant names the microphone only"
    );

    grant(&server, "stage", "listener", &[]).await;
    wait_for(&mut listener.events, "the server taking the track back", |e| {
        matches!(e, TransportEvent::LocalTrackUnpublishedByServer { track } if track.source == TrackSource::Microphone)
    })
    .await;
    assert!(listener.transport.published_sources().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_reaches_everyone_or_only_its_addressee_with_its_topic() {
    let server = LiveKitServer::start().expect("livekit-server");
    let alice = join(&server, "data", "alice", true).await;
    let mut bob = join(&server, "data", "bob", true).await;
    let mut carol = join(&server, "data", "carol", true).await;
    // Data sent before a receiver's data channel is up is lost (LiveKit): wait
    // until alice sees both.
    let mut alice_events = alice.transport.events();
    for _ in 0..50 {
        if alice.transport.remote_participants().len() == 2 {
            break;
        }
        let _ = tokio::time::timeout(Duration::from_millis(100), alice_events.recv()).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let send = |payload: &[u8], reliable: bool, to: &[&str], topic: Option<&str>| OutgoingData {
        payload: payload.to_vec(),
        reliable,
        destination_identities: to.iter().map(|s| s.to_string()).collect(),
        topic: topic.map(str::to_string),
    };
    alice
        .transport
        .send_data(send(b"to all", true, &[], None))
        .await
        .expect("send to all");
    for peer in [&mut bob, &mut carol] {
        wait_for(&mut peer.events, "the broadcast", |e| {
            matches!(e, TransportEvent::DataReceived { from: Some(f), payload, topic: None } if f == "alice" && payload == b"to all")
        })
        .await;
    }

    alice
        .transport
        .send_data(send(b"for bob", true, &["bob"], Some("dm")))
        .await
        .expect("send to bob");
    wait_for(&mut bob.events, "the direct message", |e| {
        matches!(e, TransportEvent::DataReceived { payload, topic: Some(t), .. } if payload == b"for bob" && t == "dm")
    })
    .await;
    alice
        .transport
        .send_data(send(b"marker", true, &["carol"], None))
        .await
        .expect("marker");
    let mut carol_saw = Vec::new();
    wait_for(&mut carol.events, "the marker", |e| {
        if let TransportEvent::DataReceived { payload, .. } = e {
            carol_saw.push(payload.clone());
            payload == b"marker"
        } else {
            false
        }
    })
    .await;
    assert_eq!(
        carol_saw,
        vec![b"marker".to_vec()],
        "carol got nothing addressed to bob"
    );

    // Lossy: best effort, but on loopback it arrives.
    let mut got_lossy = false;
    for _ in 0..5 {
        alice
            .transport
            .send_data(send(b"lossy", false, &["bob"], None))
            .await
            .expect("lossy send");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        while let Ok(Ok(e)) = tokio::time::timeout_at(deadline, bob.events.recv()).await {
            if matches!(&e, TransportEvent::DataReceived { payload, .. } if payload == b"lossy") {
                got_lossy = true;
                break;
            }
        }
        if got_lossy {
            break;
        }
    }
    assert!(got_lossy, "a lossy message reached bob");

    let biggest = vec![7u8; MAX_DATA_PAYLOAD_BYTES];
    alice
        .transport
        .send_data(send(&biggest, true, &["bob"], None))
        .await
        .expect("at the limit");
    wait_for(&mut bob.events, "the largest message", |e| {
        matches!(e, TransportEvent::DataReceived { payload, .. } if payload.len() == MAX_DATA_PAYLOAD_BYTES)
    })
    .await;
    let too_big = alice
        .transport
        .send_data(send(
            &vec![7u8; MAX_DATA_PAYLOAD_BYTES + 1],
            true,
            &[],
            None,
        ))
        .await
        .unwrap_err();
    assert_eq!(too_big.kind(), UTDErrorCode::InvalidArgument, "{too_big}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_camera_frames_arrive_at_the_pushed_size_showing_the_pattern() {
    let server = LiveKitServer::start().expect("livekit-server");
    let (width, height) = (320, 240);
    let host = join_with(
        LiveKitFfiTransport::with_camera_size(width, height),
        &server,
        "show",
        "host",
        true,
    )
    .await;
    let mut viewer = join(&server, "show", "viewer", false).await;
    let [y, u, v] = pattern_i420(width, height);
    let frame = VideoFrame {
        width,
        height,
        format: VideoPixelFormat::I420,
        planes: vec![
            VideoPlane {
                data: y,
                stride: width,
            },
            VideoPlane {
                data: u,
                stride: width / 2,
            },
            VideoPlane {
                data: v,
                stride: width / 2,
            },
        ],
        timestamp_us: 0,
        rotation: VideoRotation::Deg0,
    };
    let camera = host.transport.clone();
    let pusher = tokio::spawn(async move {
        let mut frame = frame;
        let mut ticks = tokio::time::interval(Duration::from_millis(33));
        loop {
            ticks.tick().await;
            frame.timestamp_us += 33_000;
            camera.capture_video(&frame).expect("push a frame");
        }
    });
    host.transport.set_camera(true).await.expect("camera on");
    let published = wait_for(&mut viewer.events, "the camera track", |e| {
        matches!(e, TransportEvent::TrackPublished { local: false, track, .. } if track.source == TrackSource::Camera)
    })
    .await;
    let TransportEvent::TrackPublished { track, .. } = published else {
        unreachable!()
    };
    assert_eq!(track.kind, TrackKind::Video);
    let sid = track.sid;
    let mut stream = None;
    for _ in 0..100 {
        match viewer.transport.remote_video(&sid).await {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) if e.kind() == UTDErrorCode::InvalidState => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("remote video: {e}"),
        }
    }
    let stream = stream.expect("the camera track was subscribed");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut last = None;
    loop {
        let frame = tokio::time::timeout_at(deadline, stream.next())
            .await
            .unwrap_or_else(|_| panic!("no full-size pattern frame; last: {last:?}"))
            .expect("stream open");
        assert_eq!(frame.format, VideoPixelFormat::I420);
        assert_eq!(frame.planes.len(), 3);
        let full = frame.width == width && frame.height == height;
        if full
            && shows_pattern(
                &frame.planes[0].data,
                frame.planes[0].stride as usize,
                width,
                height,
                24,
            )
        {
            break;
        }
        last = Some((frame.width, frame.height));
    }
    pusher.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_sfu_is_reported_within_seconds_and_its_return_ends_in_a_clear_state() {
    let mut server = LiveKitServer::start().expect("livekit-server");
    let speaker = join(&server, "outage", "speaker", true).await;
    let mut listener = join(&server, "outage", "listener", false).await;
    let _pusher = push_tone(&speaker.transport);
    speaker
        .transport
        .set_microphone(true)
        .await
        .expect("microphone on");
    hears_tone(&listener.transport, "speaker").await;

    server.kill();
    let started = tokio::time::Instant::now();
    let dropped = wait_for(&mut listener.events, "reconnecting or disconnected", |e| {
        matches!(
            e,
            TransportEvent::Reconnecting | TransportEvent::Disconnected { .. }
        )
    })
    .await;
    eprintln!("SFU killed: {dropped:?} after {:?}", started.elapsed());
    // Nothing hangs while the SFU is away: a send answers within its deadline.
    let send = tokio::time::timeout(
        Duration::from_secs(15),
        speaker.transport.send_data(OutgoingData {
            payload: b"anyone?".to_vec(),
            reliable: true,
            ..Default::default()
        }),
    )
    .await;
    assert!(send.is_ok(), "send_data hung while the SFU was down");

    server
        .restart()
        .expect("livekit-server restarts on the same port");
    let outcome = if matches!(dropped, TransportEvent::Disconnected { .. }) {
        dropped
    } else {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            match tokio::time::timeout_at(deadline, listener.events.recv()).await {
                Ok(Ok(e @ (TransportEvent::Reconnected | TransportEvent::Disconnected { .. }))) => {
                    break e
                }
                Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
                Ok(Err(e)) => panic!("event stream failed: {e}"),
                Err(_) => {
                    panic!("neither reconnected nor disconnected within 60 s of the SFU's return")
                }
            }
        }
    };
    eprintln!("SFU back: {outcome:?} after {:?}", started.elapsed());
    match outcome {
        // Resumed: the media flows again.
        TransportEvent::Reconnected => {
            hears_tone_once_present(&listener.transport, "speaker", Duration::from_secs(60)).await
        }
        TransportEvent::Disconnected { .. } => {
            // A clear terminal state: the transport is free to join again.
            assert!(
                listener.transport.permission().is_none(),
                "disconnected means not connected"
            );
            listener = join_with(listener.transport, &server, "outage", "listener", false).await;
            assert!(listener.transport.permission().is_some());
        }
        other => unreachable!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_pushed_at_another_rate_and_channel_count_keeps_its_pitch() {
    let server = LiveKitServer::start().expect("livekit-server");
    let speaker = join(&server, "resample", "speaker", true).await;
    let listener = join(&server, "resample", "listener", false).await;
    // 10 ms of a 440 Hz tone at 16 kHz, stereo (both channels alike).
    let pusher = {
        let transport = speaker.transport.clone();
        tokio::spawn(async move {
            let mut n: u64 = 0;
            loop {
                let mut samples = Vec::with_capacity(320);
                for _ in 0..160 {
                    let t = n as f64 / 16_000.0;
                    n += 1;
                    let v = ((2.0 * std::f64::consts::PI * 440.0 * t).sin()
                        * 0.5
                        * f64::from(i16::MAX)) as i16;
                    samples.extend([v, v]);
                }
                let frame = AudioFrame {
                    samples,
                    sample_rate: 16_000,
                    num_channels: 2,
                };
                transport
                    .capture_audio(frame)
                    .await
                    .expect("a 16 kHz stereo frame");
            }
        })
    };
    let odd = AudioFrame {
        samples: vec![0; 200],
        sample_rate: 16_000,
        num_channels: 2,
    };
    let e = speaker.transport.capture_audio(odd).await.unwrap_err();
    assert_eq!(e.kind(), UTDErrorCode::InvalidArgument, "not 10 ms: {e}");
    speaker
        .transport
        .set_microphone(true)
        .await
        .expect("microphone on");
    hears_tone(&listener.transport, "speaker").await;
    pusher.abort();
}
