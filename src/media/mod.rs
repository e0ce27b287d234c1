//! The media transport: the LiveKit connection behind a narrow trait.
//!
//! Everything above this module (audio room seats, the live stream stage, 1:1
//! calls) talks to a room only through [`RoomTransport`] and reacts to the
//! [`TransportEvent`]s it broadcasts. Three implementations exist:
//!
//! - `livekit::LiveKitTransport` (cargo feature `livekit`): the phone
//!   transport over the official `livekit` crate (WebRTC, the platform
//!   microphone). The iOS/Android packaging turns the feature on; CI only
//!   type-checks it (`DOCS_RS=1`), because its build downloads a prebuilt
//!   libwebrtc.
//! - `livekit_ffi::LiveKitFfiTransport` (cargo feature `livekit-ffi`, on by
//!   default): the desktop transport, LiveKit's same Rust SDK as the C-ABI
//!   library from the pinned PyPI wheel. Real audio, video and data through a
//!   real livekit-server; every runtime test uses it.
//! - [`fake::FakeTransport`]: an in-memory test double with a controllable
//!   permission, so session logic can be tested without any server.
//!
//! Permissions are decided by the server only: a transport reflects the
//! permission the server granted ([`TransportEvent::PermissionChanged`]) and
//! refuses to publish a source it does not allow, but never elevates itself.
//!
//! Frames ([`frames`]) cross the transport both ways: PCM pushed into the
//! microphone track and decoded PCM of a participant; video frames pushed
//! into the camera track and decoded I420 frames of a remote track.

use std::fmt;

use async_trait::async_trait;
use tokio::sync::broadcast;

use crate::error::{UTDErrorCode, UTDStreamError};

#[cfg(not(any(feature = "livekit", feature = "livekit-ffi")))]
compile_error!(
    "utd-stream needs a media transport: the `livekit-ffi` feature (desktop, the default) or `livekit` (phones)"
);

pub mod fake;
pub mod frames;
#[cfg(feature = "livekit")]
pub mod livekit;
#[cfg(feature = "livekit-ffi")]
pub mod livekit_ffi;

use frames::{AudioFrame, FrameSlot, VideoFrame};

/// Result type of every transport operation.
pub type TransportResult<T> = Result<T, UTDStreamError>;

/// How many events a slow subscriber may fall behind before it sees
/// `RecvError::Lagged`. Room events are small and bursty (a join of many
/// participants); this leaves room for a few hundred without growing forever.
pub const EVENT_CHANNEL_CAPACITY: usize = 512;

/// How to join a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportOptions {
    /// Ask the SFU to send remote video at the resolution actually rendered.
    pub adaptive_stream: bool,
    /// Let the SFU pause simulcast layers nobody is watching.
    pub dynacast: bool,
    /// Subscribe to every remote track as soon as it is published.
    pub auto_subscribe: bool,
}

impl Default for TransportOptions {
    fn default() -> Self {
        Self {
            adaptive_stream: true,
            dynacast: true,
            auto_subscribe: true,
        }
    }
}

/// Where a track's media comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackSource {
    /// The device microphone.
    Microphone,
    /// The device camera (frames pushed in by platform code).
    Camera,
    /// A screen capture (published by other SDKs; this one does not publish it).
    ScreenShare,
    /// A screen capture's audio (published by other SDKs only).
    ScreenShareAudio,
    /// A source the server did not name.
    Unknown,
}

impl TrackSource {
    /// Whether this SDK can publish the source (microphone and camera only).
    pub fn is_publishable(self) -> bool {
        matches!(self, Self::Microphone | Self::Camera)
    }
}

impl fmt::Display for TrackSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Microphone => "microphone",
            Self::Camera => "camera",
            Self::ScreenShare => "screen_share",
            Self::ScreenShareAudio => "screen_share_audio",
            Self::Unknown => "unknown",
        })
    }
}

/// What the server allows the local participant to do, as granted by the
/// token and changed later by RoomService.UpdateParticipant.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Permission {
    /// May publish tracks at all.
    pub can_publish: bool,
    /// May subscribe to other participants' tracks.
    pub can_subscribe: bool,
    /// May send data messages.
    pub can_publish_data: bool,
    /// The sources it may publish; empty means every source (LiveKit's rule).
    pub can_publish_sources: Vec<TrackSource>,
}

impl Permission {
    /// Whether publishing `source` is allowed, by the same rule the SFU
    /// applies: `can_publish`, and the source listed (or no list at all).
    pub fn allows_publishing(&self, source: TrackSource) -> bool {
        self.can_publish
            && (self.can_publish_sources.is_empty() || self.can_publish_sources.contains(&source))
    }
}

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackKind {
    /// An audio track.
    Audio,
    /// A video track.
    Video,
    /// The server did not say.
    Unknown,
}

impl TrackSource {
    /// The kind of track this source publishes.
    pub fn kind(self) -> TrackKind {
        match self {
            Self::Microphone | Self::ScreenShareAudio => TrackKind::Audio,
            Self::Camera | Self::ScreenShare => TrackKind::Video,
            Self::Unknown => TrackKind::Unknown,
        }
    }
}

/// A published track as the room sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackInfo {
    /// The server-assigned track id.
    pub sid: String,
    /// Where the media comes from.
    pub source: TrackSource,
    /// Audio or video.
    pub kind: TrackKind,
    /// Whether the publisher muted it.
    pub muted: bool,
    /// Whether this participant receives it (remote tracks; always false for
    /// our own).
    pub subscribed: bool,
}

impl TrackInfo {
    /// One of our own tracks, just published.
    pub fn local(sid: String, source: TrackSource) -> Self {
        Self {
            sid,
            source,
            kind: source.kind(),
            muted: false,
            subscribed: false,
        }
    }
}

/// A participant the SFU counts as speaking.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveSpeaker {
    /// Who.
    pub identity: String,
    /// The audio level, 0.0 (silent) to 1.0 (full scale): the SFU's on the
    /// phone transport, WebRTC's statistics of the speaker's microphone track
    /// on the FFI one. `None` when neither is available (e.g. a speaker whose
    /// track is not subscribed).
    pub level: Option<f32>,
}

/// How well a participant's connection carries media, as the SFU rates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionQuality {
    /// No packet loss worth mentioning.
    Excellent,
    /// Some loss or jitter.
    Good,
    /// Heavy loss: media degrades.
    Poor,
    /// Nothing arrives.
    Lost,
}

/// The largest data payload any transport accepts, in bytes: LiveKit's
/// documented limit for a data message (15 KiB); larger ones are refused
/// before sending with `InvalidArgument`.
pub const MAX_DATA_PAYLOAD_BYTES: usize = 15 * 1024;

/// A data message to send.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutgoingData {
    /// The bytes (at most [`MAX_DATA_PAYLOAD_BYTES`]).
    pub payload: Vec<u8>,
    /// Ordered and retransmitted (true) or best effort (false).
    pub reliable: bool,
    /// Only these identities receive it; empty means everyone.
    pub destination_identities: Vec<String>,
    /// A label receivers can filter on.
    pub topic: Option<String>,
}

/// Checks a message against the permission and the size limit.
pub(crate) fn check_data(data: &OutgoingData, permission: &Permission) -> TransportResult<()> {
    if !permission.can_publish_data {
        return Err(UTDStreamError::new(
            UTDErrorCode::Forbidden,
            "cannot send data: the server has not granted data publish permission",
        ));
    }
    if data.payload.len() > MAX_DATA_PAYLOAD_BYTES {
        return Err(UTDStreamError::invalid_argument(format!(
            "a data message may carry at most {MAX_DATA_PAYLOAD_BYTES} bytes; this one has {}",
            data.payload.len()
        )));
    }
    if data.destination_identities.iter().any(String::is_empty) {
        return Err(UTDStreamError::invalid_argument(
            "a data message's destination identities must not be empty strings",
        ));
    }
    Ok(())
}

/// Decoded audio of one remote participant's microphone, as it arrives.
/// It follows the participant: frames flow whenever it publishes, across
/// republishes. Dropping it closes the stream in the media library.
pub struct RemoteAudioStream {
    frames: tokio::sync::mpsc::Receiver<AudioFrame>,
    _release: Box<dyn Send + Sync>,
}

impl std::fmt::Debug for RemoteAudioStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteAudioStream").finish_non_exhaustive()
    }
}

impl RemoteAudioStream {
    /// A stream over `frames`; `release` is dropped with it.
    pub fn new(
        frames: tokio::sync::mpsc::Receiver<AudioFrame>,
        release: impl Send + Sync + 'static,
    ) -> Self {
        Self {
            frames,
            _release: Box::new(release),
        }
    }

    /// The next frame; `None` once the stream ended.
    pub async fn next(&mut self) -> Option<AudioFrame> {
        self.frames.recv().await
    }
}

/// Decoded I420 frames of one remote video track. A slow consumer gets the
/// newest frame, never a queue. Dropping it closes the stream.
pub struct RemoteVideoStream {
    slot: std::sync::Arc<FrameSlot<VideoFrame>>,
    _release: Box<dyn Send + Sync>,
}

impl std::fmt::Debug for RemoteVideoStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteVideoStream").finish_non_exhaustive()
    }
}

impl RemoteVideoStream {
    /// A stream over `slot`; `release` is dropped with it.
    pub fn new(
        slot: std::sync::Arc<FrameSlot<VideoFrame>>,
        release: impl Send + Sync + 'static,
    ) -> Self {
        Self {
            slot,
            _release: Box::new(release),
        }
    }

    /// The newest frame not taken yet; `None` once the track ended.
    pub async fn next(&self) -> Option<VideoFrame> {
        self.slot.next().await
    }

    /// Frames that were replaced by a newer one before being taken.
    pub fn skipped(&self) -> u64 {
        self.slot.skipped()
    }
}

/// A participant in the room other than the local one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantInfo {
    /// The app's user identity (unique in the room).
    pub identity: String,
    /// The server-assigned session id (changes when the participant rejoins).
    pub sid: String,
    /// Display name from the token, possibly empty.
    pub name: String,
    /// Whether the server currently lets it publish (seated, on stage).
    pub can_publish: bool,
    /// The tracks it currently publishes.
    pub tracks: Vec<TrackInfo>,
}

/// What [`RoomTransport::connect`] returns once the server admitted us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedRoom {
    /// The room's name.
    pub room_name: String,
    /// The local participant's identity (from the token).
    pub local_identity: String,
    /// The local participant's server-assigned session id.
    pub local_sid: String,
    /// What the server allows the local participant to do right now.
    pub permission: Permission,
    /// Everyone else already in the room.
    pub remote_participants: Vec<ParticipantInfo>,
}

/// Why the connection to the room ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// [`RoomTransport::disconnect`] was called.
    ClientInitiated,
    /// The same identity joined the room elsewhere.
    DuplicateIdentity,
    /// The server shut down.
    ServerShutdown,
    /// RoomService.RemoveParticipant removed us (e.g. kicked by a host).
    ParticipantRemoved,
    /// RoomService.DeleteRoom ended the room.
    RoomDeleted,
    /// The room closed because everyone left.
    RoomClosed,
    /// The server dropped us because the media connection never came up.
    JoinFailure,
    /// The connection was lost and could not be resumed.
    ConnectionLost,
    /// Any other reason; the text says what the server or transport reported.
    Other(String),
}

/// Something that happened in the room. Events for one room never mention
/// participants of another.
#[derive(Debug, Clone, PartialEq)]
pub enum TransportEvent {
    /// A participant entered the room.
    ParticipantJoined(ParticipantInfo),
    /// A participant left the room.
    ParticipantLeft {
        /// Who left.
        identity: String,
    },
    /// A participant's name or track list changed.
    ParticipantUpdated(ParticipantInfo),
    /// The server changed what the LOCAL participant may do.
    PermissionChanged(Permission),
    /// A track was published (`local` for our own tracks).
    TrackPublished {
        /// The publisher's identity.
        identity: String,
        /// Whether the publisher is the local participant.
        local: bool,
        /// The track.
        track: TrackInfo,
    },
    /// A track was unpublished (`local` for our own tracks).
    TrackUnpublished {
        /// The publisher's identity.
        identity: String,
        /// Whether the publisher is the local participant.
        local: bool,
        /// The track.
        track: TrackInfo,
    },
    /// The server took one of our tracks away, typically because publish
    /// permission for its source was revoked. Followed by the matching local
    /// [`TransportEvent::TrackUnpublished`].
    LocalTrackUnpublishedByServer {
        /// The track that was removed.
        track: TrackInfo,
    },
    /// The set of participants currently speaking, loudest first.
    ActiveSpeakersChanged {
        /// Who is speaking now; empty when nobody is.
        speakers: Vec<ActiveSpeaker>,
    },
    /// The SFU's rating of a participant's connection changed (the local one
    /// too).
    ConnectionQualityChanged {
        /// Whose connection.
        identity: String,
        /// How well it carries media now.
        quality: ConnectionQuality,
    },
    /// A data message arrived.
    DataReceived {
        /// The sender's identity, `None` when the server sent it.
        from: Option<String>,
        /// The message bytes.
        payload: Vec<u8>,
        /// The sender's topic, if any.
        topic: Option<String>,
    },
    /// The connection dropped and the transport is trying to resume it.
    Reconnecting,
    /// The connection was resumed; the room state is current again.
    Reconnected,
    /// The connection ended for good; `connect` again to rejoin.
    Disconnected {
        /// Why it ended.
        reason: DisconnectReason,
    },
}

/// The narrow interface every session type uses to talk to a room.
///
/// One transport value holds at most one room connection at a time; after
/// [`disconnect`](Self::disconnect) (or a [`TransportEvent::Disconnected`]) it
/// may [`connect`](Self::connect) again. Subscribe with
/// [`events`](Self::events) before connecting so nothing is missed.
#[async_trait]
pub trait RoomTransport: Send + Sync {
    /// Joins the room at `url` with an access token. Fails with `Conflict`
    /// when the room refuses the join (e.g. full), `Unauthenticated` for a
    /// bad token, `Network`/`Timeout` when the server cannot be reached, and
    /// `InvalidState` if already connected.
    async fn connect(
        &self,
        url: &str,
        token: &str,
        options: TransportOptions,
    ) -> TransportResult<JoinedRoom>;

    /// Publishes the microphone or camera. Fails with `Forbidden` when the
    /// granted permission lacks the source (checked before asking) or when
    /// the server refuses it. Publishing an already published source is a
    /// no-op.
    async fn publish(&self, source: TrackSource) -> TransportResult<()>;

    /// Stops publishing `source`; a no-op when it is not published.
    async fn unpublish(&self, source: TrackSource) -> TransportResult<()>;

    /// Turns the microphone on (publishing it if needed) or mutes it.
    async fn set_microphone(&self, enabled: bool) -> TransportResult<()>;

    /// Turns the camera on (publishing it if needed) or mutes it.
    async fn set_camera(&self, enabled: bool) -> TransportResult<()>;

    /// Sends a data message to everyone in the room, or only to its
    /// destination identities. Refused with `Forbidden` without the data
    /// grant and `InvalidArgument` above [`MAX_DATA_PAYLOAD_BYTES`].
    async fn send_data(&self, data: OutgoingData) -> TransportResult<()>;

    /// Pushes PCM into the microphone track's source. Waits only while the
    /// source's small buffer is full (so a producer runs at real time);
    /// frames pushed while the microphone is not published are not sent.
    async fn capture_audio(&self, frame: AudioFrame) -> TransportResult<()>;

    /// Pushes a camera frame into the camera track's source (never waits).
    fn capture_video(&self, frame: &VideoFrame) -> TransportResult<()>;

    /// Decoded audio of `identity`'s microphone (`NotFound` if no such
    /// participant is in the room).
    async fn remote_audio(&self, identity: &str) -> TransportResult<RemoteAudioStream>;

    /// Decoded frames of the remote video track `track_sid` (`NotFound` if
    /// no participant publishes it, `InvalidState` until it is subscribed).
    async fn remote_video(&self, track_sid: &str) -> TransportResult<RemoteVideoStream>;

    /// Leaves the room. A no-op when not connected.
    async fn disconnect(&self) -> TransportResult<()>;

    /// A new subscription to this transport's events (all rooms it joins).
    fn events(&self) -> broadcast::Receiver<TransportEvent>;

    /// The local permission as last granted by the server (`None` when not
    /// connected).
    fn permission(&self) -> Option<Permission>;

    /// The sources the local participant currently publishes.
    fn published_sources(&self) -> Vec<TrackSource>;

    /// The other participants in the room right now.
    fn remote_participants(&self) -> Vec<ParticipantInfo>;
}

/// The transport the exported sessions use: the official `livekit` crate
/// when the `livekit` feature is on (the iOS / Android packages), otherwise
/// LiveKit's FFI library (desktop builds and every test).
pub fn default_transport() -> std::sync::Arc<dyn RoomTransport> {
    #[cfg(feature = "livekit")]
    {
        std::sync::Arc::new(livekit::LiveKitTransport::new())
    }
    #[cfg(all(feature = "livekit-ffi", not(feature = "livekit")))]
    {
        std::sync::Arc::new(livekit_ffi::LiveKitFfiTransport::new())
    }
}

/// The `Forbidden` error for publishing a source the permission lacks.
pub(crate) fn publish_forbidden(source: TrackSource, permission: &Permission) -> UTDStreamError {
    let why = if permission.can_publish {
        format!(
            "the server does not allow publishing the {source} (allowed sources: {allowed})",
            allowed = describe_sources(&permission.can_publish_sources)
        )
    } else {
        "the server has not granted publish permission".to_string()
    };
    UTDStreamError::new(
        UTDErrorCode::Forbidden,
        format!("cannot publish the {source}: {why}"),
    )
}

fn describe_sources(sources: &[TrackSource]) -> String {
    if sources.is_empty() {
        return "all".to_string();
    }
    sources
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The error for operations that need a room connection.
pub(crate) fn not_connected(what: &str) -> UTDStreamError {
    UTDStreamError::invalid_state(format!(
        "cannot {what}: the transport is not connected to a room"
    ))
}

/// The error for sources this SDK never publishes.
pub(crate) fn unpublishable(source: TrackSource) -> UTDStreamError {
    UTDStreamError::invalid_argument(format!(
        "cannot publish the {source}: this SDK publishes only the microphone and the camera"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_source_list_allows_every_source_but_only_with_can_publish() {
        let mut permission = Permission {
            can_publish: true,
            ..Permission::default()
        };
        assert!(permission.allows_publishing(TrackSource::Camera));
        permission.can_publish_sources = vec![TrackSource::Microphone];
        assert!(permission.allows_publishing(TrackSource::Microphone));
        assert!(!permission.allows_publishing(TrackSource::Camera));
        permission.can_publish = false;
        assert!(!permission.allows_publishing(TrackSource::Microphone));
    }

    #[test]
    fn forbidden_errors_say_which_rule_refused() {
        let listener = Permission::default();
        let e = publish_forbidden(TrackSource::Microphone, &listener);
        assert_eq!(e.kind(), UTDErrorCode::Forbidden);
        assert!(e.message().contains("not granted publish permission"));

        let speaker = Permission {
            can_publish: true,
            can_publish_sources: vec![TrackSource::Microphone],
            ..Permission::default()
        };
        let e = publish_forbidden(TrackSource::Camera, &speaker);
        assert!(e.message().contains("allowed sources: microphone"), "{e}");
    }

    #[test]
    fn default_options_turn_adaptive_stream_dynacast_and_auto_subscribe_on() {
        let o = TransportOptions::default();
        assert!(o.adaptive_stream && o.dynacast && o.auto_subscribe);
    }
}
