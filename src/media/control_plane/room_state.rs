//! The room as the control-plane transport sees it, and how each server
//! message changes it. Pure (no I/O) so every mapping is unit-tested.

use std::collections::HashMap;

use livekit_protocol as proto;

use super::convert::{participant_from_proto, permission_from_proto};
use crate::error::UTDStreamError;
use crate::media::{
    JoinedRoom, ParticipantInfo, Permission, TrackInfo, TrackSource, TransportEvent,
};

/// A remote participant plus the version of its last applied update.
#[derive(Debug, Clone)]
struct Remote {
    info: ParticipantInfo,
    version: u32,
}

/// Local and remote room state, keyed the way LiveKit clients key it: remote
/// participants by identity (a rejoin keeps the identity, gets a new sid).
#[derive(Debug, Clone)]
pub(crate) struct RoomState {
    pub(crate) local_identity: String,
    pub(crate) local_sid: String,
    local_version: u32,
    pub(crate) permission: Permission,
    remotes: HashMap<String, Remote>,
    /// Our tracks the SFU accepted, by source (one track per source).
    pub(crate) local_tracks: HashMap<TrackSource, TrackInfo>,
    /// Active speakers by sid with their audio level.
    speakers: HashMap<String, f32>,
}

impl RoomState {
    /// The state right after the server's JoinResponse, plus what `connect`
    /// returns.
    pub(crate) fn from_join(
        join: &proto::JoinResponse,
    ) -> Result<(Self, JoinedRoom), UTDStreamError> {
        let local = join.participant.as_ref().ok_or_else(|| {
            UTDStreamError::protocol("livekit-server's JoinResponse carried no local participant")
        })?;
        let permission = permission_from_proto(local.permission.as_ref());
        let mut state = Self {
            local_identity: local.identity.clone(),
            local_sid: local.sid.clone(),
            local_version: local.version,
            permission: permission.clone(),
            remotes: HashMap::new(),
            local_tracks: HashMap::new(),
            speakers: HashMap::new(),
        };
        for other in &join.other_participants {
            if other.state() != proto::participant_info::State::Disconnected {
                state.remotes.insert(
                    other.identity.clone(),
                    Remote {
                        info: participant_from_proto(other),
                        version: other.version,
                    },
                );
            }
        }
        let joined = JoinedRoom {
            room_name: join
                .room
                .as_ref()
                .map(|r| r.name.clone())
                .unwrap_or_default(),
            local_identity: state.local_identity.clone(),
            local_sid: state.local_sid.clone(),
            permission,
            remote_participants: state.remote_participants(),
        };
        Ok((state, joined))
    }

    /// Everyone else in the room, sorted by identity for stable output.
    pub(crate) fn remote_participants(&self) -> Vec<ParticipantInfo> {
        let mut all: Vec<ParticipantInfo> = self.remotes.values().map(|r| r.info.clone()).collect();
        all.sort_by(|a, b| a.identity.cmp(&b.identity));
        all
    }

    /// Applies one ParticipantUpdate and returns the events it means, in order.
    pub(crate) fn apply_update(&mut self, infos: &[proto::ParticipantInfo]) -> Vec<TransportEvent> {
        let mut events = Vec::new();
        for info in infos {
            if info.sid == self.local_sid || info.identity == self.local_identity {
                self.apply_local(info, &mut events);
            } else {
                self.apply_remote(info, &mut events);
            }
        }
        events
    }

    fn apply_local(&mut self, info: &proto::ParticipantInfo, events: &mut Vec<TransportEvent>) {
        // Updates for an older session of our identity, or stale versions,
        // must not roll the permission back.
        if info.sid != self.local_sid || (info.version != 0 && info.version < self.local_version) {
            return;
        }
        self.local_version = info.version.max(self.local_version);
        let permission = permission_from_proto(info.permission.as_ref());
        if permission == self.permission {
            return;
        }
        self.permission = permission.clone();
        events.push(TransportEvent::PermissionChanged(permission));
        // The SFU removes tracks whose source is no longer allowed; mirror
        // that for the tracks it accepted from us.
        let mut revoked: Vec<TrackSource> = self
            .local_tracks
            .keys()
            .copied()
            .filter(|s| !self.permission.allows_publishing(*s))
            .collect();
        revoked.sort_by_key(|s| *s as u8);
        for source in revoked {
            if let Some(track) = self.local_tracks.remove(&source) {
                self.push_local_removed(track, events);
            }
        }
    }

    /// The server said it unpublished our track `track_sid`.
    pub(crate) fn local_track_unpublished(&mut self, track_sid: &str) -> Vec<TransportEvent> {
        let mut events = Vec::new();
        let source = self
            .local_tracks
            .iter()
            .find(|(_, t)| t.sid == track_sid)
            .map(|(s, _)| *s);
        if let Some(track) = source.and_then(|s| self.local_tracks.remove(&s)) {
            self.push_local_removed(track, &mut events);
        }
        events
    }

    fn push_local_removed(&self, track: TrackInfo, events: &mut Vec<TransportEvent>) {
        events.push(TransportEvent::LocalTrackUnpublishedByServer {
            track: track.clone(),
        });
        events.push(TransportEvent::TrackUnpublished {
            identity: self.local_identity.clone(),
            local: true,
            track,
        });
    }

    fn apply_remote(&mut self, info: &proto::ParticipantInfo, events: &mut Vec<TransportEvent>) {
        let incoming = participant_from_proto(info);
        let gone = info.state() == proto::participant_info::State::Disconnected;
        let Some(known) = self.remotes.get_mut(&info.identity) else {
            if !gone {
                events.push(TransportEvent::ParticipantJoined(incoming.clone()));
                for track in &incoming.tracks {
                    events.push(TransportEvent::TrackPublished {
                        identity: incoming.identity.clone(),
                        local: false,
                        track: track.clone(),
                    });
                }
                self.remotes.insert(
                    info.identity.clone(),
                    Remote {
                        info: incoming,
                        version: info.version,
                    },
                );
            }
            return;
        };
        let same_session = known.info.sid == info.sid;
        if gone {
            // An old session of a participant that already rejoined leaving
            // does not mean the participant left.
            if same_session {
                let left = self.remotes.remove(&info.identity).map(|r| r.info);
                for track in left.into_iter().flat_map(|p| p.tracks) {
                    events.push(TransportEvent::TrackUnpublished {
                        identity: info.identity.clone(),
                        local: false,
                        track,
                    });
                }
                events.push(TransportEvent::ParticipantLeft {
                    identity: info.identity.clone(),
                });
            }
            return;
        }
        if same_session && info.version != 0 && info.version <= known.version {
            return;
        }
        known.version = info.version;
        for track in &known.info.tracks {
            if !incoming.tracks.iter().any(|t| t.sid == track.sid) {
                events.push(TransportEvent::TrackUnpublished {
                    identity: info.identity.clone(),
                    local: false,
                    track: track.clone(),
                });
            }
        }
        for track in &incoming.tracks {
            if !known.info.tracks.iter().any(|t| t.sid == track.sid) {
                events.push(TransportEvent::TrackPublished {
                    identity: info.identity.clone(),
                    local: false,
                    track: track.clone(),
                });
            }
        }
        if known.info != incoming {
            known.info = incoming.clone();
            events.push(TransportEvent::ParticipantUpdated(incoming));
        }
    }

    /// Applies a SpeakersChanged delta; returns the new speaker list when it
    /// changed who is speaking or their order.
    pub(crate) fn apply_speakers(
        &mut self,
        changes: &[proto::SpeakerInfo],
    ) -> Option<TransportEvent> {
        let before = self.speaker_identities();
        for change in changes {
            if change.active {
                self.speakers.insert(change.sid.clone(), change.level);
            } else {
                self.speakers.remove(&change.sid);
            }
        }
        let after = self.speaker_identities();
        (after != before).then_some(TransportEvent::ActiveSpeakersChanged { identities: after })
    }

    fn speaker_identities(&self) -> Vec<String> {
        let mut speaking: Vec<(&String, f32)> =
            self.speakers.iter().map(|(s, l)| (s, *l)).collect();
        speaking.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        speaking
            .into_iter()
            .filter_map(|(sid, _)| self.identity_of(sid))
            .collect()
    }

    fn identity_of(&self, sid: &str) -> Option<String> {
        if sid == self.local_sid {
            return Some(self.local_identity.clone());
        }
        self.remotes
            .values()
            .find(|r| r.info.sid == sid)
            .map(|r| r.info.identity.clone())
    }
}

#[cfg(test)]
#[path = "room_state_tests.rs"]
mod tests;
