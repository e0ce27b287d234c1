//! `UTDRoom`: the exported, headless view of one media room connection.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::broadcast;

use super::listeners::{
    UTDFlagListener, UTDLocalParticipantListener, UTDParticipantsListener, UTDRoomEventListener,
};
use crate::error::{UTDResult, UTDStreamError};
use crate::media::OutgoingData;
use crate::runtime;
use crate::session::RoomCore;
use crate::subscription::UTDSubscription;
use crate::types::{
    UTDLocalParticipant, UTDParticipant, UTDPermission, UTDRoomEvent, UTDStreamType, UTDTrackSource,
};

/// One media room connection and its state. Permissions only ever change
/// when the server says so: `canPublish` follows the server's pushes, and
/// publishing a source the server did not grant fails with `forbidden`.
#[derive(Debug, uniffi::Object)]
pub struct UTDRoom {
    core: Arc<RoomCore>,
    stream_type: UTDStreamType,
    room_name: String,
    disposed: AtomicBool,
}

impl UTDRoom {
    /// Wraps a session's room core.
    pub fn new(core: Arc<RoomCore>, stream_type: UTDStreamType, room_name: String) -> Self {
        Self {
            core,
            stream_type,
            room_name,
            disposed: AtomicBool::new(false),
        }
    }

    /// The room core (for the media methods in `media.rs`).
    pub(super) fn core(&self) -> &Arc<RoomCore> {
        &self.core
    }

    pub(super) fn check_alive(&self) -> Result<(), UTDStreamError> {
        if self.disposed.load(Ordering::Acquire) {
            Err(UTDStreamError::disposed("UTDRoom"))
        } else {
            Ok(())
        }
    }

    /// Marks the room disposed (its session was disposed).
    pub(crate) fn mark_disposed(&self) {
        self.disposed.store(true, Ordering::Release);
    }
}

#[uniffi::export]
impl UTDRoom {
    /// The product type of the session that owns this room.
    pub fn stream_type(&self) -> UTDStreamType {
        self.stream_type
    }

    /// The (un-prefixed) room name.
    pub fn room_name(&self) -> String {
        self.room_name.clone()
    }

    /// Whether the media room is connected now.
    pub fn is_connected(&self) -> bool {
        self.core.connected.get()
    }

    /// Observes `connected` (current value first).
    pub fn observe_connected(&self, listener: Arc<dyn UTDFlagListener>) -> Arc<UTDSubscription> {
        Arc::new(
            self.core
                .connected
                .subscribe(move |value| listener.on_value(value)),
        )
    }

    /// Whether the server lets this participant publish now (seated, on
    /// stage, host). Changes only when the server pushes a permission update.
    pub fn can_publish(&self) -> bool {
        self.core.can_publish.get()
    }

    /// Observes `canPublish` (current value first).
    pub fn observe_can_publish(&self, listener: Arc<dyn UTDFlagListener>) -> Arc<UTDSubscription> {
        Arc::new(
            self.core
                .can_publish
                .subscribe(move |value| listener.on_value(value)),
        )
    }

    /// The full permission the server last pushed; null before joining.
    pub fn permission(&self) -> Option<UTDPermission> {
        self.core.permission.get().map(UTDPermission::from)
    }

    /// Everyone else in the room, sorted by identity.
    pub fn remote_participants(&self) -> Vec<UTDParticipant> {
        self.core
            .remote_participants
            .get()
            .into_iter()
            .map(UTDParticipant::from)
            .collect()
    }

    /// Observes the remote participants (current list first).
    pub fn observe_remote_participants(
        &self,
        listener: Arc<dyn UTDParticipantsListener>,
    ) -> Arc<UTDSubscription> {
        Arc::new(self.core.remote_participants.subscribe(move |list| {
            listener.on_participants(list.into_iter().map(UTDParticipant::from).collect())
        }))
    }

    /// This device's participant; null while not connected.
    pub fn local_participant(&self) -> Option<UTDLocalParticipant> {
        local_participant(&self.core)
    }

    /// Observes this device's participant (current first): its permission
    /// and the sources it publishes, e.g. the tracks going away when the
    /// server revokes publish. Null while not connected.
    pub fn observe_local_participant(
        &self,
        listener: Arc<dyn UTDLocalParticipantListener>,
    ) -> Arc<UTDSubscription> {
        let mut permission = self.core.permission.watch();
        let mut published = self.core.published_sources.watch();
        let mut connected = self.core.connected.watch();
        let core = self.core.clone();
        let task = runtime::handle().spawn(async move {
            let mut last = local_participant(&core);
            listener.on_local_participant(last.clone());
            loop {
                tokio::select! {
                    changed = permission.changed() => if changed.is_err() { return },
                    changed = published.changed() => if changed.is_err() { return },
                    changed = connected.changed() => if changed.is_err() { return },
                }
                let now = local_participant(&core);
                if now != last {
                    listener.on_local_participant(now.clone());
                    last = now;
                }
            }
        });
        Arc::new(UTDSubscription::new(move || task.abort()))
    }

    /// Delivers every room event from now on, in order (the raw firehose:
    /// participants, tracks, permission, speakers, data, reconnects). A
    /// listener that falls more than 512 events behind skips ahead.
    pub fn observe_events(&self, listener: Arc<dyn UTDRoomEventListener>) -> Arc<UTDSubscription> {
        let mut events = self.core.events();
        let task = runtime::handle().spawn(async move {
            loop {
                match events.recv().await {
                    Ok(event) => listener.on_event(UTDRoomEvent::from(event)),
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(target: "utd_stream::session", missed, "a room event listener fell behind");
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        Arc::new(UTDSubscription::new(move || task.abort()))
    }

    /// Turns the microphone on or off. Turning it on fails with `forbidden`
    /// unless the server granted publishing the microphone.
    pub async fn set_microphone(self: Arc<Self>, enabled: bool) -> UTDResult<()> {
        self.check_alive()?;
        let core = self.core.clone();
        Ok(runtime::run(async move { core.set_microphone(enabled).await }).await?)
    }

    /// Turns the camera on or off. Turning it on fails with `forbidden`
    /// unless the server granted publishing the camera.
    pub async fn set_camera(self: Arc<Self>, enabled: bool) -> UTDResult<()> {
        self.check_alive()?;
        let core = self.core.clone();
        Ok(runtime::run(async move { core.set_camera(enabled).await }).await?)
    }

    /// Sends `data` to everyone in the room, or only to
    /// `destinationIdentities`. `reliable` (default) picks ordered,
    /// retransmitted delivery over the lossy channel; `topic` labels the
    /// message for receivers. At most 15 KiB (`invalidArgument` above);
    /// `forbidden` without the server's data grant.
    #[uniffi::method(default(reliable = true, destination_identities = None, topic = None))]
    pub async fn send_data(
        self: Arc<Self>,
        data: Vec<u8>,
        reliable: bool,
        destination_identities: Option<Vec<String>>,
        topic: Option<String>,
    ) -> UTDResult<()> {
        self.check_alive()?;
        let core = self.core.clone();
        let message = OutgoingData {
            payload: data,
            reliable,
            destination_identities: destination_identities.unwrap_or_default(),
            topic,
        };
        Ok(runtime::run(async move { core.send_data(message).await }).await?)
    }
}

fn local_participant(core: &RoomCore) -> Option<UTDLocalParticipant> {
    if !core.connected.get() {
        return None;
    }
    Some(UTDLocalParticipant {
        identity: core.local_identity.get()?,
        permission: core
            .permission
            .get()
            .map(UTDPermission::from)
            .unwrap_or_default(),
        published_sources: core
            .published_sources
            .get()
            .into_iter()
            .map(UTDTrackSource::from)
            .collect(),
    })
}
