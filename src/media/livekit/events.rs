//! Mapping the `livekit` crate's types and room events to the transport's.

use livekit::prelude::{
    ConnectionQuality as LkQuality, Participant, RemoteParticipant, RoomEvent, TrackKind as LkKind,
    TrackSource as LkSource,
};

use livekit_protocol as proto;

use crate::media::DisconnectReason;
use crate::media::{
    ActiveSpeaker, ConnectionQuality, ParticipantInfo, Permission, TrackInfo, TrackKind,
    TrackSource, TransportEvent,
};

fn kind_from_lk(kind: LkKind) -> TrackKind {
    match kind {
        LkKind::Audio => TrackKind::Audio,
        LkKind::Video => TrackKind::Video,
    }
}

/// A publication as ours (`subscribed` for remote ones).
fn track_info(
    sid: String,
    source: LkSource,
    kind: LkKind,
    muted: bool,
    subscribed: bool,
) -> TrackInfo {
    TrackInfo {
        sid,
        source: source_from_lk(source),
        kind: kind_from_lk(kind),
        muted,
        subscribed,
    }
}

/// The crate's track source as ours.
pub(crate) fn source_from_lk(source: LkSource) -> TrackSource {
    match source {
        LkSource::Microphone => TrackSource::Microphone,
        LkSource::Camera => TrackSource::Camera,
        LkSource::Screenshare => TrackSource::ScreenShare,
        LkSource::ScreenshareAudio => TrackSource::ScreenShareAudio,
        LkSource::Unknown => TrackSource::Unknown,
    }
}

/// Our track source as the crate's.
pub(crate) fn source_to_lk(source: TrackSource) -> LkSource {
    match source {
        TrackSource::Microphone => LkSource::Microphone,
        TrackSource::Camera => LkSource::Camera,
        TrackSource::ScreenShare => LkSource::Screenshare,
        TrackSource::ScreenShareAudio => LkSource::ScreenshareAudio,
        TrackSource::Unknown => LkSource::Unknown,
    }
}

/// A remote participant as ours.
pub(crate) fn remote_info(participant: &RemoteParticipant) -> ParticipantInfo {
    let mut tracks: Vec<TrackInfo> = participant
        .track_publications()
        .values()
        .map(|p| {
            track_info(
                p.sid().to_string(),
                p.source(),
                p.kind(),
                p.is_muted(),
                p.is_subscribed(),
            )
        })
        .collect();
    tracks.sort_by(|a, b| a.sid.cmp(&b.sid));
    ParticipantInfo {
        identity: participant.identity().to_string(),
        sid: participant.sid().to_string(),
        name: participant.name(),
        can_publish: participant.permission().is_some_and(|p| p.can_publish),
        tracks,
    }
}

/// The permission a participant holds.
pub(crate) fn permission_of(participant: &Participant) -> Permission {
    let permission = match participant {
        Participant::Local(p) => p.permission(),
        Participant::Remote(p) => p.permission(),
    };
    permission_from_proto(permission.as_ref())
}

/// What a room event means for the layers above, before any side effects
/// (unpublishing revoked tracks) the transport takes on it.
pub(crate) fn map_event(event: &RoomEvent) -> Vec<TransportEvent> {
    match event {
        RoomEvent::ParticipantConnected(p) => {
            vec![TransportEvent::ParticipantJoined(remote_info(p))]
        }
        RoomEvent::ParticipantDisconnected(p) => vec![TransportEvent::ParticipantLeft {
            identity: p.identity().to_string(),
        }],
        RoomEvent::TrackPublished {
            publication,
            participant,
        } => vec![TransportEvent::TrackPublished {
            identity: participant.identity().to_string(),
            local: false,
            track: track_info(
                publication.sid().to_string(),
                publication.source(),
                publication.kind(),
                publication.is_muted(),
                false,
            ),
        }],
        RoomEvent::TrackUnpublished {
            publication,
            participant,
        } => vec![TransportEvent::TrackUnpublished {
            identity: participant.identity().to_string(),
            local: false,
            track: track_info(
                publication.sid().to_string(),
                publication.source(),
                publication.kind(),
                publication.is_muted(),
                false,
            ),
        }],
        RoomEvent::LocalTrackPublished {
            publication,
            participant,
            ..
        } => vec![TransportEvent::TrackPublished {
            identity: participant.identity().to_string(),
            local: true,
            track: track_info(
                publication.sid().to_string(),
                publication.source(),
                publication.kind(),
                publication.is_muted(),
                false,
            ),
        }],
        RoomEvent::TrackMuted { participant, .. }
        | RoomEvent::TrackUnmuted { participant, .. }
        | RoomEvent::ParticipantNameChanged { participant, .. } => match participant {
            Participant::Remote(p) => vec![TransportEvent::ParticipantUpdated(remote_info(p))],
            Participant::Local(_) => Vec::new(),
        },
        RoomEvent::ParticipantPermissionChanged { participant, .. } => match participant {
            Participant::Local(_) => vec![TransportEvent::PermissionChanged(permission_of(
                participant,
            ))],
            Participant::Remote(p) => vec![TransportEvent::ParticipantUpdated(remote_info(p))],
        },
        RoomEvent::ActiveSpeakersChanged { speakers } => {
            vec![TransportEvent::ActiveSpeakersChanged {
                speakers: speakers
                    .iter()
                    .map(|s| match s {
                        Participant::Local(p) => ActiveSpeaker {
                            identity: p.identity().to_string(),
                            level: Some(p.audio_level()),
                        },
                        Participant::Remote(p) => ActiveSpeaker {
                            identity: p.identity().to_string(),
                            level: Some(p.audio_level()),
                        },
                    })
                    .collect(),
            }]
        }
        RoomEvent::DataReceived {
            payload,
            topic,
            participant,
            ..
        } => vec![TransportEvent::DataReceived {
            from: participant.as_ref().map(|p| p.identity().to_string()),
            payload: payload.as_ref().clone(),
            topic: topic.clone(),
        }],
        RoomEvent::TrackSubscribed { participant, .. }
        | RoomEvent::TrackUnsubscribed { participant, .. } => {
            vec![TransportEvent::ParticipantUpdated(remote_info(participant))]
        }
        RoomEvent::ConnectionQualityChanged {
            quality,
            participant,
        } => vec![TransportEvent::ConnectionQualityChanged {
            identity: match participant {
                Participant::Local(p) => p.identity().to_string(),
                Participant::Remote(p) => p.identity().to_string(),
            },
            quality: match quality {
                LkQuality::Excellent => ConnectionQuality::Excellent,
                LkQuality::Good => ConnectionQuality::Good,
                LkQuality::Poor => ConnectionQuality::Poor,
                LkQuality::Lost => ConnectionQuality::Lost,
            },
        }],
        RoomEvent::Reconnecting => vec![TransportEvent::Reconnecting],
        RoomEvent::Reconnected => vec![TransportEvent::Reconnected],
        RoomEvent::Disconnected { reason } => vec![TransportEvent::Disconnected {
            reason: disconnect_reason_from_proto(*reason as i32),
        }],
        // LocalTrackUnpublished needs to know who asked for it; the transport
        // maps it. Everything else has no meaning for the sessions above.
        _ => Vec::new(),
    }
}

/// The server's permission message as ours. A missing message means the
/// server granted nothing.
fn permission_from_proto(permission: Option<&proto::ParticipantPermission>) -> Permission {
    let Some(p) = permission else {
        return Permission::default();
    };
    Permission {
        can_publish: p.can_publish,
        can_subscribe: p.can_subscribe,
        can_publish_data: p.can_publish_data,
        can_publish_sources: p
            .can_publish_sources
            .iter()
            .map(|s| match proto::TrackSource::try_from(*s) {
                Ok(proto::TrackSource::Camera) => TrackSource::Camera,
                Ok(proto::TrackSource::Microphone) => TrackSource::Microphone,
                Ok(proto::TrackSource::ScreenShare) => TrackSource::ScreenShare,
                Ok(proto::TrackSource::ScreenShareAudio) => TrackSource::ScreenShareAudio,
                _ => TrackSource::Unknown,
            })
            .collect(),
    }
}

/// The server's disconnect reason as ours.
fn disconnect_reason_from_proto(reason: i32) -> DisconnectReason {
    use proto::DisconnectReason as R;
    match R::try_from(reason) {
        Ok(R::ClientInitiated) => DisconnectReason::ClientInitiated,
        Ok(R::DuplicateIdentity) => DisconnectReason::DuplicateIdentity,
        Ok(R::ServerShutdown) => DisconnectReason::ServerShutdown,
        Ok(R::ParticipantRemoved) => DisconnectReason::ParticipantRemoved,
        Ok(R::RoomDeleted) => DisconnectReason::RoomDeleted,
        Ok(R::RoomClosed) => DisconnectReason::RoomClosed,
        Ok(R::JoinFailure) => DisconnectReason::JoinFailure,
        Ok(R::SignalClose | R::ConnectionTimeout | R::MediaFailure) => {
            DisconnectReason::ConnectionLost
        }
        Ok(other) => DisconnectReason::Other(other.as_str_name().to_ascii_lowercase()),
        Err(_) => DisconnectReason::Other(format!("reason {reason}")),
    }
}
