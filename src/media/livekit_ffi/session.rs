//! One joined room over the FFI library: the handles it owns, the room state
//! it mirrors, and the translation of the library's room events.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{broadcast, mpsc};

use super::convert::{
    disconnect_reason_from_proto, participant_from_proto, permission_from_proto,
    quality_from_proto, track_from_publication,
};
use super::library::FfiClient;
use super::proto;
use crate::media::{
    ActiveSpeaker, ParticipantInfo, Permission, TrackInfo, TrackSource, TransportEvent,
};

/// A handle the library gave us, released when dropped.
pub(crate) struct OwnedHandle {
    client: Arc<FfiClient>,
    id: u64,
}

impl OwnedHandle {
    pub(crate) fn new(client: &Arc<FfiClient>, handle: &proto::FfiOwnedHandle) -> Self {
        Self {
            client: client.clone(),
            id: handle.id,
        }
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for OwnedHandle {
    fn drop(&mut self) {
        self.client.drop_handle(self.id);
    }
}

/// A remote participant and the handles of what it publishes.
struct Remote {
    handle: OwnedHandle,
    info: ParticipantInfo,
    /// Publication handles, by track sid (kept so the library keeps them).
    publications: HashMap<String, OwnedHandle>,
    /// Subscribed track handles, by track sid (what a video stream opens).
    subscribed: HashMap<String, OwnedHandle>,
}

impl Remote {
    fn track_mut(&mut self, sid: &str) -> Option<&mut TrackInfo> {
        self.info.tracks.iter_mut().find(|t| t.sid == sid)
    }
}

/// A track we publish.
pub(crate) struct LocalTrack {
    pub(crate) sid: String,
    pub(crate) source: TrackSource,
    pub(crate) track: OwnedHandle,
    pub(crate) muted: bool,
}

#[derive(Default)]
struct State {
    permission: Permission,
    remotes: HashMap<String, Remote>,
    local: HashMap<TrackSource, LocalTrack>,
    /// Local track sids whose `TrackUnpublished` was already reported (our
    /// own unpublish, or a revoke seen in a permission update), so the
    /// library's later `LocalTrackUnpublished` is not reported twice.
    reported_gone: HashSet<String>,
}

/// A joined room.
pub(crate) struct Session {
    pub(crate) client: Arc<FfiClient>,
    pub(crate) room: OwnedHandle,
    pub(crate) local_participant: OwnedHandle,
    pub(crate) local_identity: String,
    state: Mutex<State>,
    /// Serialises publish / unpublish.
    pub(crate) publish_lock: tokio::sync::Mutex<()>,
}

impl Session {
    /// The session for a successful connect callback.
    pub(crate) fn from_connect(
        client: &Arc<FfiClient>,
        result: proto::connect_callback::Result,
    ) -> (Arc<Self>, String) {
        let room_name = result.room.info.name.clone();
        let local = result.local_participant;
        let local_info = local.info;
        let mut state = State {
            permission: permission_from_proto(local_info.permission.as_ref()),
            ..State::default()
        };
        for p in result.participants {
            let owned = p.participant;
            let info = owned.info;
            let mut remote = Remote {
                handle: OwnedHandle::new(client, &owned.handle),
                info: participant_from_proto(&info),
                publications: HashMap::new(),
                subscribed: HashMap::new(),
            };
            for publication in p.publications {
                let info = publication.info;
                remote.info.tracks.push(track_from_publication(&info));
                remote.publications.insert(
                    info.sid.clone(),
                    OwnedHandle::new(client, &publication.handle),
                );
            }
            state.remotes.insert(remote.info.identity.clone(), remote);
        }
        let session = Arc::new(Self {
            client: client.clone(),
            room: OwnedHandle::new(client, &result.room.handle),
            local_participant: OwnedHandle::new(client, &local.handle),
            local_identity: local_info.identity,
            state: Mutex::new(state),
            publish_lock: tokio::sync::Mutex::new(()),
        });
        (session, room_name)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn permission(&self) -> Permission {
        self.state().permission.clone()
    }

    pub(crate) fn remote_participants(&self) -> Vec<ParticipantInfo> {
        self.state()
            .remotes
            .values()
            .map(|r| r.info.clone())
            .collect()
    }

    pub(crate) fn published_sources(&self) -> Vec<TrackSource> {
        self.state().local.keys().copied().collect()
    }

    pub(crate) fn local_track(&self, source: TrackSource) -> Option<(String, u64, bool)> {
        self.state()
            .local
            .get(&source)
            .map(|t| (t.sid.clone(), t.track.id(), t.muted))
    }

    pub(crate) fn add_local(&self, track: LocalTrack) {
        self.state().local.insert(track.source, track);
    }

    pub(crate) fn set_local_muted(&self, source: TrackSource, muted: bool) {
        if let Some(t) = self.state().local.get_mut(&source) {
            t.muted = muted;
        }
    }

    /// Forgets our track of `source` before we unpublish it; returns the
    /// event to report once the library confirmed.
    pub(crate) fn begin_unpublish(&self, source: TrackSource) -> Option<(String, TransportEvent)> {
        let mut state = self.state();
        let track = state.local.remove(&source)?;
        state.reported_gone.insert(track.sid.clone());
        let event = TransportEvent::TrackUnpublished {
            identity: self.local_identity.clone(),
            local: true,
            track: local_info(&track),
        };
        Some((track.sid, event))
    }

    /// The participant handle of `identity`, for streams that follow it.
    pub(crate) fn participant_handle(&self, identity: &str) -> Option<u64> {
        self.state().remotes.get(identity).map(|r| r.handle.id())
    }

    /// The subscribed track handle of remote track `sid` and its source.
    pub(crate) fn subscribed_track(&self, sid: &str) -> Option<(u64, TrackSource)> {
        let state = self.state();
        state.remotes.values().find_map(|r| {
            let handle = r.subscribed.get(sid)?;
            let source = r.info.tracks.iter().find(|t| t.sid == sid)?.source;
            Some((handle.id(), source))
        })
    }

    /// The track handle of `identity`'s microphone: ours when it is us,
    /// else the subscribed remote one.
    pub(crate) fn microphone_track(&self, identity: &str) -> Option<u64> {
        let state = self.state();
        if identity == self.local_identity {
            return state
                .local
                .get(&TrackSource::Microphone)
                .map(|t| t.track.id());
        }
        let remote = state.remotes.get(identity)?;
        let sid = &remote
            .info
            .tracks
            .iter()
            .find(|t| t.source == TrackSource::Microphone)?
            .sid;
        remote.subscribed.get(sid).map(OwnedHandle::id)
    }

    /// Whether any remote participant publishes track `sid`.
    pub(crate) fn has_remote_track(&self, sid: &str) -> bool {
        self.state()
            .remotes
            .values()
            .any(|r| r.info.tracks.iter().any(|t| t.sid == sid))
    }

    /// Applies one room event and returns what the transport reports. Tracks
    /// the permission no longer allows are returned too, for the transport to
    /// unpublish (the SFU removes them as well).
    pub(crate) fn apply(&self, event: proto::room_event::Message) -> Applied {
        use proto::room_event::Message as M;
        let mut out = Applied::default();
        let mut state = self.state();
        match event {
            M::ParticipantConnected(connected) => {
                let owned = connected.info;
                let info = participant_from_proto(&owned.info);
                out.events
                    .push(TransportEvent::ParticipantJoined(info.clone()));
                state.remotes.insert(
                    info.identity.clone(),
                    Remote {
                        handle: OwnedHandle::new(&self.client, &owned.handle),
                        info,
                        publications: HashMap::new(),
                        subscribed: HashMap::new(),
                    },
                );
            }
            M::ParticipantDisconnected(left)
                if state.remotes.remove(&left.participant_identity).is_some() =>
            {
                out.events.push(TransportEvent::ParticipantLeft {
                    identity: left.participant_identity,
                });
            }
            M::TrackPublished(published) => {
                let publication = published.publication;
                let track = track_from_publication(&publication.info);
                if let Some(remote) = state.remotes.get_mut(&published.participant_identity) {
                    remote.info.tracks.retain(|t| t.sid != track.sid);
                    remote.info.tracks.push(track.clone());
                    remote.publications.insert(
                        track.sid.clone(),
                        OwnedHandle::new(&self.client, &publication.handle),
                    );
                    out.events.push(TransportEvent::TrackPublished {
                        identity: published.participant_identity,
                        local: false,
                        track,
                    });
                }
            }
            M::TrackUnpublished(unpublished) => {
                if let Some(remote) = state.remotes.get_mut(&unpublished.participant_identity) {
                    remote.publications.remove(&unpublished.publication_sid);
                    remote.subscribed.remove(&unpublished.publication_sid);
                    let position = remote
                        .info
                        .tracks
                        .iter()
                        .position(|t| t.sid == unpublished.publication_sid);
                    if let Some(track) = position.map(|i| remote.info.tracks.remove(i)) {
                        out.events.push(TransportEvent::TrackUnpublished {
                            identity: unpublished.participant_identity,
                            local: false,
                            track,
                        });
                    }
                }
            }
            M::TrackSubscribed(subscribed) => {
                let owned = subscribed.track;
                let sid = owned.info.sid.clone();
                let handle = OwnedHandle::new(&self.client, &owned.handle);
                if let Some(remote) = state.remotes.get_mut(&subscribed.participant_identity) {
                    remote.subscribed.insert(sid.clone(), handle);
                    if let Some(track) = remote.track_mut(&sid) {
                        track.subscribed = true;
                    }
                    out.events
                        .push(TransportEvent::ParticipantUpdated(remote.info.clone()));
                }
            }
            M::TrackUnsubscribed(unsubscribed) => {
                if let Some(remote) = state.remotes.get_mut(&unsubscribed.participant_identity) {
                    remote.subscribed.remove(&unsubscribed.track_sid);
                    if let Some(track) = remote.track_mut(&unsubscribed.track_sid) {
                        track.subscribed = false;
                    }
                    out.events
                        .push(TransportEvent::ParticipantUpdated(remote.info.clone()));
                }
            }
            M::TrackMuted(m) => self.set_muted(
                &mut state,
                &m.participant_identity,
                &m.track_sid,
                true,
                &mut out,
            ),
            M::TrackUnmuted(m) => self.set_muted(
                &mut state,
                &m.participant_identity,
                &m.track_sid,
                false,
                &mut out,
            ),
            // `publish` reports our own tracks once the library confirmed
            // them (this event may come before the confirmation).
            M::LocalTrackPublished(_) => {}
            M::LocalTrackUnpublished(unpublished) => {
                let sid = unpublished.publication_sid;
                // Already reported (our own unpublish, or a revoke we saw).
                if state.reported_gone.remove(&sid) {
                    return out;
                }
                let source = state
                    .local
                    .values()
                    .find(|t| t.sid == sid)
                    .map(|t| t.source);
                if let Some(track) = source.and_then(|s| state.local.remove(&s)) {
                    self.report_taken_back(&track, &mut out);
                }
            }
            M::ParticipantPermissionChanged(changed) => {
                let permission = permission_from_proto(changed.permission.as_ref());
                if changed.participant_identity == self.local_identity {
                    state.permission = permission.clone();
                    out.events
                        .push(TransportEvent::PermissionChanged(permission.clone()));
                    // The SFU unpublishes what is no longer allowed; report it
                    // now and let the transport ask for it too (whoever is
                    // first wins; the other's "not found" is expected).
                    let revoked: Vec<TrackSource> = state
                        .local
                        .keys()
                        .copied()
                        .filter(|s| !permission.allows_publishing(*s))
                        .collect();
                    for source in revoked {
                        if let Some(track) = state.local.remove(&source) {
                            state.reported_gone.insert(track.sid.clone());
                            out.revoked.push(track.sid.clone());
                            self.report_taken_back(&track, &mut out);
                        }
                    }
                } else if let Some(remote) = state.remotes.get_mut(&changed.participant_identity) {
                    remote.info.can_publish = permission.can_publish;
                    out.events
                        .push(TransportEvent::ParticipantUpdated(remote.info.clone()));
                }
            }
            M::ParticipantNameChanged(changed) => {
                if let Some(remote) = state.remotes.get_mut(&changed.participant_identity) {
                    remote.info.name = changed.name;
                    out.events
                        .push(TransportEvent::ParticipantUpdated(remote.info.clone()));
                }
            }
            M::ActiveSpeakersChanged(speakers) => {
                // The library names speakers without levels; `follow_room`
                // fills them in from the tracks' statistics.
                out.events.push(TransportEvent::ActiveSpeakersChanged {
                    speakers: speakers
                        .participant_identities
                        .into_iter()
                        .map(|identity| ActiveSpeaker {
                            identity,
                            level: None,
                        })
                        .collect(),
                });
            }
            M::ConnectionQualityChanged(changed) => {
                out.events.push(TransportEvent::ConnectionQualityChanged {
                    identity: changed.participant_identity,
                    quality: quality_from_proto(changed.quality),
                });
            }
            M::DataPacketReceived(packet) => {
                if let Some(proto::data_packet_received::Value::User(user)) = packet.value {
                    let buffer = user.data;
                    let _release = OwnedHandle::new(&self.client, &buffer.handle);
                    let payload = copy_bytes(&buffer.data);
                    out.events.push(TransportEvent::DataReceived {
                        from: Some(packet.participant_identity).filter(|i| !i.is_empty()),
                        payload,
                        topic: user.topic.filter(|t| !t.is_empty()),
                    });
                }
            }
            M::Reconnecting(_) => out.events.push(TransportEvent::Reconnecting),
            M::Reconnected(_) => out.events.push(TransportEvent::Reconnected),
            M::Disconnected(disconnected) => {
                out.events.push(TransportEvent::Disconnected {
                    reason: disconnect_reason_from_proto(disconnected.reason),
                });
                out.ended = true;
            }
            M::Eos(_) => out.ended = true,
            _ => {}
        }
        out
    }

    /// Reports one of our tracks as removed by the server.
    fn report_taken_back(&self, track: &LocalTrack, out: &mut Applied) {
        let track = local_info(track);
        out.events
            .push(TransportEvent::LocalTrackUnpublishedByServer {
                track: track.clone(),
            });
        out.events.push(TransportEvent::TrackUnpublished {
            identity: self.local_identity.clone(),
            local: true,
            track,
        });
    }

    fn set_muted(
        &self,
        state: &mut State,
        identity: &str,
        sid: &str,
        muted: bool,
        out: &mut Applied,
    ) {
        if identity == self.local_identity {
            return;
        }
        if let Some(remote) = state.remotes.get_mut(identity) {
            if let Some(track) = remote.track_mut(sid) {
                track.muted = muted;
                out.events
                    .push(TransportEvent::ParticipantUpdated(remote.info.clone()));
            }
        }
    }
}

fn local_info(track: &LocalTrack) -> TrackInfo {
    TrackInfo {
        muted: track.muted,
        ..TrackInfo::local(track.sid.clone(), track.source)
    }
}

fn copy_bytes(info: &proto::BufferInfo) -> Vec<u8> {
    if info.data_ptr == 0 || info.data_len == 0 {
        return Vec::new();
    }
    // SAFETY: the library owns `data_len` bytes at `data_ptr` until the
    // buffer's handle (released by the caller afterwards) is dropped.
    unsafe { std::slice::from_raw_parts(info.data_ptr as *const u8, info.data_len as usize) }
        .to_vec()
}

/// What one room event changed.
#[derive(Default)]
pub(crate) struct Applied {
    pub(crate) events: Vec<TransportEvent>,
    /// Sids of local tracks the new permission no longer allows.
    pub(crate) revoked: Vec<String>,
    /// The room is over.
    pub(crate) ended: bool,
}

/// Follows the room's events until it ends: applies them, broadcasts what
/// they mean, and unpublishes what the server no longer allows.
pub(crate) async fn follow_room(
    session: Arc<Session>,
    mut room_events: mpsc::UnboundedReceiver<proto::room_event::Message>,
    events: broadcast::Sender<TransportEvent>,
    on_end: impl FnOnce(&Arc<Session>) + Send,
) {
    while let Some(event) = room_events.recv().await {
        let applied = session.apply(event);
        for mut event in applied.events {
            if let TransportEvent::ActiveSpeakersChanged { speakers } = &mut event {
                super::levels::fill(&session, speakers).await;
            }
            let _ = events.send(event);
        }
        for sid in applied.revoked {
            super::unpublish_sid(&session, sid).await;
        }
        if applied.ended {
            break;
        }
    }
    session.client.unroute_room(session.room.id());
    on_end(&session);
}
