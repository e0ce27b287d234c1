//! Audio room: seat-based speakers and listeners. Taking a seat is what
//! grants publish, and the grant comes from the server (engine →
//! RoomService.UpdateParticipant → LiveKit pushes it); the session only
//! reflects it. Seat changes arrive as engine pushes (`seats.updated`) and
//! in the replies to this session's own seat calls; the highest `version`
//! wins when they cross.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::api::rooms::SeatsWire;
use crate::error::{UTDErrorCode, UTDStreamError};
use crate::media::RoomTransport;
use crate::observe::Observable;
use crate::session::base::SessionBase;
use crate::session::context::{JoinRequest, SessionContext};
use crate::session::pushes::PushTarget;
use crate::signalling::RoomPush;
use crate::types::{UTDSeatMode, UTDSeats, UTDStreamType};

/// How long `take_seat` waits for the media server to push the publish grant.
const GRANT_TIMEOUT: Duration = Duration::from_secs(10);

/// What `join` needs to know.
#[derive(Debug, Clone)]
pub struct AudioRoomJoin {
    /// The joining user.
    pub identity: String,
    /// Room to join (un-prefixed).
    pub room_name: String,
    /// Join as the room's host (owner).
    pub as_host: bool,
    /// Display name.
    pub name: Option<String>,
    /// Device id.
    pub device_id: Option<String>,
    /// Host only: set the seat grid up with this many seats.
    pub seat_count: Option<u32>,
    /// Host only: how listeners get seats (default free).
    pub seat_mode: Option<UTDSeatMode>,
}

/// A joined audio room.
#[derive(Debug)]
pub struct AudioRoom {
    /// The media room, the join and the push subscription.
    pub base: SessionBase,
    /// The seat grid: the newest of the engine's pushes and replies.
    pub seats: Observable<Option<UTDSeats>>,
}

impl AudioRoom {
    /// Mints a room token (authenticating `join.identity` first when the
    /// client has no session for it), connects the media room, subscribes to
    /// seat pushes and, for a host with `seat_count`, sets the seat grid up.
    pub async fn join(
        ctx: SessionContext,
        transport: Arc<dyn RoomTransport>,
        join: AudioRoomJoin,
    ) -> Result<Arc<AudioRoom>, UTDStreamError> {
        let request = JoinRequest {
            identity: join.identity,
            room_name: join.room_name,
            stream_type: UTDStreamType::AudioRoom,
            as_host: join.as_host,
            name: join.name,
            device_id: join.device_id,
        };
        let room = Arc::new(AudioRoom {
            base: SessionBase::join(ctx, transport, request).await?,
            seats: Observable::new(None),
        });
        if let Err(e) = room.start(join.seat_count, join.seat_mode).await {
            room.base.dispose().await;
            return Err(e);
        }
        Ok(room)
    }

    async fn start(
        self: &Arc<Self>,
        seat_count: Option<u32>,
        seat_mode: Option<UTDSeatMode>,
    ) -> Result<(), UTDStreamError> {
        self.base.follow_pushes(self).await;
        match (self.base.is_host(), seat_count) {
            (true, Some(count)) => {
                self.setup_seats(count, seat_mode.unwrap_or(UTDSeatMode::Free), None)
                    .await?;
            }
            _ if self.seats.get().is_none() => {
                // No push arrived (signalling unavailable): one fetch so the
                // grid is known; seat calls will still report their own errors.
                if let Err(e) = self.get_seats().await {
                    tracing::warn!(target: "utd_stream::session", room = %self.base.room_name(), "seats unknown after join: {e}");
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Host: configures the seat grid.
    pub async fn setup_seats(
        &self,
        seat_count: u32,
        seat_mode: UTDSeatMode,
        mode_id: Option<&str>,
    ) -> Result<UTDSeats, UTDStreamError> {
        let wire = self
            .base
            .api()
            .setup_seats(
                &self.base.bearer(),
                &self.base.room_name(),
                seat_count,
                seat_mode.wire(),
                mode_id,
            )
            .await?;
        self.record(wire)
    }

    /// Fetches the seat grid.
    pub async fn get_seats(&self) -> Result<UTDSeats, UTDStreamError> {
        let wire = self
            .base
            .api()
            .get_seats(&self.base.bearer(), &self.base.room_name())
            .await?;
        self.record(wire)
    }

    /// Takes seat `index`: the engine grants publish, the media server pushes
    /// the grant, then the microphone is turned on.
    pub async fn take_seat(&self, index: u32) -> Result<(), UTDStreamError> {
        let wire = self
            .base
            .api()
            .take_seat(&self.base.bearer(), &self.base.room_name(), index)
            .await?;
        self.record(wire)?;
        self.wait_for_publish_grant().await?;
        self.base.core.set_microphone(true).await
    }

    /// Leaves the seat: the engine revokes publish; the microphone goes off.
    pub async fn leave_seat(&self) -> Result<(), UTDStreamError> {
        let wire = self
            .base
            .api()
            .leave_seat(&self.base.bearer(), &self.base.room_name())
            .await?;
        self.record(wire)?;
        // The server unpublishes the track itself when it revokes publish;
        // turning it off here makes the local state say so at once.
        match self.base.core.set_microphone(false).await {
            Err(e)
                if !matches!(
                    e.code(),
                    UTDErrorCode::Forbidden | UTDErrorCode::InvalidState
                ) =>
            {
                Err(e)
            }
            _ => Ok(()),
        }
    }

    /// Listener in request mode: asks to speak; returns the request id.
    pub async fn request_to_speak(&self) -> Result<i64, UTDStreamError> {
        self.base
            .api()
            .request_to_speak(&self.base.bearer(), &self.base.room_name())
            .await
    }

    /// Host: approves a pending request (the requester gets the lowest free seat).
    pub async fn approve_speaker(&self, request_id: i64) -> Result<UTDSeats, UTDStreamError> {
        let wire = self
            .base
            .api()
            .approve_speaker(&self.base.bearer(), &self.base.room_name(), request_id)
            .await?;
        self.record(wire)
    }

    /// Host: seats `identity` (at `seat_index`, or the lowest free seat).
    pub async fn invite_to_speak(
        &self,
        identity: &str,
        seat_index: Option<u32>,
    ) -> Result<UTDSeats, UTDStreamError> {
        let wire = self
            .base
            .api()
            .invite_to_speak(
                &self.base.bearer(),
                &self.base.room_name(),
                identity,
                seat_index,
            )
            .await?;
        self.record(wire)
    }

    /// Keeps `wire` unless a newer grid is already known; returns it typed.
    fn record(&self, wire: SeatsWire) -> Result<UTDSeats, UTDStreamError> {
        let seats = UTDSeats::try_from(wire)?;
        self.seats.update(|current| {
            if current.as_ref().is_none_or(|c| c.version <= seats.version) {
                *current = Some(seats.clone());
            }
        });
        Ok(seats)
    }

    async fn wait_for_publish_grant(&self) -> Result<(), UTDStreamError> {
        let mut grant = self.base.core.can_publish.watch();
        let granted = tokio::time::timeout(GRANT_TIMEOUT, grant.wait_for(|can| *can)).await;
        match granted {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(UTDStreamError::disposed("the audio room")),
            Err(_) => Err(UTDStreamError::new(
                UTDErrorCode::Timeout,
                format!(
                    "seated, but the media server did not grant publish within {GRANT_TIMEOUT:?}"
                ),
            )),
        }
    }
}

#[async_trait]
impl PushTarget for AudioRoom {
    fn apply_push(&self, push: RoomPush) {
        if let RoomPush::Seats(wire) = push {
            if let Err(e) = self.record(wire) {
                tracing::warn!(target: "utd_stream::session", "ignored a seat push: {e}");
            }
        }
    }

    async fn resync(&self) {
        if let Err(e) = self.get_seats().await {
            tracing::warn!(target: "utd_stream::session", "could not refetch seats: {e}");
        }
    }
}
