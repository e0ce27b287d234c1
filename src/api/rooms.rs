//! Room tokens and audio-room seats (docs/engine-api.md §3, §6).

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::credentials::BearerToken;
use super::{Auth, EngineApi};
use crate::error::UTDStreamError;
use crate::types::UTDStreamType;

/// `POST /api/v1/token` reply. Debug hides both tokens.
#[derive(Clone, Deserialize)]
pub struct RoomTokenReply {
    /// LiveKit JWT.
    pub token: String,
    /// LiveKit URL.
    pub url: String,
    /// Un-prefixed room name.
    pub room_name: String,
    /// The engine bearer used (or minted).
    pub user_token: String,
    /// Signal WebSocket URL, when the plan has signalling.
    #[serde(default)]
    pub ws_url: Option<String>,
    /// `host`, `audience`, `speaker`, `caller` or `callee`.
    pub role: String,
}

impl std::fmt::Debug for RoomTokenReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomTokenReply")
            .field("token", &"[redacted]")
            .field("url", &self.url)
            .field("room_name", &self.room_name)
            .field("user_token", &"[redacted]")
            .field("role", &self.role)
            .finish()
    }
}

/// One seat of an audio room.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SeatWire {
    /// Seat index, from 0.
    pub index: u32,
    /// Occupant, if any.
    #[serde(default)]
    pub identity: Option<String>,
    /// Occupant's display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Whether the occupant's microphone is muted.
    #[serde(default)]
    pub muted: bool,
}

/// A pending request to speak.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SeatRequestWire {
    /// Id to approve.
    pub request_id: i64,
    /// Who asked.
    pub identity: String,
    /// When they asked.
    #[serde(default)]
    pub created_at_ms: u64,
}

/// The seat grid of an audio room.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SeatsWire {
    /// Un-prefixed room name.
    pub room_name: String,
    /// Number of seats.
    pub seat_count: u32,
    /// `free` or `request`.
    pub seat_mode: String,
    /// Every seat, by index.
    pub seats: Vec<SeatWire>,
    /// Pending requests (request mode).
    #[serde(default)]
    pub requests: Vec<SeatRequestWire>,
    /// Increases with every change of the room's seats; the highest wins
    /// when a REST reply and a push cross.
    #[serde(default)]
    pub version: u64,
}

#[derive(Serialize)]
struct TokenRequest<'a> {
    room_name: &'a str,
    stream_type: &'static str,
    as_host: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

#[derive(Serialize)]
struct SeatSetup<'a> {
    seat_count: u32,
    seat_mode: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    mode_id: Option<&'a str>,
}

#[derive(Serialize)]
struct SeatInvite<'a> {
    identity: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    seat_index: Option<u32>,
}

#[derive(Deserialize)]
struct RequestId {
    request_id: i64,
}

/// Room names share the identity alphabet, so they are safe in URL paths.
pub fn validate_room_name(room: &str) -> Result<(), UTDStreamError> {
    super::validate_identity(room).map_err(|_| {
        UTDStreamError::invalid_argument(format!(
            "room name {room:?} must be 1 to 128 characters of letters, digits and _ . @ : -"
        ))
    })
}

impl EngineApi {
    /// `POST /api/v1/token` with the user's bearer.
    pub async fn room_token(
        &self,
        bearer: &BearerToken,
        room_name: &str,
        stream_type: UTDStreamType,
        as_host: bool,
        name: Option<&str>,
    ) -> Result<RoomTokenReply, UTDStreamError> {
        validate_room_name(room_name)?;
        let body = TokenRequest {
            room_name,
            stream_type: stream_type.as_wire(),
            as_host,
            name,
        };
        let base = self.token_base().clone();
        self.call(
            Method::POST,
            &base,
            "api/v1/token",
            Auth::User(bearer),
            Some(&body),
        )
        .await
    }

    /// `PUT /rooms/{room}/seats` (host).
    pub async fn setup_seats(
        &self,
        bearer: &BearerToken,
        room: &str,
        seat_count: u32,
        seat_mode: &str,
        mode_id: Option<&str>,
    ) -> Result<SeatsWire, UTDStreamError> {
        let body = SeatSetup {
            seat_count,
            seat_mode,
            mode_id,
        };
        self.seats_call(Method::PUT, bearer, room, "", Some(&body))
            .await
    }

    /// `GET /rooms/{room}/seats`.
    pub async fn get_seats(
        &self,
        bearer: &BearerToken,
        room: &str,
    ) -> Result<SeatsWire, UTDStreamError> {
        self.seats_call::<()>(Method::GET, bearer, room, "", None)
            .await
    }

    /// `POST /rooms/{room}/seats/{index}/take`.
    pub async fn take_seat(
        &self,
        bearer: &BearerToken,
        room: &str,
        index: u32,
    ) -> Result<SeatsWire, UTDStreamError> {
        self.seats_call::<()>(Method::POST, bearer, room, &format!("/{index}/take"), None)
            .await
    }

    /// `POST /rooms/{room}/seats/leave`.
    pub async fn leave_seat(
        &self,
        bearer: &BearerToken,
        room: &str,
    ) -> Result<SeatsWire, UTDStreamError> {
        self.seats_call::<()>(Method::POST, bearer, room, "/leave", None)
            .await
    }

    /// `POST /rooms/{room}/seats/requests`: returns the request id.
    pub async fn request_to_speak(
        &self,
        bearer: &BearerToken,
        room: &str,
    ) -> Result<i64, UTDStreamError> {
        validate_room_name(room)?;
        let path = format!("api/v1/rooms/{room}/seats/requests");
        let reply: RequestId = self
            .call::<(), _>(
                Method::POST,
                &self.base().clone(),
                &path,
                Auth::User(bearer),
                None,
            )
            .await?;
        Ok(reply.request_id)
    }

    /// `POST /rooms/{room}/seats/requests/{id}/approve` (host).
    pub async fn approve_speaker(
        &self,
        bearer: &BearerToken,
        room: &str,
        request_id: i64,
    ) -> Result<SeatsWire, UTDStreamError> {
        self.seats_call::<()>(
            Method::POST,
            bearer,
            room,
            &format!("/requests/{request_id}/approve"),
            None,
        )
        .await
    }

    /// `POST /rooms/{room}/seats/invite` (host).
    pub async fn invite_to_speak(
        &self,
        bearer: &BearerToken,
        room: &str,
        identity: &str,
        seat_index: Option<u32>,
    ) -> Result<SeatsWire, UTDStreamError> {
        let body = SeatInvite {
            identity,
            seat_index,
        };
        self.seats_call(Method::POST, bearer, room, "/invite", Some(&body))
            .await
    }

    async fn seats_call<B: Serialize>(
        &self,
        method: Method,
        bearer: &BearerToken,
        room: &str,
        suffix: &str,
        body: Option<&B>,
    ) -> Result<SeatsWire, UTDStreamError> {
        validate_room_name(room)?;
        let path = format!("api/v1/rooms/{room}/seats{suffix}");
        self.call(
            method,
            &self.base().clone(),
            &path,
            Auth::User(bearer),
            body,
        )
        .await
    }
}
