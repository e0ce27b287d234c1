//! Participants, tracks and permissions as the app sees them (exported
//! mirrors of the transport's types in `crate::media`).

use crate::media::{ParticipantInfo, Permission, TrackInfo, TrackKind, TrackSource};

/// Where a track's media comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum UTDTrackSource {
    /// The device microphone.
    Microphone,
    /// The device camera.
    Camera,
    /// A screen capture (published by other SDKs).
    ScreenShare,
    /// A screen capture's audio (published by other SDKs).
    ScreenShareAudio,
    /// A source the media server did not name.
    Unknown,
}

impl From<TrackSource> for UTDTrackSource {
    fn from(source: TrackSource) -> Self {
        match source {
            TrackSource::Microphone => Self::Microphone,
            TrackSource::Camera => Self::Camera,
            TrackSource::ScreenShare => Self::ScreenShare,
            TrackSource::ScreenShareAudio => Self::ScreenShareAudio,
            TrackSource::Unknown => Self::Unknown,
        }
    }
}

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum UTDTrackKind {
    /// An audio track.
    Audio,
    /// A video track.
    Video,
    /// The media server did not say.
    Unknown,
}

impl From<TrackKind> for UTDTrackKind {
    fn from(kind: TrackKind) -> Self {
        match kind {
            TrackKind::Audio => Self::Audio,
            TrackKind::Video => Self::Video,
            TrackKind::Unknown => Self::Unknown,
        }
    }
}

/// A published track.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UTDTrack {
    /// The media server's id for the track (what `observeRemoteVideo` takes).
    pub sid: String,
    /// Where its media comes from.
    pub source: UTDTrackSource,
    /// Audio or video.
    pub kind: UTDTrackKind,
    /// Whether the publisher muted it.
    pub muted: bool,
    /// Whether this device receives it (remote tracks).
    pub subscribed: bool,
}

impl From<TrackInfo> for UTDTrack {
    fn from(track: TrackInfo) -> Self {
        Self {
            sid: track.sid,
            source: track.source.into(),
            kind: track.kind.into(),
            muted: track.muted,
            subscribed: track.subscribed,
        }
    }
}

/// What the server lets a participant do. Only the server changes it
/// (seat taken, stage invite); the SDK never grants itself anything.
#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record)]
pub struct UTDPermission {
    /// May publish tracks at all.
    pub can_publish: bool,
    /// May subscribe to other participants' tracks.
    pub can_subscribe: bool,
    /// May send data messages.
    pub can_publish_data: bool,
    /// The sources it may publish; empty means every source.
    pub can_publish_sources: Vec<UTDTrackSource>,
}

impl From<Permission> for UTDPermission {
    fn from(permission: Permission) -> Self {
        Self {
            can_publish: permission.can_publish,
            can_subscribe: permission.can_subscribe,
            can_publish_data: permission.can_publish_data,
            can_publish_sources: permission
                .can_publish_sources
                .into_iter()
                .map(UTDTrackSource::from)
                .collect(),
        }
    }
}

/// Another participant in the room.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UTDParticipant {
    /// The app's user identity.
    pub identity: String,
    /// The media server's session id (changes when they rejoin).
    pub sid: String,
    /// Display name, possibly empty.
    pub name: String,
    /// Whether the server currently lets them publish (seated, on stage).
    pub can_publish: bool,
    /// The tracks they publish now.
    pub tracks: Vec<UTDTrack>,
}

impl From<ParticipantInfo> for UTDParticipant {
    fn from(info: ParticipantInfo) -> Self {
        Self {
            identity: info.identity,
            sid: info.sid,
            name: info.name,
            can_publish: info.can_publish,
            tracks: info.tracks.into_iter().map(UTDTrack::from).collect(),
        }
    }
}

/// This device's participant in the room.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UTDLocalParticipant {
    /// The identity the room token was minted for.
    pub identity: String,
    /// What the server currently allows.
    pub permission: UTDPermission,
    /// The sources published now.
    pub published_sources: Vec<UTDTrackSource>,
}
