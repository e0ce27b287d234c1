//! Audio room: seat-based speakers and listeners. Taking a seat is what
//! grants publish, and the grant comes from the server (engine →
//! RoomService.UpdateParticipant → LiveKit pushes it); the session only
//! reflects it.

use std::sync::Arc;
use std::time::Duration;

use crate::api::credentials::BearerToken;
use crate::api::rooms::SeatsWire;
use crate::auth::{AuthState, UserSession};
use crate::error::{UTDErrorCode, UTDStreamError};
use crate::media::{RoomTransport, TransportOptions};
use crate::observe::Observable;
use crate::session::RoomCore;
use crate::types::UTDStreamType;

/// How long `take_seat` waits for LiveKit to push the publish grant.
const GRANT_TIMEOUT: Duration = Duration::from_secs(10);

/// What `join` needs to know.
#[derive(Debug, Clone, Default)]
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
    /// Host only: seed the seat grid with this many seats.
    pub seat_count: Option<u32>,
    /// Host only: `free` or `request` (default `free`).
    pub seat_mode: Option<String>,
}

/// A joined audio room.
#[derive(Debug)]
pub struct AudioRoom {
    /// The media room and its observable state.
    pub core: Arc<RoomCore>,
    /// The seat grid as last reported by the engine.
    pub seats: Observable<Option<SeatsWire>>,
    auth: Arc<AuthState>,
    bearer: BearerToken,
    room_name: String,
    is_host: bool,
}

impl AudioRoom {
    /// Mints a room token for `join.identity` (authenticating first when the
    /// client has no session for that identity), connects the media room and,
    /// for a host with `seat_count`, sets up the seat grid.
    pub async fn join(
        auth: Arc<AuthState>,
        transport: Arc<dyn RoomTransport>,
        join: AudioRoomJoin,
    ) -> Result<AudioRoom, UTDStreamError> {
        let session = session_for(&auth, &join).await?;
        let reply = auth
            .api
            .room_token(
                &session.bearer,
                &join.room_name,
                UTDStreamType::AudioRoom,
                join.as_host,
                join.name.as_deref(),
            )
            .await?;
        let core = RoomCore::new(transport);
        core.connect(&reply.url, &reply.token, TransportOptions::default())
            .await?;
        let room = AudioRoom {
            core,
            seats: Observable::new(None),
            auth,
            bearer: session.bearer,
            room_name: reply.room_name,
            is_host: reply.role == "host",
        };
        if join.as_host {
            if let Some(count) = join.seat_count {
                room.setup_seats(count, join.seat_mode.as_deref().unwrap_or("free"), None)
                    .await?;
            }
        }
        Ok(room)
    }

    /// The un-prefixed room name.
    pub fn room_name(&self) -> &str {
        &self.room_name
    }

    /// Whether the engine made this participant the host.
    pub fn is_host(&self) -> bool {
        self.is_host
    }

    /// Host: configures the seat grid.
    pub async fn setup_seats(
        &self,
        seat_count: u32,
        seat_mode: &str,
        mode_id: Option<&str>,
    ) -> Result<SeatsWire, UTDStreamError> {
        let seats = self
            .auth
            .api
            .setup_seats(
                &self.bearer,
                &self.room_name,
                seat_count,
                seat_mode,
                mode_id,
            )
            .await?;
        Ok(self.record(seats))
    }

    /// Fetches the seat grid.
    pub async fn get_seats(&self) -> Result<SeatsWire, UTDStreamError> {
        let seats = self
            .auth
            .api
            .get_seats(&self.bearer, &self.room_name)
            .await?;
        Ok(self.record(seats))
    }

    /// Takes seat `index`: the engine grants publish, LiveKit pushes the
    /// grant, then the microphone is turned on.
    pub async fn take_seat(&self, index: u32) -> Result<(), UTDStreamError> {
        let seats = self
            .auth
            .api
            .take_seat(&self.bearer, &self.room_name, index)
            .await?;
        self.record(seats);
        self.wait_for_publish_grant().await?;
        self.core.set_microphone(true).await
    }

    /// Leaves the seat: the engine revokes publish; the microphone goes off.
    pub async fn leave_seat(&self) -> Result<(), UTDStreamError> {
        let seats = self
            .auth
            .api
            .leave_seat(&self.bearer, &self.room_name)
            .await?;
        self.record(seats);
        // The server unpublishes the track itself when it revokes publish;
        // turning it off here just makes the local state say so at once.
        match self.core.set_microphone(false).await {
            Err(e) if e.code() != UTDErrorCode::Forbidden => Err(e),
            _ => Ok(()),
        }
    }

    /// Listener in request mode: asks to speak; returns the request id.
    pub async fn request_to_speak(&self) -> Result<i64, UTDStreamError> {
        self.auth
            .api
            .request_to_speak(&self.bearer, &self.room_name)
            .await
    }

    /// Host: approves a pending request (the requester gets the lowest free seat).
    pub async fn approve_speaker(&self, request_id: i64) -> Result<SeatsWire, UTDStreamError> {
        let seats = self
            .auth
            .api
            .approve_speaker(&self.bearer, &self.room_name, request_id)
            .await?;
        Ok(self.record(seats))
    }

    /// Host: seats `identity` (at `seat_index`, or the lowest free seat).
    pub async fn invite_to_speak(
        &self,
        identity: &str,
        seat_index: Option<u32>,
    ) -> Result<SeatsWire, UTDStreamError> {
        let seats = self
            .auth
            .api
            .invite_to_speak(&self.bearer, &self.room_name, identity, seat_index)
            .await?;
        Ok(self.record(seats))
    }

    /// Leaves the media room (the seat is freed by the engine's webhook).
    pub async fn leave(&self) -> Result<(), UTDStreamError> {
        self.core.leave().await
    }

    fn record(&self, seats: SeatsWire) -> SeatsWire {
        self.seats.set(Some(seats.clone()));
        seats
    }

    async fn wait_for_publish_grant(&self) -> Result<(), UTDStreamError> {
        let mut grant = self.core.can_publish.watch();
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

async fn session_for(
    auth: &AuthState,
    join: &AudioRoomJoin,
) -> Result<UserSession, UTDStreamError> {
    match auth.current() {
        Some(session) if session.identity == join.identity => Ok(session),
        _ => {
            auth.authenticate(&join.identity, join.name.clone(), join.device_id.clone())
                .await
        }
    }
}
