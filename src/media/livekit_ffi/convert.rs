//! LiveKit FFI protocol values ↔ the transport's own types, and the library's
//! error strings → typed errors.

use super::proto;
use crate::error::{UTDErrorCode, UTDStreamError};
use crate::media::{
    ConnectionQuality, DisconnectReason, ParticipantInfo, Permission, TrackInfo, TrackKind,
    TrackSource,
};

pub(crate) fn source_from_proto(source: i32) -> TrackSource {
    match proto::TrackSource::try_from(source) {
        Ok(proto::TrackSource::SourceCamera) => TrackSource::Camera,
        Ok(proto::TrackSource::SourceMicrophone) => TrackSource::Microphone,
        Ok(proto::TrackSource::SourceScreenshare) => TrackSource::ScreenShare,
        Ok(proto::TrackSource::SourceScreenshareAudio) => TrackSource::ScreenShareAudio,
        _ => TrackSource::Unknown,
    }
}

pub(crate) fn source_to_proto(source: TrackSource) -> proto::TrackSource {
    match source {
        TrackSource::Camera => proto::TrackSource::SourceCamera,
        TrackSource::Microphone => proto::TrackSource::SourceMicrophone,
        TrackSource::ScreenShare => proto::TrackSource::SourceScreenshare,
        TrackSource::ScreenShareAudio => proto::TrackSource::SourceScreenshareAudio,
        TrackSource::Unknown => proto::TrackSource::SourceUnknown,
    }
}

pub(crate) fn kind_from_proto(kind: i32) -> TrackKind {
    match proto::TrackKind::try_from(kind) {
        Ok(proto::TrackKind::KindAudio) => TrackKind::Audio,
        Ok(proto::TrackKind::KindVideo) => TrackKind::Video,
        _ => TrackKind::Unknown,
    }
}

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

/// A remote publication as the transport reports it (not yet subscribed).
pub(crate) fn track_from_publication(info: &proto::TrackPublicationInfo) -> TrackInfo {
    TrackInfo {
        sid: info.sid.clone(),
        source: source_from_proto(info.source),
        kind: kind_from_proto(info.kind),
        muted: info.muted,
        subscribed: false,
    }
}

pub(crate) fn participant_from_proto(info: &proto::ParticipantInfo) -> ParticipantInfo {
    ParticipantInfo {
        identity: info.identity.clone(),
        sid: info.sid.clone(),
        name: info.name.clone(),
        can_publish: info.permission.as_ref().is_some_and(|p| p.can_publish),
        tracks: Vec::new(),
    }
}

pub(crate) fn quality_from_proto(quality: i32) -> ConnectionQuality {
    match proto::ConnectionQuality::try_from(quality) {
        Ok(proto::ConnectionQuality::QualityExcellent) => ConnectionQuality::Excellent,
        Ok(proto::ConnectionQuality::QualityGood) => ConnectionQuality::Good,
        Ok(proto::ConnectionQuality::QualityPoor) => ConnectionQuality::Poor,
        _ => ConnectionQuality::Lost,
    }
}

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
        Ok(R::SignalClose | R::ConnectionTimeout | R::MediaFailure) => {
            DisconnectReason::ConnectionLost
        }
        Ok(other) => DisconnectReason::Other(other.as_str_name().to_ascii_lowercase()),
        Err(_) => DisconnectReason::Other(format!("reason {reason}")),
    }
}

/// The join failure, typed by what the library's message says: a refused
/// token, a full room (livekit-server answers the WebSocket upgrade of a
/// full room with HTTP 500), or an unreachable server.
pub(crate) fn connect_error(message: &str) -> UTDStreamError {
    let lower = message.to_ascii_lowercase();
    let code = if lower.contains("401")
        || lower.contains("unauthorized")
        || lower.contains("invalid token")
        || lower.contains("token is expired")
    {
        UTDErrorCode::Unauthenticated
    } else if lower.contains("full") || lower.contains("500") {
        UTDErrorCode::Conflict
    } else if lower.contains("timed out") || lower.contains("timeout") {
        UTDErrorCode::Timeout
    } else {
        UTDErrorCode::Network
    };
    UTDStreamError::new(code, format!("could not join the room: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_round_trip_and_unknown_values_stay_unknown() {
        for source in [
            TrackSource::Camera,
            TrackSource::Microphone,
            TrackSource::ScreenShare,
            TrackSource::ScreenShareAudio,
        ] {
            assert_eq!(source_from_proto(source_to_proto(source) as i32), source);
        }
        assert_eq!(source_from_proto(99), TrackSource::Unknown);
    }

    #[test]
    fn join_failures_are_typed_by_what_refused_them() {
        assert_eq!(
            connect_error("engine: signal failure: ws failure: HTTP error: 401 Unauthorized")
                .kind(),
            UTDErrorCode::Unauthenticated
        );
        assert_eq!(
            connect_error("ws failure: HTTP error: 500 Internal Server Error").kind(),
            UTDErrorCode::Conflict
        );
        assert_eq!(
            connect_error("ws failure: IO error: Connection refused (os error 111)").kind(),
            UTDErrorCode::Network
        );
    }

    #[test]
    fn lost_connections_and_unknown_reasons_are_named() {
        assert_eq!(
            disconnect_reason_from_proto(proto::DisconnectReason::SignalClose as i32),
            DisconnectReason::ConnectionLost
        );
        assert_eq!(
            disconnect_reason_from_proto(proto::DisconnectReason::Migration as i32),
            DisconnectReason::Other("migration".into())
        );
        assert_eq!(
            disconnect_reason_from_proto(1234),
            DisconnectReason::Other("reason 1234".into())
        );
    }
}
