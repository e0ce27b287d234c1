//! The desktop transport: LiveKit's own Rust SDK (the same `livekit` crate
//! and libwebrtc the phone transport uses) compiled as a C-ABI library,
//! `liblivekit_ffi`, from the pinned PyPI wheel `livekit`. Real ICE, DTLS,
//! SRTP, Opus, VP8 and data channels against a real livekit-server.
//!
//! The library is loaded at run time (`UTD_LIVEKIT_FFI_LIB`, else the file
//! `scripts/setup.sh livekit-ffi` cached at build time) and checked for its
//! build version; a missing or different library is a typed `Unsupported`
//! error. Requests and events are protobuf messages whose Rust types build.rs
//! generates from the descriptors the same wheel ships.
//!
//! Media in: a 48 kHz mono source (pushed [`AudioFrame`]s of any rate and
//! channel count are resampled to it) feeds the microphone track
//! (silence until frames arrive) and a video source feeds the camera track
//! with pushed [`VideoFrame`]s; both exist for the whole session, so frames
//! pushed before publishing are accepted and simply not sent. Media out:
//! decoded PCM of a participant's microphone, decoded I420 of any subscribed
//! video track.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{broadcast, mpsc};

use crate::error::{UTDErrorCode, UTDStreamError};
use crate::media::frames::{AudioFrame, FrameSlot, VideoFrame};
use crate::media::{
    check_data, not_connected, publish_forbidden, unpublishable, JoinedRoom, OutgoingData,
    ParticipantInfo, Permission, RemoteAudioStream, RemoteVideoStream, RoomTransport, TrackInfo,
    TrackSource, TransportEvent, TransportOptions, TransportResult, EVENT_CHANNEL_CAPACITY,
};

mod convert;
mod frames;
mod levels;
mod library;
pub(crate) mod proto;
mod session;
mod sources;

use convert::{connect_error, source_to_proto};
use frames::{rotation_to_proto, video_buffer_info};
use library::{FfiClient, StreamSink};
pub use library::{EXPECTED_BUILD_VERSION, LIBRARY_PATH_ENV};
use proto::ffi_event::Message as Event;
use proto::ffi_request::Message as Request;
use proto::ffi_response::Message as Response;
use session::{follow_room, LocalTrack, OwnedHandle, Session};
use sources::Sources;

/// The microphone source's format; pushed frames of another rate or channel
/// count are remixed and resampled to it.
pub const MICROPHONE_SAMPLE_RATE: u32 = 48_000;
/// Mono.
pub const MICROPHONE_CHANNELS: u32 = 1;
/// Decoded remote audio comes out in this format.
pub const REMOTE_AUDIO_SAMPLE_RATE: u32 = 48_000;

/// The camera resolution announced to the encoder unless changed.
const DEFAULT_CAMERA_SIZE: (u32, u32) = (1280, 720);
/// How much pushed audio the source buffers before `capture_audio` waits:
/// small, so pushed audio is heard within this much of being pushed.
const MICROPHONE_QUEUE_MS: u32 = 100;
/// Decoded remote audio frames (10 ms each) kept for a slow consumer before
/// new ones are dropped.
const REMOTE_AUDIO_QUEUE_FRAMES: usize = 50;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(15);
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The desktop LiveKit transport.
#[derive(Clone)]
pub struct LiveKitFfiTransport {
    shared: Arc<Shared>,
}

struct Shared {
    events: broadcast::Sender<TransportEvent>,
    current: Mutex<Option<Arc<Session>>>,
    lifecycle: tokio::sync::Mutex<()>,
    camera_size: (u32, u32),
    /// The media sources, created on the first connect and kept for the
    /// transport's life (a rejoin reuses them).
    sources: Mutex<Option<Arc<Sources>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl std::fmt::Debug for LiveKitFfiTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveKitFfiTransport")
            .field("connected", &self.session().is_some())
            .finish()
    }
}

impl Default for LiveKitFfiTransport {
    fn default() -> Self {
        Self::new()
    }
}

/// Sends the asynchronous request `build` makes for a fresh async id and
/// waits for its callback, with a deadline.
async fn call(
    client: &FfiClient,
    what: &str,
    timeout: Duration,
    build: impl FnOnce(u64) -> Request,
) -> TransportResult<Event> {
    let async_id = client.next_async_id();
    tokio::time::timeout(timeout, client.request_async(async_id, build(async_id)))
        .await
        .map_err(|_| {
            UTDStreamError::new(
                UTDErrorCode::Timeout,
                format!("{what}: LiveKit's media library did not answer within {timeout:?}"),
            )
        })?
}

fn unexpected(what: &str) -> UTDStreamError {
    UTDStreamError::protocol(format!(
        "{what}: LiveKit's media library answered something else"
    ))
}

impl LiveKitFfiTransport {
    /// A transport that is not connected yet, with a 1280x720 camera.
    pub fn new() -> Self {
        Self::with_camera_size(DEFAULT_CAMERA_SIZE.0, DEFAULT_CAMERA_SIZE.1)
    }

    /// A transport whose camera announces `width` x `height` to the encoder.
    pub fn with_camera_size(width: u32, height: u32) -> Self {
        let (events, _) = broadcast::channel(EVENT_CHANNEL_CAPACITY);
        Self {
            shared: Arc::new(Shared {
                events,
                current: Mutex::new(None),
                lifecycle: tokio::sync::Mutex::new(()),
                camera_size: (width, height),
                sources: Mutex::new(None),
            }),
        }
    }

    /// Whether LiveKit's media library can be loaded here (it is loaded on
    /// first use); the error says why not.
    pub fn check_library() -> TransportResult<()> {
        FfiClient::get().map(|_| ())
    }

    /// Publishes `source` without the SDK's own permission check, so the
    /// SFU's refusal can be observed (tests and diagnostics). Apps use
    /// [`RoomTransport::publish`].
    pub async fn publish_without_permission_check(
        &self,
        source: TrackSource,
    ) -> TransportResult<()> {
        if !source.is_publishable() {
            return Err(unpublishable(source));
        }
        let session = self.require("publish")?;
        let _serial = session.publish_lock.lock().await;
        self.publish_track(&session, source).await
    }

    fn session(&self) -> Option<Arc<Session>> {
        lock(&self.shared.current).clone()
    }

    fn require(&self, what: &str) -> TransportResult<Arc<Session>> {
        self.session().ok_or_else(|| not_connected(what))
    }

    fn sources(&self, client: &Arc<FfiClient>) -> TransportResult<Arc<Sources>> {
        let mut sources = lock(&self.shared.sources);
        if let Some(existing) = sources.as_ref() {
            return Ok(existing.clone());
        }
        let created = Arc::new(Sources::create(client, self.shared.camera_size)?);
        *sources = Some(created.clone());
        Ok(created)
    }

    async fn set_source(&self, source: TrackSource, enabled: bool) -> TransportResult<()> {
        let session = self.require(if enabled {
            "enable a source"
        } else {
            "disable a source"
        })?;
        match session.local_track(source) {
            Some((_, track, muted)) if muted == enabled => {
                let answer =
                    session
                        .client
                        .request(Request::LocalTrackMute(proto::LocalTrackMuteRequest {
                            track_handle: track,
                            mute: !enabled,
                        }));
                match answer {
                    Ok(Response::LocalTrackMute(_)) => session.set_local_muted(source, !enabled),
                    Ok(_) => return Err(unexpected("muting a track")),
                    // The SFU took the track away meanwhile (a revoke racing
                    // this call, as on leaving a seat): nothing is sent, which
                    // is what muting asked for.
                    Err(_) if !enabled => session.set_local_muted(source, true),
                    Err(e) => {
                        let now = session.permission();
                        return Err(if now.allows_publishing(source) {
                            e
                        } else {
                            publish_forbidden(source, &now)
                        });
                    }
                }
            }
            Some(_) => {}
            None if enabled => self.publish(source).await?,
            None => {}
        }
        Ok(())
    }

    async fn publish_track(
        &self,
        session: &Arc<Session>,
        source: TrackSource,
    ) -> TransportResult<()> {
        let client = &session.client;
        let sources = self.sources(client)?;
        let created = match source {
            TrackSource::Microphone => {
                client.request(Request::CreateAudioTrack(proto::CreateAudioTrackRequest {
                    name: "microphone".into(),
                    source_handle: sources.microphone.id(),
                }))?
            }
            _ => client.request(Request::CreateVideoTrack(proto::CreateVideoTrackRequest {
                name: "camera".into(),
                source_handle: sources.camera.id(),
            }))?,
        };
        let track = match created {
            Response::CreateAudioTrack(r) => r.track,
            Response::CreateVideoTrack(r) => r.track,
            _ => return Err(unexpected("creating a track")),
        };
        let track = OwnedHandle::new(client, &track.handle);
        let options = proto::TrackPublishOptions {
            source: Some(source_to_proto(source) as i32),
            // One layer: a desktop peer has the bandwidth, and the receiver
            // gets the resolution that was pushed.
            simulcast: Some(false),
            ..Default::default()
        };
        let answer = call(
            client,
            &format!("publishing the {source}"),
            PUBLISH_TIMEOUT,
            |async_id| {
                Request::PublishTrack(proto::PublishTrackRequest {
                    local_participant_handle: session.local_participant.id(),
                    track_handle: track.id(),
                    options,
                    request_async_id: Some(async_id),
                })
            },
        )
        .await;
        let publication = match answer {
            Ok(Event::PublishTrack(cb)) => match cb.message {
                Some(proto::publish_track_callback::Message::Publication(p)) => {
                    // The publication's handle is not needed: the track's is.
                    drop(OwnedHandle::new(client, &p.handle));
                    Ok(p.info.sid)
                }
                Some(proto::publish_track_callback::Message::Error(e)) => Err(
                    UTDStreamError::network(format!("publishing the {source} failed: {e}")),
                ),
                None => Err(unexpected("publishing a track")),
            },
            Ok(_) => Err(unexpected("publishing a track")),
            Err(e) => Err(e),
        };
        let sid = match publication {
            Ok(sid) => sid,
            Err(error) => {
                // The library reports the SFU's refusal (NOT_ALLOWED) only
                // as its 10 s publish timeout; without the permission, that
                // refusal is what happened.
                let now = session.permission();
                return Err(if now.allows_publishing(source) {
                    error
                } else {
                    let refused = publish_forbidden(source, &now);
                    UTDStreamError::new(
                        UTDErrorCode::Forbidden,
                        format!(
                            "{} (the SFU did not accept the track: {})",
                            refused.message(),
                            error.message()
                        ),
                    )
                });
            }
        };
        session.add_local(LocalTrack {
            sid: sid.clone(),
            source,
            track,
            muted: false,
        });
        let _ = self.shared.events.send(TransportEvent::TrackPublished {
            identity: session.local_identity.clone(),
            local: true,
            track: TrackInfo::local(sid, source),
        });
        Ok(())
    }
}

/// Asks the library to unpublish local track `sid` (the SFU may already have).
async fn unpublish_sid(session: &Session, sid: String) {
    let client = &session.client;
    let result = call(client, "unpublishing a track", CALL_TIMEOUT, |async_id| {
        Request::UnpublishTrack(proto::UnpublishTrackRequest {
            local_participant_handle: session.local_participant.id(),
            track_sid: sid,
            stop_on_unpublish: false,
            request_async_id: Some(async_id),
        })
    })
    .await;
    match result {
        Ok(Event::UnpublishTrack(cb)) => {
            if let Some(e) = cb.error {
                tracing::debug!(target: "utd_stream::media", "unpublishing a revoked track: {e}");
            }
        }
        Ok(_) => {}
        Err(e) => tracing::debug!(target: "utd_stream::media", "unpublishing a revoked track: {e}"),
    }
}

#[async_trait]
impl RoomTransport for LiveKitFfiTransport {
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
        let client = FfiClient::get()?;
        self.sources(&client)?;
        let request = |async_id| {
            Request::Connect(proto::ConnectRequest {
                url: url.to_string(),
                token: token.to_string(),
                options: proto::RoomOptions {
                    auto_subscribe: Some(options.auto_subscribe),
                    adaptive_stream: Some(options.adaptive_stream),
                    dynacast: Some(options.dynacast),
                    join_retries: Some(0),
                    connect_timeout_ms: Some(CONNECT_TIMEOUT.as_millis() as u64 / 2),
                    ..Default::default()
                },
                request_async_id: Some(async_id),
            })
        };
        let result = match call(&client, "joining the room", CONNECT_TIMEOUT, request).await? {
            Event::Connect(cb) => match cb.message {
                Some(proto::connect_callback::Message::Result(result)) => result,
                Some(proto::connect_callback::Message::Error(e)) => return Err(connect_error(&e)),
                None => return Err(unexpected("joining the room")),
            },
            _ => return Err(unexpected("joining the room")),
        };
        let (session, room_name) = Session::from_connect(&client, result);
        let (room_tx, room_rx) = mpsc::unbounded_channel();
        client.route_room(session.room.id(), room_tx);
        // The library holds the room's events back until asked (1.2.0).
        match client.request(Request::ReadyForRoomEvent(
            proto::ReadyForRoomEventRequest {
                room_handle: session.room.id(),
            },
        )) {
            Ok(_) => {}
            Err(e) => {
                client.unroute_room(session.room.id());
                return Err(e);
            }
        }
        let joined = JoinedRoom {
            room_name,
            local_identity: session.local_identity.clone(),
            local_sid: String::new(),
            permission: session.permission(),
            remote_participants: session.remote_participants(),
        };
        *lock(&self.shared.current) = Some(session.clone());
        let shared = Arc::downgrade(&self.shared);
        tokio::spawn(follow_room(
            session,
            room_rx,
            self.shared.events.clone(),
            move |ended| {
                if let Some(shared) = shared.upgrade() {
                    let mut current = lock(&shared.current);
                    if current.as_ref().is_some_and(|s| Arc::ptr_eq(s, ended)) {
                        *current = None;
                    }
                }
            },
        ));
        Ok(joined)
    }

    async fn publish(&self, source: TrackSource) -> TransportResult<()> {
        if !source.is_publishable() {
            return Err(unpublishable(source));
        }
        let session = self.require("publish")?;
        let _serial = session.publish_lock.lock().await;
        if session.local_track(source).is_some() {
            return Ok(());
        }
        let permission = session.permission();
        if !permission.allows_publishing(source) {
            return Err(publish_forbidden(source, &permission));
        }
        self.publish_track(&session, source).await
    }

    async fn unpublish(&self, source: TrackSource) -> TransportResult<()> {
        let session = self.require("unpublish")?;
        let _serial = session.publish_lock.lock().await;
        let Some((sid, event)) = session.begin_unpublish(source) else {
            return Ok(());
        };
        unpublish_sid(&session, sid).await;
        let _ = self.shared.events.send(event);
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
        check_data(&data, &session.permission())?;
        let client = &session.client;
        let answer = call(client, "sending data", CALL_TIMEOUT, |async_id| {
            Request::PublishData(proto::PublishDataRequest {
                local_participant_handle: session.local_participant.id(),
                // The library copies the bytes before the request returns.
                data_ptr: data.payload.as_ptr() as u64,
                data_len: data.payload.len() as u64,
                reliable: data.reliable,
                topic: data.topic.clone(),
                destination_identities: data.destination_identities.clone(),
                request_async_id: Some(async_id),
                ..Default::default()
            })
        })
        .await?;
        match answer {
            Event::PublishData(cb) => match cb.error {
                None => Ok(()),
                Some(e) => Err(UTDStreamError::network(format!("sending data failed: {e}"))),
            },
            _ => Err(unexpected("sending data")),
        }
    }

    async fn capture_audio(&self, frame: AudioFrame) -> TransportResult<()> {
        frame.validate()?;
        let client = FfiClient::get()?;
        let sources = self.sources(&client)?;
        let frame = sources.to_microphone_format(&client, frame)?;
        let answer = call(
            &client,
            "pushing an audio frame",
            CALL_TIMEOUT,
            |async_id| {
                Request::CaptureAudioFrame(proto::CaptureAudioFrameRequest {
                    source_handle: sources.microphone.id(),
                    // Copied by the library before the request returns.
                    buffer: proto::AudioFrameBufferInfo {
                        data_ptr: frame.samples.as_ptr() as u64,
                        num_channels: frame.num_channels,
                        sample_rate: frame.sample_rate,
                        samples_per_channel: frame.samples_per_channel(),
                    },
                    request_async_id: Some(async_id),
                })
            },
        )
        .await?;
        match answer {
            Event::CaptureAudioFrame(cb) => match cb.error {
                None => Ok(()),
                Some(e) => Err(UTDStreamError::invalid_argument(format!(
                    "the audio frame was refused: {e}"
                ))),
            },
            _ => Err(unexpected("pushing an audio frame")),
        }
    }

    fn capture_video(&self, frame: &VideoFrame) -> TransportResult<()> {
        frame.validate()?;
        let client = FfiClient::get()?;
        let sources = self.sources(&client)?;
        match client.request(Request::CaptureVideoFrame(
            proto::CaptureVideoFrameRequest {
                source_handle: sources.camera.id(),
                // Copied (converted to I420) by the library within the request.
                buffer: video_buffer_info(frame),
                timestamp_us: frame.timestamp_us,
                rotation: rotation_to_proto(frame.rotation) as i32,
                metadata: None,
            },
        ))? {
            Response::CaptureVideoFrame(_) => Ok(()),
            _ => Err(unexpected("pushing a video frame")),
        }
    }

    async fn remote_audio(&self, identity: &str) -> TransportResult<RemoteAudioStream> {
        let session = self.require("receive audio")?;
        let participant = session.participant_handle(identity).ok_or_else(|| {
            UTDStreamError::new(
                UTDErrorCode::NotFound,
                format!("no participant {identity:?} in the room"),
            )
        })?;
        let client = session.client.clone();
        let stream = match client.request(Request::AudioStreamFromParticipant(
            proto::AudioStreamFromParticipantRequest {
                participant_handle: participant,
                r#type: proto::AudioStreamType::AudioStreamNative as i32,
                track_source: Some(proto::TrackSource::SourceMicrophone as i32),
                sample_rate: Some(REMOTE_AUDIO_SAMPLE_RATE),
                num_channels: Some(1),
                frame_size_ms: Some(10),
                ..Default::default()
            },
        ))? {
            Response::AudioStreamFromParticipant(r) => r.stream,
            _ => return Err(unexpected("opening an audio stream")),
        };
        let handle = OwnedHandle::new(&client, &stream.handle);
        let (tx, rx) = mpsc::channel(REMOTE_AUDIO_QUEUE_FRAMES);
        client.route_stream(handle.id(), StreamSink::Audio(tx));
        Ok(RemoteAudioStream::new(rx, StreamRelease { client, handle }))
    }

    async fn remote_video(&self, track_sid: &str) -> TransportResult<RemoteVideoStream> {
        let session = self.require("receive video")?;
        let Some((track, _)) = session.subscribed_track(track_sid) else {
            return Err(if session.has_remote_track(track_sid) {
                UTDStreamError::invalid_state(format!("track {track_sid} is not subscribed (yet)"))
            } else {
                UTDStreamError::new(
                    UTDErrorCode::NotFound,
                    format!("no remote track {track_sid} in the room"),
                )
            });
        };
        let client = session.client.clone();
        let stream =
            match client.request(Request::NewVideoStream(proto::NewVideoStreamRequest {
                track_handle: track,
                r#type: proto::VideoStreamType::VideoStreamNative as i32,
                format: Some(proto::VideoBufferType::I420 as i32),
                normalize_stride: Some(true),
                queue_size_frames: None,
            }))? {
                Response::NewVideoStream(r) => r.stream,
                _ => return Err(unexpected("opening a video stream")),
            };
        let handle = OwnedHandle::new(&client, &stream.handle);
        let slot = Arc::new(FrameSlot::default());
        client.route_stream(handle.id(), StreamSink::Video(slot.clone()));
        Ok(RemoteVideoStream::new(
            slot,
            StreamRelease { client, handle },
        ))
    }

    async fn disconnect(&self) -> TransportResult<()> {
        let _serial = self.shared.lifecycle.lock().await;
        let Some(session) = lock(&self.shared.current).take() else {
            return Ok(());
        };
        let client = session.client.clone();
        // Our own leave is reported here, not by the room's events.
        client.unroute_room(session.room.id());
        let result = call(&client, "leaving the room", CALL_TIMEOUT, |async_id| {
            Request::Disconnect(proto::DisconnectRequest {
                room_handle: session.room.id(),
                request_async_id: Some(async_id),
                reason: Some(proto::DisconnectReason::ClientInitiated as i32),
            })
        })
        .await;
        let _ = self.shared.events.send(TransportEvent::Disconnected {
            reason: crate::media::DisconnectReason::ClientInitiated,
        });
        result.map(|_| ())
    }

    fn events(&self) -> broadcast::Receiver<TransportEvent> {
        self.shared.events.subscribe()
    }

    fn permission(&self) -> Option<Permission> {
        self.session().map(|s| s.permission())
    }

    fn published_sources(&self) -> Vec<TrackSource> {
        self.session()
            .map(|s| s.published_sources())
            .unwrap_or_default()
    }

    fn remote_participants(&self) -> Vec<ParticipantInfo> {
        self.session()
            .map(|s| s.remote_participants())
            .unwrap_or_default()
    }
}

/// Closes a remote stream in the library when its consumer drops it.
struct StreamRelease {
    client: Arc<FfiClient>,
    handle: OwnedHandle,
}

impl Drop for StreamRelease {
    fn drop(&mut self) {
        self.client.unroute_stream(self.handle.id());
    }
}
