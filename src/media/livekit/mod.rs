//! The production transport: media over the official `livekit` crate (WebRTC).
//!
//! `Room::connect` with adaptive stream, dynacast and auto-subscribe taken
//! from [`TransportOptions`] (all on by default); the microphone through the
//! crate's `PlatformAudio` (the platform audio device module, with its echo
//! cancellation); the camera through a [`CameraFrameSink`] the platform camera
//! pushes I420, NV12 or RGBA frames into; data through `publish_data`
//! (reliable or lossy, optionally to chosen identities).
//!
//! Before publishing it checks the permission the server granted; when the
//! server revokes publish for a source it unpublishes its own tracks of that
//! source and reports [`TransportEvent::LocalTrackUnpublishedByServer`].
//!
//! This module is only type-checked and linted on CI machines
//! (`DOCS_RS=1 cargo clippy --features livekit`): the crate's build downloads
//! a prebuilt libwebrtc, which those machines cannot reach, so it is never
//! linked or run there. The runtime tests use the FFI transport
//! (`media::livekit_ffi`): the same LiveKit SDK and libwebrtc, driven through
//! LiveKit's C ABI, with the same event and permission semantics.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use async_trait::async_trait;
use futures_util::StreamExt;
use livekit::options::TrackPublishOptions;
use livekit::prelude::RemoteTrack;
use livekit::prelude::{
    DataPacket, LocalAudioTrack, LocalTrack, LocalVideoTrack, Participant, PlatformAudio, Room,
    RoomError, RoomEvent, RoomOptions, TrackSid,
};
use livekit::webrtc::audio_stream::native::NativeAudioStream;
use livekit::webrtc::prelude::VideoBuffer;
use livekit::webrtc::video_frame::VideoRotation;
use livekit::webrtc::video_source::RtcVideoSource;
use livekit::webrtc::video_stream::native::NativeVideoStream;
use tokio::sync::{broadcast, mpsc};

use crate::error::{UTDErrorCode, UTDStreamError};
use crate::media::frames::{
    AudioFrame, FrameSlot, VideoFrame, VideoPixelFormat, VideoPlane, VideoRotation as FrameRotation,
};
use crate::media::{
    check_data, not_connected, publish_forbidden, unpublishable, JoinedRoom, OutgoingData,
    ParticipantInfo, Permission, RemoteAudioStream, RemoteVideoStream, RoomTransport, TrackInfo,
    TrackSource, TransportEvent, TransportOptions, TransportResult, EVENT_CHANNEL_CAPACITY,
};

/// Decoded remote audio frames (10 ms each) kept for a slow consumer.
const REMOTE_AUDIO_QUEUE_FRAMES: usize = 50;

/// Stops a frame-forwarding task when its stream is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn not_found(message: &str) -> UTDStreamError {
    UTDStreamError::new(UTDErrorCode::NotFound, message.to_string())
}

/// The subscribed track of the first remote publication matching both filters.
fn remote_track(
    session: &Session,
    participant: impl Fn(&livekit::prelude::RemoteParticipant) -> bool,
    publication: impl Fn(&livekit::prelude::RemoteTrackPublication) -> bool,
) -> Option<RemoteTrack> {
    session
        .room
        .remote_participants()
        .values()
        .filter(|p| participant(p))
        .flat_map(|p| p.track_publications().into_values())
        .filter(|p| publication(p))
        .find_map(|p| p.track())
}

mod camera;
mod events;

pub use camera::CameraFrameSink;
use events::{map_event, permission_of, remote_info, source_from_lk, source_to_lk};

/// The camera resolution announced to WebRTC unless changed.
const DEFAULT_CAMERA_SIZE: (u32, u32) = (1280, 720);

/// The production LiveKit transport.
#[derive(Clone)]
pub struct LiveKitTransport {
    shared: Arc<Shared>,
}

struct Shared {
    events: broadcast::Sender<TransportEvent>,
    current: Mutex<Option<Arc<Session>>>,
    lifecycle: tokio::sync::Mutex<()>,
    camera_size: (u32, u32),
    camera: OnceLock<CameraFrameSink>,
}

struct Session {
    room: Room,
    /// Held while the microphone is published: dropping the last
    /// `PlatformAudio` releases the microphone.
    audio: Mutex<Option<PlatformAudio>>,
    /// Track sids we are unpublishing ourselves; any other local unpublish
    /// was the server's doing.
    unpublishing: Mutex<HashSet<TrackSid>>,
    publish_lock: tokio::sync::Mutex<()>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn room_error(what: &str, error: RoomError) -> UTDStreamError {
    match error {
        RoomError::Request {
            reason: livekit_protocol::request_response::Reason::NotAllowed,
            message,
        } => UTDStreamError::new(
            UTDErrorCode::Forbidden,
            format!("{what}: not allowed: {message}"),
        ),
        RoomError::AlreadyClosed => {
            UTDStreamError::invalid_state(format!("{what}: the room is closed"))
        }
        RoomError::Engine(e) => UTDStreamError::network(format!("{what}: {e}")),
        other => UTDStreamError::internal(format!("{what}: {other}")),
    }
}

impl std::fmt::Debug for LiveKitTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveKitTransport")
            .field("connected", &self.session().is_some())
            .finish()
    }
}

impl Default for LiveKitTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl LiveKitTransport {
    /// A transport that is not connected yet, with a 1280x720 camera.
    pub fn new() -> Self {
        Self::with_camera_size(DEFAULT_CAMERA_SIZE.0, DEFAULT_CAMERA_SIZE.1)
    }

    /// A transport whose camera announces `width` x `height` to WebRTC.
    pub fn with_camera_size(width: u32, height: u32) -> Self {
        let (events, _) = broadcast::channel(EVENT_CHANNEL_CAPACITY);
        Self {
            shared: Arc::new(Shared {
                events,
                current: Mutex::new(None),
                lifecycle: tokio::sync::Mutex::new(()),
                camera_size: (width, height),
                camera: OnceLock::new(),
            }),
        }
    }

    /// Where platform code pushes camera frames. Created on first use (it
    /// starts the WebRTC runtime); frames reach the room while the camera is
    /// published.
    pub fn camera_sink(&self) -> CameraFrameSink {
        let (width, height) = self.shared.camera_size;
        self.shared
            .camera
            .get_or_init(|| CameraFrameSink::new(width, height))
            .clone()
    }

    fn session(&self) -> Option<Arc<Session>> {
        lock(&self.shared.current).clone()
    }

    fn require(&self, what: &str) -> TransportResult<Arc<Session>> {
        self.session().ok_or_else(|| not_connected(what))
    }

    fn local_publication(
        session: &Session,
        source: TrackSource,
    ) -> Option<livekit::prelude::LocalTrackPublication> {
        session
            .room
            .local_participant()
            .track_publications()
            .into_values()
            .find(|p| source_from_lk(p.source()) == source)
    }

    async fn set_source(&self, source: TrackSource, enabled: bool) -> TransportResult<()> {
        let session = self.require(if enabled {
            "enable a source"
        } else {
            "disable a source"
        })?;
        match Self::local_publication(&session, source) {
            Some(publication) if enabled => publication.unmute(),
            Some(publication) => publication.mute(),
            None if enabled => self.publish(source).await?,
            None => {}
        }
        Ok(())
    }
}

/// Unpublishes our tracks whose source the new permission no longer allows.
async fn drop_revoked_tracks(session: &Session, permission: &Permission) {
    let local = session.room.local_participant();
    for publication in local.track_publications().into_values() {
        let source = source_from_lk(publication.source());
        if permission.allows_publishing(source) {
            continue;
        }
        // The server removes them too; whoever is first wins and the other
        // side's "not found" is expected.
        if let Err(e) = local.unpublish_track(&publication.sid()).await {
            tracing::debug!("unpublishing the revoked {source} track: {e}");
        }
        if source == TrackSource::Microphone {
            lock(&session.audio).take();
        }
    }
}

async fn forward_events(
    session: Arc<Session>,
    mut room_events: mpsc::UnboundedReceiver<RoomEvent>,
    events: broadcast::Sender<TransportEvent>,
) {
    while let Some(event) = room_events.recv().await {
        if let RoomEvent::LocalTrackUnpublished {
            publication,
            participant,
        } = &event
        {
            let track = TrackInfo {
                muted: publication.is_muted(),
                ..TrackInfo::local(
                    publication.sid().to_string(),
                    source_from_lk(publication.source()),
                )
            };
            if !lock(&session.unpublishing).remove(&publication.sid()) {
                let _ = events.send(TransportEvent::LocalTrackUnpublishedByServer {
                    track: track.clone(),
                });
            }
            let _ = events.send(TransportEvent::TrackUnpublished {
                identity: participant.identity().to_string(),
                local: true,
                track,
            });
            continue;
        }
        for mapped in map_event(&event) {
            let _ = events.send(mapped);
        }
        match &event {
            RoomEvent::ParticipantPermissionChanged {
                participant: participant @ Participant::Local(_),
                ..
            } => drop_revoked_tracks(&session, &permission_of(participant)).await,
            RoomEvent::Disconnected { .. } => return,
            _ => {}
        }
    }
}

#[async_trait]
impl RoomTransport for LiveKitTransport {
    async fn connect(
        &self,
        url: &str,
        token: &str,
        options: TransportOptions,
    ) -> TransportResult<JoinedRoom> {
        let _serial = self.shared.lifecycle.lock().await;
        if self.session().is_some() {
            return Err(UTDStreamError::invalid_state(
                "already connected to a room: disconnect first",
            ));
        }
        let mut room_options = RoomOptions::default();
        room_options.adaptive_stream = options.adaptive_stream;
        room_options.dynacast = options.dynacast;
        room_options.auto_subscribe = options.auto_subscribe;
        let (room, room_events) = Room::connect(url, token, room_options)
            .await
            .map_err(|e| room_error("could not join the room", e))?;
        let local = room.local_participant();
        let joined = JoinedRoom {
            room_name: room.name(),
            local_identity: local.identity().to_string(),
            local_sid: local.sid().to_string(),
            permission: permission_of(&Participant::Local(local)),
            remote_participants: room
                .remote_participants()
                .values()
                .map(remote_info)
                .collect(),
        };
        let session = Arc::new(Session {
            room,
            audio: Mutex::new(None),
            unpublishing: Mutex::new(HashSet::new()),
            publish_lock: tokio::sync::Mutex::new(()),
        });
        *lock(&self.shared.current) = Some(session.clone());
        tokio::spawn(forward_events(
            session,
            room_events,
            self.shared.events.clone(),
        ));
        Ok(joined)
    }

    async fn publish(&self, source: TrackSource) -> TransportResult<()> {
        if !source.is_publishable() {
            return Err(unpublishable(source));
        }
        let session = self.require("publish")?;
        let _serial = session.publish_lock.lock().await;
        if Self::local_publication(&session, source).is_some() {
            return Ok(());
        }
        let local = session.room.local_participant();
        let permission = permission_of(&Participant::Local(local.clone()));
        if !permission.allows_publishing(source) {
            return Err(publish_forbidden(source, &permission));
        }
        let track = match source {
            TrackSource::Microphone => {
                let audio = PlatformAudio::new().map_err(|e| {
                    UTDStreamError::internal(format!("the microphone is not available: {e}"))
                })?;
                let track = LocalAudioTrack::create_audio_track("microphone", audio.rtc_source());
                *lock(&session.audio) = Some(audio);
                LocalTrack::Audio(track)
            }
            _ => LocalTrack::Video(LocalVideoTrack::create_video_track(
                "camera",
                RtcVideoSource::Native(self.camera_sink().native_source()),
            )),
        };
        let options = TrackPublishOptions {
            source: source_to_lk(source),
            ..Default::default()
        };
        if let Err(error) = local.publish_track(track, options).await {
            if source == TrackSource::Microphone {
                lock(&session.audio).take();
            }
            // The crate only times out when the SFU answers NOT_ALLOWED; if
            // the permission changed meanwhile, that is what happened.
            let now = permission_of(&Participant::Local(local));
            if !now.allows_publishing(source) {
                return Err(publish_forbidden(source, &now));
            }
            return Err(room_error(
                &format!("publishing the {source} failed"),
                error,
            ));
        }
        Ok(())
    }

    async fn unpublish(&self, source: TrackSource) -> TransportResult<()> {
        let session = self.require("unpublish")?;
        let _serial = session.publish_lock.lock().await;
        if let Some(publication) = Self::local_publication(&session, source) {
            lock(&session.unpublishing).insert(publication.sid());
            session
                .room
                .local_participant()
                .unpublish_track(&publication.sid())
                .await
                .map_err(|e| room_error(&format!("unpublishing the {source} failed"), e))?;
            if source == TrackSource::Microphone {
                lock(&session.audio).take();
            }
        }
        Ok(())
    }

    async fn set_microphone(&self, enabled: bool) -> TransportResult<()> {
        self.set_source(TrackSource::Microphone, enabled).await
    }

    async fn set_camera(&self, enabled: bool) -> TransportResult<()> {
        self.set_source(TrackSource::Camera, enabled).await
    }

    async fn send_data(&self, data: OutgoingData) -> TransportResult<()> {
        let session = self.require("send data")?;
        let local = session.room.local_participant();
        check_data(&data, &permission_of(&Participant::Local(local.clone())))?;
        let packet = DataPacket {
            payload: data.payload,
            topic: data.topic,
            reliable: data.reliable,
            destination_identities: data
                .destination_identities
                .into_iter()
                .map(Into::into)
                .collect(),
        };
        local
            .publish_data(packet)
            .await
            .map_err(|e| room_error("sending data failed", e))
    }

    async fn capture_audio(&self, _frame: AudioFrame) -> TransportResult<()> {
        // On phones the microphone track is fed by the platform audio
        // device (with its echo cancellation), not by pushed frames.
        Err(UTDStreamError::unsupported(
            "pushed audio is not supported on phones: the microphone track carries the platform microphone",
        ))
    }

    fn capture_video(&self, frame: &VideoFrame) -> TransportResult<()> {
        self.camera_sink().push(frame)
    }

    async fn remote_audio(&self, identity: &str) -> TransportResult<RemoteAudioStream> {
        let session = self.require("receive audio")?;
        let track = remote_track(
            &session,
            |p| p.identity().as_str() == identity,
            |publication| publication.source() == livekit::prelude::TrackSource::Microphone,
        )
        .ok_or_else(|| {
            not_found(&format!(
                "no microphone track of {identity:?} is subscribed"
            ))
        })?;
        let RemoteTrack::Audio(track) = track else {
            return Err(not_found(&format!(
                "no microphone track of {identity:?} is subscribed"
            )));
        };
        let mut stream = NativeAudioStream::new(track.rtc_track(), 48_000, 1);
        let (tx, rx) = mpsc::channel(REMOTE_AUDIO_QUEUE_FRAMES);
        let task = tokio::spawn(async move {
            while let Some(frame) = stream.next().await {
                let frame = AudioFrame {
                    samples: frame.data.into_owned(),
                    sample_rate: frame.sample_rate,
                    num_channels: frame.num_channels,
                };
                // Full: the consumer is behind; drop rather than wait.
                if let Err(mpsc::error::TrySendError::Closed(_)) = tx.try_send(frame) {
                    return;
                }
            }
        });
        Ok(RemoteAudioStream::new(rx, AbortOnDrop(task)))
    }

    async fn remote_video(&self, track_sid: &str) -> TransportResult<RemoteVideoStream> {
        let session = self.require("receive video")?;
        let track = remote_track(
            &session,
            |_| true,
            |publication| publication.sid().as_str() == track_sid,
        )
        .ok_or_else(|| not_found(&format!("remote track {track_sid} is not subscribed")))?;
        let RemoteTrack::Video(track) = track else {
            return Err(UTDStreamError::invalid_argument(format!(
                "track {track_sid} is not a video track"
            )));
        };
        let mut stream = NativeVideoStream::new(track.rtc_track());
        let slot = Arc::new(FrameSlot::default());
        let sink = slot.clone();
        let task = tokio::spawn(async move {
            while let Some(frame) = stream.next().await {
                let i420 = frame.buffer.to_i420();
                let (sy, su, sv) = i420.strides();
                let (y, u, v) = i420.data();
                sink.put(VideoFrame {
                    width: i420.width(),
                    height: i420.height(),
                    format: VideoPixelFormat::I420,
                    planes: vec![
                        VideoPlane {
                            data: y.to_vec(),
                            stride: sy,
                        },
                        VideoPlane {
                            data: u.to_vec(),
                            stride: su,
                        },
                        VideoPlane {
                            data: v.to_vec(),
                            stride: sv,
                        },
                    ],
                    timestamp_us: frame.timestamp_us,
                    rotation: match frame.rotation {
                        VideoRotation::VideoRotation90 => FrameRotation::Deg90,
                        VideoRotation::VideoRotation180 => FrameRotation::Deg180,
                        VideoRotation::VideoRotation270 => FrameRotation::Deg270,
                        _ => FrameRotation::Deg0,
                    },
                });
            }
            sink.close();
        });
        Ok(RemoteVideoStream::new(slot, AbortOnDrop(task)))
    }

    async fn disconnect(&self) -> TransportResult<()> {
        let _serial = self.shared.lifecycle.lock().await;
        let Some(session) = lock(&self.shared.current).take() else {
            return Ok(());
        };
        lock(&session.audio).take();
        match session.room.close().await {
            Ok(()) | Err(RoomError::AlreadyClosed) => Ok(()),
            Err(e) => Err(room_error("leaving the room failed", e)),
        }
    }

    fn events(&self) -> broadcast::Receiver<TransportEvent> {
        self.shared.events.subscribe()
    }

    fn permission(&self) -> Option<Permission> {
        self.session()
            .map(|s| permission_of(&Participant::Local(s.room.local_participant())))
    }

    fn published_sources(&self) -> Vec<TrackSource> {
        self.session()
            .map(|s| {
                s.room
                    .local_participant()
                    .track_publications()
                    .values()
                    .map(|p| source_from_lk(p.source()))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn remote_participants(&self) -> Vec<ParticipantInfo> {
        self.session()
            .map(|s| {
                s.room
                    .remote_participants()
                    .values()
                    .map(remote_info)
                    .collect()
            })
            .unwrap_or_default()
    }
}
