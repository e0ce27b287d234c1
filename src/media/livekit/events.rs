//! Mapping the `livekit` crate's types and room events to the transport's.

use livekit::prelude::{Participant, RemoteParticipant, RoomEvent, TrackSource as LkSource};

use crate::media::control_plane::convert::{disconnect_reason_from_proto, permission_from_proto};
use crate::media::{ParticipantInfo, Permission, TrackInfo, TrackSource, TransportEvent};

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
        .map(|p| TrackInfo {
            sid: p.sid().to_string(),
            source: source_from_lk(p.source()),
            muted: p.is_muted(),
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
            track: TrackInfo {
                sid: publication.sid().to_string(),
                source: source_from_lk(publication.source()),
                muted: publication.is_muted(),
            },
        }],
        RoomEvent::TrackUnpublished {
            publication,
            participant,
        } => vec![TransportEvent::TrackUnpublished {
            identity: participant.identity().to_string(),
            local: false,
            track: TrackInfo {
                sid: publication.sid().to_string(),
                source: source_from_lk(publication.source()),
                muted: publication.is_muted(),
            },
        }],
        RoomEvent::LocalTrackPublished {
            publication,
            participant,
            ..
        } => vec![TransportEvent::TrackPublished {
            identity: participant.identity().to_string(),
            local: true,
            track: TrackInfo {
                sid: publication.sid().to_string(),
                source: source_from_lk(publication.source()),
                muted: publication.is_muted(),
            },
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
                identities: speakers
                    .iter()
                    .map(|s| match s {
                        Participant::Local(p) => p.identity().to_string(),
                        Participant::Remote(p) => p.identity().to_string(),
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
