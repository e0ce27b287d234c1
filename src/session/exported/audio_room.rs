//! `UTDAudioRoomSession`: the exported audio room.

use std::sync::Arc;

use super::handle::SessionHandle;
use super::listeners::UTDSeatsListener;
use super::room::UTDRoom;
use crate::error::UTDResult;
use crate::runtime;
use crate::session::audio_room::AudioRoom;
use crate::subscription::UTDSubscription;
use crate::types::{UTDSeatMode, UTDSeats, UTDStreamType};

/// An audio room: speakers on seats publish their microphone, listeners
/// listen. Taking a seat is what grants publish, and only the server grants
/// it; seat changes are pushed to every participant.
#[derive(Debug, uniffi::Object)]
pub struct UTDAudioRoomSession {
    handle: SessionHandle<AudioRoom>,
}

impl UTDAudioRoomSession {
    /// Wraps a joined Rust-level audio room.
    pub fn new(inner: Arc<AudioRoom>) -> Self {
        let (core, stream_type, room_name) = (
            inner.base.core.clone(),
            UTDStreamType::AudioRoom,
            inner.base.room_name(),
        );
        Self {
            handle: SessionHandle::new("UTDAudioRoomSession", inner, core, stream_type, room_name),
        }
    }

    /// The Rust-level session (benches, Rust apps).
    pub fn inner(&self) -> &Arc<AudioRoom> {
        self.handle.inner()
    }
}

#[uniffi::export]
impl UTDAudioRoomSession {
    /// The media room: connection state, canPublish, participants, events,
    /// microphone, data.
    pub fn room(&self) -> Arc<UTDRoom> {
        self.handle.room()
    }

    /// Always `audioRoom`.
    pub fn stream_type(&self) -> UTDStreamType {
        UTDStreamType::AudioRoom
    }

    /// The (un-prefixed) room name.
    pub fn room_name(&self) -> String {
        self.handle.inner().base.room_name()
    }

    /// Whether the engine made this participant the host (owner).
    pub fn is_host(&self) -> bool {
        self.handle.inner().base.is_host()
    }

    /// The seat grid as last pushed or fetched; null before it is known.
    pub fn seats(&self) -> Option<UTDSeats> {
        self.handle.inner().seats.get()
    }

    /// Observes the seat grid: the current one (once known), then every
    /// newer one, whoever changed it.
    pub fn observe_seats(&self, listener: Arc<dyn UTDSeatsListener>) -> Arc<UTDSubscription> {
        Arc::new(self.handle.inner().seats.subscribe(move |seats| {
            if let Some(seats) = seats {
                listener.on_seats(seats);
            }
        }))
    }

    /// Host: sets the seat grid up (1 to 50 seats). Shrinking unseats the
    /// occupants of removed seats. Fails with `forbidden` for non-hosts.
    #[uniffi::method(default(seat_mode = None, mode_id = None))]
    pub async fn setup_seats(
        self: Arc<Self>,
        seat_count: u32,
        seat_mode: Option<UTDSeatMode>,
        mode_id: Option<String>,
    ) -> UTDResult<UTDSeats> {
        let inner = self.handle.alive()?;
        let mode = seat_mode.unwrap_or(UTDSeatMode::Free);
        Ok(runtime::run(async move {
            inner
                .setup_seats(seat_count, mode, mode_id.as_deref())
                .await
        })
        .await?)
    }

    /// Fetches the seat grid from the engine.
    pub async fn get_seats(self: Arc<Self>) -> UTDResult<UTDSeats> {
        let inner = self.handle.alive()?;
        Ok(runtime::run(async move { inner.get_seats().await }).await?)
    }

    /// Takes seat `index`. Returns once the server granted publish and the
    /// microphone is on. `conflict` when someone else holds the seat (or you
    /// hold another), `forbidden` in request mode for non-hosts.
    pub async fn take_seat(self: Arc<Self>, index: u32) -> UTDResult<()> {
        let inner = self.handle.alive()?;
        Ok(runtime::run(async move { inner.take_seat(index).await }).await?)
    }

    /// Leaves the seat; the server revokes publish and the microphone goes off.
    pub async fn leave_seat(self: Arc<Self>) -> UTDResult<()> {
        let inner = self.handle.alive()?;
        Ok(runtime::run(async move { inner.leave_seat().await }).await?)
    }

    /// Listener, request mode: asks to speak. Returns the request id the
    /// host approves (the same id when asked twice).
    pub async fn request_to_speak(self: Arc<Self>) -> UTDResult<i64> {
        let inner = self.handle.alive()?;
        Ok(runtime::run(async move { inner.request_to_speak().await }).await?)
    }

    /// Host: approves a request; the requester gets the lowest free seat.
    pub async fn approve_speaker(self: Arc<Self>, request_id: i64) -> UTDResult<UTDSeats> {
        let inner = self.handle.alive()?;
        Ok(runtime::run(async move { inner.approve_speaker(request_id).await }).await?)
    }

    /// Host: seats `identity` at `seatIndex` (or the lowest free seat).
    #[uniffi::method(default(seat_index = None))]
    pub async fn invite_to_speak(
        self: Arc<Self>,
        identity: String,
        seat_index: Option<u32>,
    ) -> UTDResult<UTDSeats> {
        let inner = self.handle.alive()?;
        Ok(runtime::run(async move { inner.invite_to_speak(&identity, seat_index).await }).await?)
    }

    /// Leaves the media room but keeps the session: seat updates keep
    /// arriving and `rejoin()` connects again. A seated speaker loses the
    /// seat when the media server reports the departure.
    pub async fn leave(self: Arc<Self>) -> UTDResult<()> {
        let inner = self.handle.alive()?;
        Ok(runtime::run(async move { inner.base.leave().await }).await?)
    }

    /// Joins the media room again after `leave()`.
    pub async fn rejoin(self: Arc<Self>) -> UTDResult<()> {
        let inner = self.handle.alive()?;
        Ok(runtime::run(async move { inner.base.rejoin().await }).await?)
    }

    /// Leaves the room and stops seat updates. Every later action (seat calls,
    /// leave, rejoin, media) fails with `disposed`; getters keep the last state. Idempotent.
    pub async fn dispose(self: Arc<Self>) {
        if !self.handle.begin_dispose() {
            return;
        }
        let inner = self.handle.inner().clone();
        let _ = runtime::run(async move {
            inner.base.dispose().await;
            Ok(())
        })
        .await;
    }
}
