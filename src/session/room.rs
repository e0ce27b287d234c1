//! `RoomCore`: one room connection and the state derived from its events.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::error::UTDStreamError;
use crate::media::{
    ActiveSpeaker, ConnectionQuality, JoinedRoom, OutgoingData, ParticipantInfo, Permission,
    RoomTransport, TrackSource, TransportEvent, TransportOptions,
};
use crate::observe::Observable;
use crate::runtime;

/// Capacity of the raw event firehose; a subscriber that falls further
/// behind skips ahead (it is told how many events it missed).
const FIREHOSE_CAPACITY: usize = 512;

/// A room connection plus the state apps observe.
pub struct RoomCore {
    transport: Arc<dyn RoomTransport>,
    /// Whether the media room is connected.
    pub connected: Observable<bool>,
    /// Whether the server currently lets this participant publish.
    pub can_publish: Observable<bool>,
    /// The full permission the server last pushed (None before joining).
    pub permission: Observable<Option<Permission>>,
    /// Everyone else in the room, sorted by identity.
    pub remote_participants: Observable<Vec<ParticipantInfo>>,
    /// The local participant's identity once joined.
    pub local_identity: Observable<Option<String>>,
    /// The sources the local participant publishes now.
    pub published_sources: Observable<Vec<TrackSource>>,
    /// Who is speaking (the local participant too), loudest first.
    pub active_speakers: Observable<Vec<ActiveSpeaker>>,
    /// The SFU's rating of each participant's connection (the local one
    /// too), sorted by identity; a participant appears once rated.
    pub connection_quality: Observable<Vec<(String, ConnectionQuality)>>,
    firehose: broadcast::Sender<TransportEvent>,
    pump: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for RoomCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomCore")
            .field("connected", &self.connected.get())
            .field("can_publish", &self.can_publish.get())
            .field("local_identity", &self.local_identity.get())
            .finish()
    }
}

impl RoomCore {
    /// A disconnected room over `transport`.
    pub fn new(transport: Arc<dyn RoomTransport>) -> Arc<Self> {
        let (firehose, _) = broadcast::channel(FIREHOSE_CAPACITY);
        Arc::new(Self {
            transport,
            connected: Observable::new(false),
            can_publish: Observable::new(false),
            permission: Observable::new(None),
            remote_participants: Observable::new(Vec::new()),
            local_identity: Observable::new(None),
            published_sources: Observable::new(Vec::new()),
            active_speakers: Observable::new(Vec::new()),
            connection_quality: Observable::new(Vec::new()),
            firehose,
            pump: Mutex::new(None),
        })
    }

    /// Joins the room at `url` with `token` and starts following its events.
    pub async fn connect(
        self: &Arc<Self>,
        url: &str,
        token: &str,
        options: TransportOptions,
    ) -> Result<JoinedRoom, UTDStreamError> {
        // Subscribe first so no event between join and pump start is lost.
        let events = self.transport.events();
        let joined = self.transport.connect(url, token, options).await?;
        self.local_identity.set(Some(joined.local_identity.clone()));
        self.apply_permission(joined.permission.clone());
        self.refresh_remotes();
        self.connected.set(true);
        let pump = runtime::handle().spawn(pump(Arc::downgrade(self), events));
        if let Some(previous) = self.lock_pump().replace(pump) {
            previous.abort();
        }
        Ok(joined)
    }

    /// Raw transport events, for apps that want the full firehose.
    pub fn events(&self) -> broadcast::Receiver<TransportEvent> {
        self.firehose.subscribe()
    }

    /// Turns the microphone on or off. Refused (`forbidden`) unless the
    /// server granted publish for the microphone.
    pub async fn set_microphone(&self, enabled: bool) -> Result<(), UTDStreamError> {
        let result = self.transport.set_microphone(enabled).await;
        self.refresh_published();
        result
    }

    /// Turns the camera on or off. Refused (`forbidden`) unless the server
    /// granted publish for the camera.
    pub async fn set_camera(&self, enabled: bool) -> Result<(), UTDStreamError> {
        let result = self.transport.set_camera(enabled).await;
        self.refresh_published();
        result
    }

    /// Sends a data message to the room or to its destination identities.
    pub async fn send_data(&self, data: OutgoingData) -> Result<(), UTDStreamError> {
        self.transport.send_data(data).await
    }

    /// The transport, for the frame APIs (audio/video in and out).
    pub fn transport(&self) -> &Arc<dyn RoomTransport> {
        &self.transport
    }

    /// Leaves the room; the core can `connect` again afterwards.
    pub async fn leave(&self) -> Result<(), UTDStreamError> {
        if let Some(pump) = self.lock_pump().take() {
            pump.abort();
        }
        let result = self.transport.disconnect().await;
        self.reset();
        result
    }

    fn reset(&self) {
        self.connected.set(false);
        self.permission.set(None);
        self.can_publish.set(false);
        self.remote_participants.set(Vec::new());
        self.published_sources.set(Vec::new());
        self.active_speakers.set(Vec::new());
        self.connection_quality.set(Vec::new());
    }

    fn apply_permission(&self, permission: Permission) {
        // The full permission first: whoever wakes on `can_publish` must
        // read a `permission` that already agrees with it.
        let can_publish = permission.can_publish;
        self.permission.set(Some(permission));
        self.can_publish.set(can_publish);
    }

    fn refresh_published(&self) {
        let mut sources = self.transport.published_sources();
        sources.sort_by_key(|s| s.to_string());
        self.published_sources.set(sources);
    }

    fn refresh_remotes(&self) {
        let mut remotes = self.transport.remote_participants();
        remotes.sort_by(|a, b| a.identity.cmp(&b.identity));
        self.remote_participants.set(remotes);
    }

    fn apply(&self, event: &TransportEvent) {
        match event {
            TransportEvent::PermissionChanged(permission) => {
                self.apply_permission(permission.clone());
                self.refresh_published();
            }
            TransportEvent::ParticipantLeft { identity } => {
                self.connection_quality
                    .update(|q| q.retain(|(who, _)| who != identity));
                self.refresh_remotes();
            }
            TransportEvent::ActiveSpeakersChanged { speakers } => {
                self.active_speakers.set(speakers.clone());
            }
            TransportEvent::ConnectionQualityChanged { identity, quality } => {
                self.connection_quality.update(|all| {
                    match all.iter_mut().find(|(who, _)| who == identity) {
                        Some(entry) => entry.1 = *quality,
                        None => {
                            all.push((identity.clone(), *quality));
                            all.sort_by(|a, b| a.0.cmp(&b.0));
                        }
                    }
                });
            }
            TransportEvent::ParticipantJoined(_)
            | TransportEvent::ParticipantUpdated(_)
            | TransportEvent::TrackPublished { local: false, .. }
            | TransportEvent::TrackUnpublished { local: false, .. } => self.refresh_remotes(),
            TransportEvent::TrackPublished { local: true, .. }
            | TransportEvent::TrackUnpublished { local: true, .. }
            | TransportEvent::LocalTrackUnpublishedByServer { .. } => self.refresh_published(),
            TransportEvent::Reconnecting => self.connected.set(false),
            TransportEvent::Reconnected => {
                self.connected.set(true);
                self.refresh_remotes();
            }
            TransportEvent::Disconnected { .. } => self.reset(),
            _ => {}
        }
    }

    fn lock_pump(&self) -> std::sync::MutexGuard<'_, Option<JoinHandle<()>>> {
        self.pump.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for RoomCore {
    fn drop(&mut self) {
        if let Some(pump) = self.lock_pump().take() {
            pump.abort();
        }
    }
}

/// Applies transport events to the core until the room ends. Holds only a
/// weak reference so a dropped session stops its pump.
async fn pump(core: std::sync::Weak<RoomCore>, mut events: broadcast::Receiver<TransportEvent>) {
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(target: "utd_stream::session", missed, "room events lagged; state refreshed");
                match core.upgrade() {
                    Some(core) => {
                        core.refresh_remotes();
                        if let Some(permission) = core.transport.permission() {
                            core.apply_permission(permission);
                        }
                        continue;
                    }
                    None => return,
                }
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let Some(core) = core.upgrade() else { return };
        core.apply(&event);
        let _ = core.firehose.send(event.clone());
        if matches!(event, TransportEvent::Disconnected { .. }) {
            return;
        }
    }
}
