//! The audio-room seat grid as the app sees it.

use crate::api::rooms::{SeatRequestWire, SeatWire, SeatsWire};
use crate::error::UTDStreamError;

/// How listeners get a seat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum UTDSeatMode {
    /// Any listener may take a free seat.
    Free,
    /// Listeners ask (`requestToSpeak`); the host approves or invites.
    Request,
}

impl UTDSeatMode {
    /// The engine's wire value.
    pub fn wire(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Request => "request",
        }
    }

    /// Parses the engine's wire value.
    pub fn from_wire(value: &str) -> Result<Self, UTDStreamError> {
        match value {
            "free" => Ok(Self::Free),
            "request" => Ok(Self::Request),
            other => Err(UTDStreamError::protocol(format!(
                "the engine reported an unknown seat mode {other:?}"
            ))),
        }
    }
}

/// One seat.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UTDSeat {
    /// Position in the grid, from 0.
    pub index: u32,
    /// The occupant, null when the seat is free.
    pub identity: Option<String>,
    /// The occupant's display name.
    pub name: Option<String>,
    /// Whether the occupant's microphone is muted (as the media server reports it).
    pub muted: bool,
}

/// A listener's pending request to speak.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UTDSeatRequest {
    /// Pass to `approveSpeaker`.
    pub request_id: i64,
    /// Who asked.
    pub identity: String,
    /// When they asked (ms since the Unix epoch).
    pub created_at_ms: u64,
}

/// The seat grid of an audio room.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UTDSeats {
    /// The (un-prefixed) room name.
    pub room_name: String,
    /// How many seats there are (0 before the host set them up).
    pub seat_count: u32,
    /// How listeners get a seat.
    pub seat_mode: UTDSeatMode,
    /// Every seat, by index.
    pub seats: Vec<UTDSeat>,
    /// Pending requests to speak (request mode).
    pub requests: Vec<UTDSeatRequest>,
    /// Increases with every change; a newer grid never has a lower version.
    pub version: u64,
}

#[uniffi::export]
impl UTDSeats {
    /// The seat `identity` occupies, if any.
    pub fn seat_of(&self, identity: &str) -> Option<u32> {
        self.seats
            .iter()
            .find(|seat| seat.identity.as_deref() == Some(identity))
            .map(|seat| seat.index)
    }
}

impl TryFrom<SeatsWire> for UTDSeats {
    type Error = UTDStreamError;

    fn try_from(wire: SeatsWire) -> Result<Self, Self::Error> {
        Ok(Self {
            room_name: wire.room_name,
            seat_count: wire.seat_count,
            seat_mode: UTDSeatMode::from_wire(&wire.seat_mode)?,
            seats: wire.seats.into_iter().map(UTDSeat::from).collect(),
            requests: wire
                .requests
                .into_iter()
                .map(UTDSeatRequest::from)
                .collect(),
            version: wire.version,
        })
    }
}

impl From<SeatWire> for UTDSeat {
    fn from(wire: SeatWire) -> Self {
        Self {
            index: wire.index,
            identity: wire.identity,
            name: wire.name,
            muted: wire.muted,
        }
    }
}

impl From<SeatRequestWire> for UTDSeatRequest {
    fn from(wire: SeatRequestWire) -> Self {
        Self {
            request_id: wire.request_id,
            identity: wire.identity,
            created_at_ms: wire.created_at_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_seat_mode_is_a_protocol_error_not_a_guess() {
        assert_eq!(
            UTDSeatMode::from_wire("request").ok(),
            Some(UTDSeatMode::Request)
        );
        let e = UTDSeatMode::from_wire("auction").expect_err("unknown mode");
        assert_eq!(e.code(), crate::error::UTDErrorCode::Protocol);
    }
}
