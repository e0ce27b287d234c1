//! An in-memory [`RoomTransport`] for tests of the layers above the media
//! transport. It is a test double, not a transport: nothing leaves the
//! process. Tests play the server's part through its extra methods (grant or
//! revoke permission, add remote participants, deliver data), and the fake
//! applies the same rules the SFU does (publish needs the source allowed;
//! revoking a source unpublishes its track).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use tokio::sync::broadcast;

use crate::error::{UTDErrorCode, UTDStreamError};
use tokio::sync::mpsc;

use crate::media::frames::{AudioFrame, FrameSlot, VideoFrame};
use crate::media::{
    check_data, not_connected, publish_forbidden, unpublishable, ActiveSpeaker, DisconnectReason,
    JoinedRoom, OutgoingData, ParticipantInfo, Permission, RemoteAudioStream, RemoteVideoStream,
    RoomTransport, TrackInfo, TrackSource, TransportEvent, TransportOptions, TransportResult,
    EVENT_CHANNEL_CAPACITY,
};

/// The in-memory transport. Clones share one fake room.
#[derive(Clone)]
pub struct FakeTransport {
    inner: Arc<Inner>,
}

struct Inner {
    events: broadcast::Sender<TransportEvent>,
    state: Mutex<State>,
}

struct State {
    room_name: String,
    identity: String,
    /// What the next connect grants; changed by `set_permission`.
    permission: Permission,
    connected: bool,
    sessions: u32,
    remotes: Vec<ParticipantInfo>,
    local_tracks: Vec<TrackInfo>,
    sent: Vec<OutgoingData>,
    /// Audio pushed into the microphone source, and camera frames pushed.
    captured_audio: Vec<AudioFrame>,
    captured_video: u64,
    /// Open remote streams the test feeds, by identity / track sid.
    remote_audio: Vec<(String, mpsc::Sender<AudioFrame>)>,
    remote_video: Vec<(String, std::sync::Arc<FrameSlot<VideoFrame>>)>,
    next_connect_error: Option<UTDStreamError>,
    refuse_next_publish: bool,
    last_options: Option<TransportOptions>,
    next_sid: u32,
}

impl std::fmt::Debug for FakeTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state();
        f.debug_struct("FakeTransport")
            .field("room_name", &state.room_name)
            .field("identity", &state.identity)
            .field("connected", &state.connected)
            .finish()
    }
}

impl FakeTransport {
    /// A fake room `room_name` that `identity` joins, granted `permission`.
    pub fn new(room_name: &str, identity: &str, permission: Permission) -> Self {
        let (events, _) = broadcast::channel(EVENT_CHANNEL_CAPACITY);
        Self {
            inner: Arc::new(Inner {
                events,
                state: Mutex::new(State {
                    room_name: room_name.to_string(),
                    identity: identity.to_string(),
                    permission,
                    connected: false,
                    sessions: 0,
                    remotes: Vec::new(),
                    local_tracks: Vec::new(),
                    sent: Vec::new(),
                    captured_audio: Vec::new(),
                    captured_video: 0,
                    remote_audio: Vec::new(),
                    remote_video: Vec::new(),
                    next_connect_error: None,
                    refuse_next_publish: false,
                    last_options: None,
                    next_sid: 0,
                }),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn emit(&self, event: TransportEvent) {
        let _ = self.inner.events.send(event);
    }

    /// Plays RoomService.UpdateParticipant: replaces the local permission,
    /// emits `PermissionChanged` when connected, and unpublishes tracks whose
    /// source is no longer allowed, as the SFU does.
    pub fn set_permission(&self, permission: Permission) {
        let (connected, identity, removed) = {
            let mut state = self.state();
            if state.permission == permission {
                return;
            }
            state.permission = permission.clone();
            let (keep, removed): (Vec<TrackInfo>, Vec<TrackInfo>) = state
                .local_tracks
                .drain(..)
                .partition(|t| permission.allows_publishing(t.source));
            state.local_tracks = keep;
            (state.connected, state.identity.clone(), removed)
        };
        if !connected {
            return;
        }
        self.emit(TransportEvent::PermissionChanged(permission));
        for track in removed {
            self.emit(TransportEvent::LocalTrackUnpublishedByServer {
                track: track.clone(),
            });
            self.emit(TransportEvent::TrackUnpublished {
                identity: identity.clone(),
                local: true,
                track,
            });
        }
    }

    /// A remote participant joins (with its tracks).
    pub fn add_remote(&self, participant: ParticipantInfo) {
        self.state().remotes.push(participant.clone());
        let identity = participant.identity.clone();
        let tracks = participant.tracks.clone();
        self.emit(TransportEvent::ParticipantJoined(participant));
        for track in tracks {
            self.emit(TransportEvent::TrackPublished {
                identity: identity.clone(),
                local: false,
                track,
            });
        }
    }

    /// A remote participant leaves.
    pub fn remove_remote(&self, identity: &str) {
        let removed = {
            let mut state = self.state();
            let before = state.remotes.len();
            state.remotes.retain(|p| p.identity != identity);
            before != state.remotes.len()
        };
        if removed {
            self.emit(TransportEvent::ParticipantLeft {
                identity: identity.to_string(),
            });
        }
    }

    /// Delivers a data message from `from` (`None`: from the server).
    pub fn receive_data(&self, from: Option<&str>, payload: Vec<u8>, topic: Option<&str>) {
        self.emit(TransportEvent::DataReceived {
            from: from.map(str::to_string),
            payload,
            topic: topic.map(str::to_string),
        });
    }

    /// Reports who is speaking.
    pub fn set_active_speakers(&self, speakers: Vec<ActiveSpeaker>) {
        self.emit(TransportEvent::ActiveSpeakersChanged { speakers });
    }

    /// Ends the connection from the "server" side.
    pub fn drop_connection(&self, reason: DisconnectReason) {
        let was = std::mem::replace(&mut self.state().connected, false);
        if was {
            self.state().local_tracks.clear();
            self.emit(TransportEvent::Disconnected { reason });
        }
    }

    /// Makes the next `connect` fail with `error` (e.g. a full room).
    pub fn fail_next_connect(&self, error: UTDStreamError) {
        self.state().next_connect_error = Some(error);
    }

    /// Makes the server refuse the next publish even if the permission
    /// allows it, as a NOT_ALLOWED race would.
    pub fn refuse_next_publish(&self) {
        self.state().refuse_next_publish = true;
    }

    /// The data messages sent so far.
    pub fn sent_data(&self) -> Vec<OutgoingData> {
        self.state().sent.clone()
    }

    /// The audio frames pushed into the microphone source so far.
    pub fn captured_audio(&self) -> Vec<AudioFrame> {
        self.state().captured_audio.clone()
    }

    /// How many camera frames were pushed.
    pub fn captured_video_frames(&self) -> u64 {
        self.state().captured_video
    }

    /// Delivers a decoded audio frame of `identity` to its open streams.
    pub fn deliver_remote_audio(&self, identity: &str, frame: AudioFrame) {
        let state = self.state();
        for (_, tx) in state.remote_audio.iter().filter(|(i, _)| i == identity) {
            let _ = tx.try_send(frame.clone());
        }
    }

    /// Delivers a decoded video frame of track `sid` to its open streams.
    pub fn deliver_remote_video(&self, sid: &str, frame: VideoFrame) {
        let state = self.state();
        for (_, slot) in state.remote_video.iter().filter(|(s, _)| s == sid) {
            slot.put(frame.clone());
        }
    }

    /// The options of the last `connect`, if any.
    pub fn last_options(&self) -> Option<TransportOptions> {
        self.state().last_options
    }

    /// How many times `connect` succeeded.
    pub fn sessions(&self) -> u32 {
        self.state().sessions
    }

    fn require_connected(&self, what: &str) -> TransportResult<MutexGuard<'_, State>> {
        let state = self.state();
        if state.connected {
            Ok(state)
        } else {
            Err(not_connected(what))
        }
    }

    fn set_muted(&self, source: TrackSource, muted: bool) -> TransportResult<bool> {
        let mut state = self.require_connected("change a track")?;
        match state.local_tracks.iter_mut().find(|t| t.source == source) {
            Some(track) => {
                track.muted = muted;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

#[async_trait]
impl RoomTransport for FakeTransport {
    async fn connect(
        &self,
        _url: &str,
        _token: &str,
        options: TransportOptions,
    ) -> TransportResult<JoinedRoom> {
        let mut state = self.state();
        if state.connected {
            return Err(UTDStreamError::invalid_state(
                "already connected to a room: disconnect first",
            ));
        }
        state.last_options = Some(options);
        if let Some(error) = state.next_connect_error.take() {
            return Err(error);
        }
        state.connected = true;
        state.sessions += 1;
        Ok(JoinedRoom {
            room_name: state.room_name.clone(),
            local_identity: state.identity.clone(),
            local_sid: format!("PA_fake_{}", state.sessions),
            permission: state.permission.clone(),
            remote_participants: state.remotes.clone(),
        })
    }

    async fn publish(&self, source: TrackSource) -> TransportResult<()> {
        if !source.is_publishable() {
            return Err(unpublishable(source));
        }
        let track = {
            let mut state = self.require_connected("publish")?;
            if state.local_tracks.iter().any(|t| t.source == source) {
                return Ok(());
            }
            if !state.permission.allows_publishing(source) {
                return Err(publish_forbidden(source, &state.permission));
            }
            if std::mem::take(&mut state.refuse_next_publish) {
                return Err(UTDStreamError::new(
                    UTDErrorCode::Forbidden,
                    format!("the fake server refused to publish the {source} (NOT_ALLOWED)"),
                ));
            }
            state.next_sid += 1;
            let track = TrackInfo::local(format!("TR_fake_{}", state.next_sid), source);
            state.local_tracks.push(track.clone());
            (state.identity.clone(), track)
        };
        self.emit(TransportEvent::TrackPublished {
            identity: track.0,
            local: true,
            track: track.1,
        });
        Ok(())
    }

    async fn unpublish(&self, source: TrackSource) -> TransportResult<()> {
        let removed = {
            let mut state = self.require_connected("unpublish")?;
            let position = state.local_tracks.iter().position(|t| t.source == source);
            position.map(|i| (state.identity.clone(), state.local_tracks.remove(i)))
        };
        if let Some((identity, track)) = removed {
            self.emit(TransportEvent::TrackUnpublished {
                identity,
                local: true,
                track,
            });
        }
        Ok(())
    }

    async fn set_microphone(&self, enabled: bool) -> TransportResult<()> {
        if !self.set_muted(TrackSource::Microphone, !enabled)? && enabled {
            self.publish(TrackSource::Microphone).await?;
        }
        Ok(())
    }

    async fn set_camera(&self, enabled: bool) -> TransportResult<()> {
        if !self.set_muted(TrackSource::Camera, !enabled)? && enabled {
            self.publish(TrackSource::Camera).await?;
        }
        Ok(())
    }

    async fn send_data(&self, data: OutgoingData) -> TransportResult<()> {
        let mut state = self.require_connected("send data")?;
        check_data(&data, &state.permission)?;
        state.sent.push(data);
        Ok(())
    }

    async fn capture_audio(&self, frame: AudioFrame) -> TransportResult<()> {
        frame.validate()?;
        self.state().captured_audio.push(frame);
        Ok(())
    }

    fn capture_video(&self, frame: &VideoFrame) -> TransportResult<()> {
        frame.validate()?;
        self.state().captured_video += 1;
        Ok(())
    }

    async fn remote_audio(&self, identity: &str) -> TransportResult<RemoteAudioStream> {
        let mut state = self.require_connected("receive audio")?;
        if !state.remotes.iter().any(|p| p.identity == identity) {
            return Err(UTDStreamError::new(
                UTDErrorCode::NotFound,
                format!("no participant {identity:?} in the room"),
            ));
        }
        let (tx, rx) = mpsc::channel(50);
        state.remote_audio.push((identity.to_string(), tx));
        Ok(RemoteAudioStream::new(rx, ()))
    }

    async fn remote_video(&self, track_sid: &str) -> TransportResult<RemoteVideoStream> {
        let mut state = self.require_connected("receive video")?;
        let known = state
            .remotes
            .iter()
            .flat_map(|p| &p.tracks)
            .find(|t| t.sid == track_sid)
            .map(|t| t.subscribed);
        match known {
            None => Err(UTDStreamError::new(
                UTDErrorCode::NotFound,
                format!("no remote track {track_sid} in the room"),
            )),
            Some(false) => Err(UTDStreamError::invalid_state(format!(
                "track {track_sid} is not subscribed (yet)"
            ))),
            Some(true) => {
                let slot = std::sync::Arc::new(FrameSlot::default());
                state
                    .remote_video
                    .push((track_sid.to_string(), slot.clone()));
                Ok(RemoteVideoStream::new(slot, ()))
            }
        }
    }

    async fn disconnect(&self) -> TransportResult<()> {
        let was = {
            let mut state = self.state();
            state.local_tracks.clear();
            std::mem::replace(&mut state.connected, false)
        };
        if was {
            self.emit(TransportEvent::Disconnected {
                reason: DisconnectReason::ClientInitiated,
            });
        }
        Ok(())
    }

    fn events(&self) -> broadcast::Receiver<TransportEvent> {
        self.inner.events.subscribe()
    }

    fn permission(&self) -> Option<Permission> {
        let state = self.state();
        state.connected.then(|| state.permission.clone())
    }

    fn published_sources(&self) -> Vec<TrackSource> {
        self.state().local_tracks.iter().map(|t| t.source).collect()
    }

    fn remote_participants(&self) -> Vec<ParticipantInfo> {
        let state = self.state();
        if state.connected {
            state.remotes.clone()
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speaker() -> Permission {
        Permission {
            can_publish: true,
            can_subscribe: true,
            can_publish_data: true,
            can_publish_sources: vec![TrackSource::Microphone],
        }
    }

    #[tokio::test]
    async fn fake_applies_the_servers_publish_rules() {
        let fake = FakeTransport::new("room", "me", Permission::default());
        let mut events = fake.events();
        let room = fake
            .connect("ws://fake", "token", TransportOptions::default())
            .await
            .expect("connect");
        assert!(!room.permission.can_publish);
        let e = fake.publish(TrackSource::Microphone).await.unwrap_err();
        assert_eq!(e.kind(), UTDErrorCode::Forbidden);

        fake.set_permission(speaker());
        assert!(
            matches!(events.recv().await, Ok(TransportEvent::PermissionChanged(p)) if p.can_publish)
        );
        fake.set_microphone(true).await.expect("mic on");
        assert_eq!(fake.published_sources(), vec![TrackSource::Microphone]);
        assert!(matches!(
            events.recv().await,
            Ok(TransportEvent::TrackPublished { local: true, .. })
        ));
        let e = fake.publish(TrackSource::Camera).await.unwrap_err();
        assert_eq!(e.kind(), UTDErrorCode::Forbidden);

        fake.set_permission(Permission::default());
        assert!(
            matches!(events.recv().await, Ok(TransportEvent::PermissionChanged(p)) if !p.can_publish)
        );
        assert!(matches!(
            events.recv().await,
            Ok(TransportEvent::LocalTrackUnpublishedByServer { track }) if track.source == TrackSource::Microphone
        ));
        assert!(fake.published_sources().is_empty());
    }

    #[tokio::test]
    async fn fake_records_data_and_can_refuse_joins_and_publishes() {
        let fake = FakeTransport::new("room", "me", speaker());
        fake.fail_next_connect(UTDStreamError::new(UTDErrorCode::Conflict, "room is full"));
        let e = fake
            .connect("ws://fake", "t", TransportOptions::default())
            .await
            .unwrap_err();
        assert_eq!(e.kind(), UTDErrorCode::Conflict);
        fake.connect("ws://fake", "t", TransportOptions::default())
            .await
            .expect("second connect");
        fake.refuse_next_publish();
        assert_eq!(
            fake.publish(TrackSource::Microphone)
                .await
                .unwrap_err()
                .kind(),
            UTDErrorCode::Forbidden
        );
        fake.publish(TrackSource::Microphone)
            .await
            .expect("publish");
        fake.send_data(OutgoingData {
            payload: b"hi".to_vec(),
            reliable: true,
            destination_identities: vec!["bob".into()],
            topic: None,
        })
        .await
        .expect("send");
        assert_eq!(
            fake.sent_data()[0].destination_identities,
            vec!["bob".to_string()]
        );
        fake.disconnect().await.expect("disconnect");
        assert_eq!(
            fake.send_data(OutgoingData::default())
                .await
                .unwrap_err()
                .kind(),
            UTDErrorCode::InvalidState
        );
    }
}
