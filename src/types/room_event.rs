//! The raw room event stream (the "firehose"), as the app sees it.

use crate::media::{ActiveSpeaker, ConnectionQuality};

/// A participant the media server counts as speaking.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct UTDActiveSpeaker {
    /// Who.
    pub identity: String,
    /// The audio level, 0.0 (silent) to 1.0 (full scale); null when it is
    /// not known (e.g. a speaker whose track this device does not receive).
    pub level: Option<f32>,
}

impl From<ActiveSpeaker> for UTDActiveSpeaker {
    fn from(speaker: ActiveSpeaker) -> Self {
        Self {
            identity: speaker.identity,
            level: speaker.level,
        }
    }
}
use crate::media::{DisconnectReason, TransportEvent};
use crate::types::{UTDParticipant, UTDPermission, UTDTrack};

/// How well a participant's connection carries media, as the media server
/// rates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum UTDConnectionQuality {
    /// No loss worth mentioning.
    Excellent,
    /// Some loss or jitter.
    Good,
    /// Heavy loss: media degrades.
    Poor,
    /// Nothing arrives.
    Lost,
}

impl From<ConnectionQuality> for UTDConnectionQuality {
    fn from(quality: ConnectionQuality) -> Self {
        match quality {
            ConnectionQuality::Excellent => Self::Excellent,
            ConnectionQuality::Good => Self::Good,
            ConnectionQuality::Poor => Self::Poor,
            ConnectionQuality::Lost => Self::Lost,
        }
    }
}

/// Why the media connection ended.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum UTDDisconnectReason {
    /// The app left (`leave()` / `dispose()`).
    ClientInitiated,
    /// The same identity joined the room from another device.
    DuplicateIdentity,
    /// The media server shut down.
    ServerShutdown,
    /// The server removed this participant.
    ParticipantRemoved,
    /// The room was deleted.
    RoomDeleted,
    /// The room closed because everyone left.
    RoomClosed,
    /// The media connection never came up (the media server gave up on it).
    JoinFailure,
    /// The connection was lost and could not be resumed.
    ConnectionLost,
    /// Anything else; `message` says what was reported.
    Other {
        /// What the server or transport reported.
        message: String,
    },
}

impl From<DisconnectReason> for UTDDisconnectReason {
    fn from(reason: DisconnectReason) -> Self {
        match reason {
            DisconnectReason::ClientInitiated => Self::ClientInitiated,
            DisconnectReason::DuplicateIdentity => Self::DuplicateIdentity,
            DisconnectReason::ServerShutdown => Self::ServerShutdown,
            DisconnectReason::ParticipantRemoved => Self::ParticipantRemoved,
            DisconnectReason::RoomDeleted => Self::RoomDeleted,
            DisconnectReason::RoomClosed => Self::RoomClosed,
            DisconnectReason::JoinFailure => Self::JoinFailure,
            DisconnectReason::ConnectionLost => Self::ConnectionLost,
            DisconnectReason::Other(message) => Self::Other { message },
        }
    }
}

/// Something that happened in the room. A room's events never mention
/// another room's participants.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum UTDRoomEvent {
    /// A participant entered the room.
    ParticipantJoined {
        /// Who joined.
        participant: UTDParticipant,
    },
    /// A participant left the room.
    ParticipantLeft {
        /// Who left.
        identity: String,
    },
    /// A participant's name, permission or tracks changed.
    ParticipantUpdated {
        /// The participant as it is now.
        participant: UTDParticipant,
    },
    /// The server changed what THIS participant may do.
    PermissionChanged {
        /// The new permission.
        permission: UTDPermission,
    },
    /// A track was published (`local` for this device's own tracks).
    TrackPublished {
        /// The publisher.
        identity: String,
        /// Whether it is this device's track.
        local: bool,
        /// The track.
        track: UTDTrack,
    },
    /// A track was unpublished (`local` for this device's own tracks).
    TrackUnpublished {
        /// The publisher.
        identity: String,
        /// Whether it was this device's track.
        local: bool,
        /// The track.
        track: UTDTrack,
    },
    /// The server took one of this device's tracks away (publish revoked).
    LocalTrackUnpublishedByServer {
        /// The removed track.
        track: UTDTrack,
    },
    /// Who is speaking now, loudest first (empty when nobody is).
    ActiveSpeakersChanged {
        /// The speakers, with their levels where the media server reports them.
        speakers: Vec<UTDActiveSpeaker>,
    },
    /// The media server's rating of a participant's connection changed
    /// (this device's own too).
    ConnectionQualityChanged {
        /// Whose connection.
        identity: String,
        /// How well it carries media now.
        quality: UTDConnectionQuality,
    },
    /// A data message arrived.
    DataReceived {
        /// The sender, null when the server sent it.
        from: Option<String>,
        /// The bytes.
        payload: Vec<u8>,
        /// The sender's topic, if any.
        topic: Option<String>,
    },
    /// The media connection dropped; the SDK is resuming it.
    Reconnecting,
    /// The media connection was resumed.
    Reconnected,
    /// The media connection ended for good.
    Disconnected {
        /// Why.
        reason: UTDDisconnectReason,
    },
}

impl From<TransportEvent> for UTDRoomEvent {
    fn from(event: TransportEvent) -> Self {
        match event {
            TransportEvent::ParticipantJoined(info) => Self::ParticipantJoined {
                participant: info.into(),
            },
            TransportEvent::ParticipantLeft { identity } => Self::ParticipantLeft { identity },
            TransportEvent::ParticipantUpdated(info) => Self::ParticipantUpdated {
                participant: info.into(),
            },
            TransportEvent::PermissionChanged(permission) => Self::PermissionChanged {
                permission: permission.into(),
            },
            TransportEvent::TrackPublished {
                identity,
                local,
                track,
            } => Self::TrackPublished {
                identity,
                local,
                track: track.into(),
            },
            TransportEvent::TrackUnpublished {
                identity,
                local,
                track,
            } => Self::TrackUnpublished {
                identity,
                local,
                track: track.into(),
            },
            TransportEvent::LocalTrackUnpublishedByServer { track } => {
                Self::LocalTrackUnpublishedByServer {
                    track: track.into(),
                }
            }
            TransportEvent::ActiveSpeakersChanged { speakers } => Self::ActiveSpeakersChanged {
                speakers: speakers.into_iter().map(UTDActiveSpeaker::from).collect(),
            },
            TransportEvent::ConnectionQualityChanged { identity, quality } => {
                Self::ConnectionQualityChanged {
                    identity,
                    quality: quality.into(),
                }
            }
            TransportEvent::DataReceived {
                from,
                payload,
                topic,
            } => Self::DataReceived {
                from,
                payload,
                topic,
            },
            TransportEvent::Reconnecting => Self::Reconnecting,
            TransportEvent::Reconnected => Self::Reconnected,
            TransportEvent::Disconnected { reason } => Self::Disconnected {
                reason: reason.into(),
            },
        }
    }
}
