use super::*;
use livekit_protocol as proto;

fn permission(can_publish: bool, sources: &[proto::TrackSource]) -> proto::ParticipantPermission {
    proto::ParticipantPermission {
        can_publish,
        can_subscribe: true,
        can_publish_data: true,
        can_publish_sources: sources.iter().map(|s| *s as i32).collect(),
        ..Default::default()
    }
}

fn info(identity: &str, sid: &str, version: u32) -> proto::ParticipantInfo {
    proto::ParticipantInfo {
        identity: identity.into(),
        sid: sid.into(),
        version,
        state: proto::participant_info::State::Joined as i32,
        permission: Some(permission(false, &[])),
        ..Default::default()
    }
}

fn track(sid: &str, source: proto::TrackSource) -> proto::TrackInfo {
    proto::TrackInfo {
        sid: sid.into(),
        source: source as i32,
        ..Default::default()
    }
}

fn joined() -> RoomState {
    let join = proto::JoinResponse {
        room: Some(proto::Room {
            name: "room-a".into(),
            ..Default::default()
        }),
        participant: Some(info("me", "PA_me", 1)),
        other_participants: vec![info("bob", "PA_bob", 1)],
        ..Default::default()
    };
    let (state, joined) = RoomState::from_join(&join).expect("join");
    assert_eq!(joined.room_name, "room-a");
    assert_eq!(joined.local_identity, "me");
    assert!(!joined.permission.can_publish);
    assert_eq!(joined.remote_participants.len(), 1);
    state
}

#[test]
fn join_without_local_participant_is_a_protocol_error() {
    let err = RoomState::from_join(&proto::JoinResponse::default()).unwrap_err();
    assert_eq!(err.kind(), crate::error::UTDErrorCode::Protocol);
}

#[test]
fn remote_join_tracks_and_leave_become_events_in_order() {
    let mut state = joined();
    let mut carol = info("carol", "PA_carol", 1);
    carol.tracks = vec![track("TR_mic", proto::TrackSource::Microphone)];
    let events = state.apply_update(&[carol.clone()]);
    assert!(matches!(&events[0], TransportEvent::ParticipantJoined(p) if p.identity == "carol"));
    assert!(
        matches!(&events[1], TransportEvent::TrackPublished { identity, local: false, track }
        if identity == "carol" && track.source == TrackSource::Microphone)
    );

    // A stale (same version) update changes nothing.
    assert!(state.apply_update(&[carol.clone()]).is_empty());

    carol.version = 2;
    carol.tracks = vec![track("TR_cam", proto::TrackSource::Camera)];
    let events = state.apply_update(&[carol.clone()]);
    assert!(
        matches!(&events[0], TransportEvent::TrackUnpublished { track, .. } if track.sid == "TR_mic")
    );
    assert!(
        matches!(&events[1], TransportEvent::TrackPublished { track, .. } if track.sid == "TR_cam")
    );
    assert!(matches!(&events[2], TransportEvent::ParticipantUpdated(p) if p.tracks.len() == 1));

    carol.version = 3;
    carol.state = proto::participant_info::State::Disconnected as i32;
    let events = state.apply_update(&[carol]);
    assert!(
        matches!(&events[0], TransportEvent::TrackUnpublished { track, .. } if track.sid == "TR_cam")
    );
    assert_eq!(
        events[1],
        TransportEvent::ParticipantLeft {
            identity: "carol".into()
        }
    );
    assert_eq!(state.remote_participants().len(), 1);
}

#[test]
fn an_old_session_leaving_after_a_rejoin_does_not_remove_the_participant() {
    let mut state = joined();
    let rejoined = info("bob", "PA_bob2", 1);
    let events = state.apply_update(&[rejoined]);
    assert!(matches!(&events[..], [TransportEvent::ParticipantUpdated(p)] if p.sid == "PA_bob2"));
    let mut old = info("bob", "PA_bob", 5);
    old.state = proto::participant_info::State::Disconnected as i32;
    assert!(state.apply_update(&[old]).is_empty());
    assert_eq!(state.remote_participants()[0].sid, "PA_bob2");
}

#[test]
fn local_permission_changes_emit_events_and_revoke_disallowed_tracks() {
    let mut state = joined();
    let mut me = info("me", "PA_me", 2);
    me.permission = Some(permission(true, &[proto::TrackSource::Microphone]));
    let events = state.apply_update(&[me.clone()]);
    assert!(matches!(&events[..], [TransportEvent::PermissionChanged(p)]
        if p.can_publish && p.can_publish_sources == vec![TrackSource::Microphone]));

    state.local_tracks.insert(
        TrackSource::Microphone,
        TrackInfo {
            sid: "TR_local".into(),
            source: TrackSource::Microphone,
            muted: false,
        },
    );
    // An older version must not roll the grant back.
    let mut stale = info("me", "PA_me", 1);
    stale.permission = Some(permission(false, &[]));
    assert!(state.apply_update(&[stale]).is_empty());

    me.version = 3;
    me.permission = Some(permission(false, &[]));
    let events = state.apply_update(&[me]);
    assert!(matches!(&events[0], TransportEvent::PermissionChanged(p) if !p.can_publish));
    assert!(
        matches!(&events[1], TransportEvent::LocalTrackUnpublishedByServer { track } if track.sid == "TR_local")
    );
    assert!(
        matches!(&events[2], TransportEvent::TrackUnpublished { local: true, identity, .. } if identity == "me")
    );
    assert!(state.local_tracks.is_empty());
}

#[test]
fn server_unpublish_of_a_local_track_is_reported_once() {
    let mut state = joined();
    state.local_tracks.insert(
        TrackSource::Camera,
        TrackInfo {
            sid: "TR_cam".into(),
            source: TrackSource::Camera,
            muted: false,
        },
    );
    assert_eq!(state.local_track_unpublished("TR_cam").len(), 2);
    assert!(state.local_track_unpublished("TR_cam").is_empty());
}

#[test]
fn speaker_deltas_become_a_loudest_first_identity_list() {
    let mut state = joined();
    let speak = |sid: &str, level: f32, active: bool| proto::SpeakerInfo {
        sid: sid.into(),
        level,
        active,
    };
    let event = state.apply_speakers(&[speak("PA_bob", 0.2, true), speak("PA_me", 0.9, true)]);
    assert_eq!(
        event,
        Some(TransportEvent::ActiveSpeakersChanged {
            identities: vec!["me".into(), "bob".into()]
        })
    );
    assert_eq!(state.apply_speakers(&[speak("PA_me", 0.9, true)]), None);
    let event = state.apply_speakers(&[speak("PA_me", 0.0, false)]);
    assert_eq!(
        event,
        Some(TransportEvent::ActiveSpeakersChanged {
            identities: vec!["bob".into()]
        })
    );
}
