//! Pure mappings between LiveKit's protocol types and the transport's types.

use livekit_protocol as proto;

use crate::error::{UTDErrorCode, UTDStreamError};
use crate::media::{DisconnectReason, ParticipantInfo, Permission, TrackInfo, TrackSource};
use livekit_signaling::SignalError;

/// A protocol track source as ours.
pub(crate) fn source_from_proto(source: i32) -> TrackSource {
    match proto::TrackSource::try_from(source) {
        Ok(proto::TrackSource::Microphone) => TrackSource::Microphone,
        Ok(proto::TrackSource::Camera) => TrackSource::Camera,
        Ok(proto::TrackSource::ScreenShare) => TrackSource::ScreenShare,
        Ok(proto::TrackSource::ScreenShareAudio) => TrackSource::ScreenShareAudio,
        Ok(proto::TrackSource::Unknown) | Err(_) => TrackSource::Unknown,
    }
}

/// Our track source as the protocol's.
pub(crate) fn source_to_proto(source: TrackSource) -> proto::TrackSource {
    match source {
        TrackSource::Microphone => proto::TrackSource::Microphone,
        TrackSource::Camera => proto::TrackSource::Camera,
        TrackSource::ScreenShare => proto::TrackSource::ScreenShare,
        TrackSource::ScreenShareAudio => proto::TrackSource::ScreenShareAudio,
        TrackSource::Unknown => proto::TrackSource::Unknown,
    }
}

/// The media kind LiveKit expects in an AddTrack for `source`.
pub(crate) fn track_type_for(source: TrackSource) -> proto::TrackType {
    match source {
        TrackSource::Camera | TrackSource::ScreenShare => proto::TrackType::Video,
        _ => proto::TrackType::Audio,
    }
}

/// The server's permission message as ours. A missing message means the
/// server granted nothing.
pub(crate) fn permission_from_proto(
    permission: Option<&proto::ParticipantPermission>,
) -> Permission {
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
            .map(|s| source_from_proto(*s))
            .collect(),
    }
}

/// A track as ours.
pub(crate) fn track_from_proto(track: &proto::TrackInfo) -> TrackInfo {
    TrackInfo {
        sid: track.sid.clone(),
        source: source_from_proto(track.source),
        muted: track.muted,
    }
}

/// A remote participant as ours.
pub(crate) fn participant_from_proto(info: &proto::ParticipantInfo) -> ParticipantInfo {
    ParticipantInfo {
        identity: info.identity.clone(),
        sid: info.sid.clone(),
        name: info.name.clone(),
        can_publish: info.permission.as_ref().is_some_and(|p| p.can_publish),
        tracks: info.tracks.iter().map(track_from_proto).collect(),
    }
}

/// The server's disconnect reason as ours.
pub(crate) fn disconnect_reason_from_proto(reason: i32) -> DisconnectReason {
    use proto::DisconnectReason as R;
    match R::try_from(reason) {
        Ok(R::ClientInitiated) => DisconnectReason::ClientInitiated,
        Ok(R::DuplicateIdentity) => DisconnectReason::DuplicateIdentity,
        Ok(R::ServerShutdown) => DisconnectReason::ServerShutdown,
        Ok(R::ParticipantRemoved) => DisconnectReason::ParticipantRemoved,
        Ok(R::RoomDeleted) => DisconnectReason::RoomDeleted,
        Ok(R::RoomClosed) => DisconnectReason::RoomClosed,
        Ok(R::JoinFailure) => DisconnectReason::JoinFailure,
        Ok(R::SignalClose) | Ok(R::ConnectionTimeout) => DisconnectReason::ConnectionLost,
        Ok(other) => DisconnectReason::Other(other.as_str_name().to_string()),
        Err(_) => DisconnectReason::Other(format!("unknown disconnect reason {reason}")),
    }
}

/// How the server answered an AddTrack it did not accept.
pub(crate) fn add_track_refusal(source: TrackSource, reason: i32, message: &str) -> UTDStreamError {
    use proto::request_response::Reason as R;
    let detail = if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    };
    match R::try_from(reason) {
        Ok(R::NotAllowed) => UTDStreamError::new(
            UTDErrorCode::Forbidden,
            format!("livekit-server refused to publish the {source} (NOT_ALLOWED){detail}"),
        ),
        Ok(R::UnsupportedType) => UTDStreamError::unsupported(format!(
            "livekit-server does not accept a {source} track (UNSUPPORTED_TYPE){detail}"
        )),
        Ok(R::LimitExceeded) => UTDStreamError::new(
            UTDErrorCode::Conflict,
            format!("livekit-server refused the {source} track: a limit was reached{detail}"),
        ),
        Ok(other) => UTDStreamError::protocol(format!(
            "livekit-server answered the {source} publish with {}{detail}",
            other.as_str_name()
        )),
        Err(_) => UTDStreamError::protocol(format!(
            "livekit-server answered the {source} publish with unknown reason {reason}{detail}"
        )),
    }
}

/// A failed join as the SDK's error.
pub(crate) fn join_error(error: &SignalError) -> UTDStreamError {
    match error {
        SignalError::UrlParse(why) => {
            UTDStreamError::invalid_argument(format!("invalid LiveKit URL: {why}"))
        }
        SignalError::TokenFormat => {
            UTDStreamError::invalid_argument("the access token contains invalid characters")
        }
        SignalError::Client(status, body) if matches!(status.as_u16(), 401 | 403) => {
            UTDStreamError::new(
                UTDErrorCode::Unauthenticated,
                format!(
                    "livekit-server rejected the access token ({status}): {}",
                    body.trim()
                ),
            )
        }
        SignalError::Client(status, body) => UTDStreamError::new(
            UTDErrorCode::InvalidArgument,
            format!(
                "livekit-server refused the join ({status}): {}",
                body.trim()
            ),
        ),
        SignalError::Server(status, body) => UTDStreamError::new(
            UTDErrorCode::Server,
            format!("livekit-server failed the join ({status}): {}", body.trim()),
        ),
        SignalError::Handshake { status } if matches!(status.as_u16(), 401 | 403) => {
            UTDStreamError::new(
                UTDErrorCode::Unauthenticated,
                format!("livekit-server rejected the access token ({status})"),
            )
        }
        // livekit-signaling has already asked /rtc/validate, which accepted
        // the token and room, so a 500 on the upgrade means the room itself
        // turned the participant away: livekit-server answers a join to a
        // room at max_participants exactly so (its Join error surfaces as 500).
        SignalError::Handshake { status } if status.as_u16() == 500 => UTDStreamError::new(
            UTDErrorCode::Conflict,
            "livekit-server refused to admit the participant to the room (HTTP 500 on the \
             signal upgrade after the token was validated): the room is full \
             (max_participants reached) or could not take the participant",
        ),
        SignalError::Handshake { status } => UTDStreamError::new(
            UTDErrorCode::Server,
            format!("livekit-server failed the signal upgrade ({status})"),
        ),
        SignalError::Timeout(what) => UTDStreamError::new(
            UTDErrorCode::Timeout,
            format!("joining the room timed out: {what}"),
        ),
        other => UTDStreamError::network(format!("could not join the room: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_maps_every_flag_and_source() {
        let p = proto::ParticipantPermission {
            can_publish: true,
            can_subscribe: true,
            can_publish_data: false,
            can_publish_sources: vec![
                proto::TrackSource::Microphone as i32,
                proto::TrackSource::Camera as i32,
                99,
            ],
            ..Default::default()
        };
        let mapped = permission_from_proto(Some(&p));
        assert!(mapped.can_publish && mapped.can_subscribe && !mapped.can_publish_data);
        assert_eq!(
            mapped.can_publish_sources,
            vec![
                TrackSource::Microphone,
                TrackSource::Camera,
                TrackSource::Unknown
            ]
        );
        assert_eq!(permission_from_proto(None), Permission::default());
    }

    #[test]
    fn sources_round_trip_and_pick_the_media_kind() {
        for s in [
            TrackSource::Microphone,
            TrackSource::Camera,
            TrackSource::ScreenShare,
            TrackSource::ScreenShareAudio,
            TrackSource::Unknown,
        ] {
            assert_eq!(source_from_proto(source_to_proto(s) as i32), s);
        }
        assert_eq!(track_type_for(TrackSource::Camera), proto::TrackType::Video);
        assert_eq!(
            track_type_for(TrackSource::Microphone),
            proto::TrackType::Audio
        );
    }

    #[test]
    fn not_allowed_is_forbidden_and_other_refusals_are_typed() {
        let e = add_track_refusal(
            TrackSource::Camera,
            proto::request_response::Reason::NotAllowed as i32,
            "",
        );
        assert_eq!(e.kind(), UTDErrorCode::Forbidden);
        assert!(e.message().contains("NOT_ALLOWED"));
        let e = add_track_refusal(
            TrackSource::Camera,
            proto::request_response::Reason::UnsupportedType as i32,
            "x",
        );
        assert_eq!(e.kind(), UTDErrorCode::Unsupported);
        let e = add_track_refusal(TrackSource::Camera, 1234, "");
        assert_eq!(e.kind(), UTDErrorCode::Protocol);
    }

    #[test]
    fn disconnect_reasons_map_including_unknown_values() {
        assert_eq!(
            disconnect_reason_from_proto(proto::DisconnectReason::JoinFailure as i32),
            DisconnectReason::JoinFailure
        );
        assert_eq!(
            disconnect_reason_from_proto(proto::DisconnectReason::ParticipantRemoved as i32),
            DisconnectReason::ParticipantRemoved
        );
        assert!(matches!(
            disconnect_reason_from_proto(4242),
            DisconnectReason::Other(text) if text.contains("4242")
        ));
    }

    #[test]
    fn join_failures_map_to_what_the_app_would_do() {
        assert_eq!(
            join_error(&SignalError::Closed).kind(),
            UTDErrorCode::Network
        );
        assert_eq!(
            join_error(&SignalError::Handshake {
                status: http_status(500)
            })
            .kind(),
            UTDErrorCode::Conflict
        );
        assert_eq!(
            join_error(&SignalError::Handshake {
                status: http_status(503)
            })
            .kind(),
            UTDErrorCode::Server
        );
        assert_eq!(
            join_error(&SignalError::Client(
                http_status(401),
                "invalid token".into()
            ))
            .kind(),
            UTDErrorCode::Unauthenticated
        );
        assert_eq!(
            join_error(&SignalError::Timeout("x".into())).kind(),
            UTDErrorCode::Timeout
        );
        assert_eq!(
            join_error(&SignalError::Connection("refused".into())).kind(),
            UTDErrorCode::Network
        );
    }

    fn http_status(code: u16) -> http::StatusCode {
        http::StatusCode::from_u16(code).expect("valid status")
    }
}
