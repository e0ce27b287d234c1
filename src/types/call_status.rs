//! The lifecycle states of a 1:1 call, as the engine reports them.

use std::sync::Arc;

use crate::error::{UTDResult, UTDStreamError};

/// Lifecycle of a 1:1 call, mirroring the engine's call states.
///
/// The seeds' seven states plus the three users of calling apps need: a call
/// the caller cancelled before it was answered, and a call answered or
/// declined on another of the callee's devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum UTDCallStatus {
    /// Created by the caller; the callee has not been reached yet.
    Initiating,
    /// The callee's device is ringing.
    Ringing,
    /// Answered; both parties are in the call room.
    Active,
    /// Hung up after being answered.
    Ended,
    /// The callee declined.
    Rejected,
    /// The callee was busy in another call.
    Busy,
    /// Nobody answered before the ring timeout.
    Missed,
    /// The caller hung up before anyone answered.
    Cancelled,
    /// Another of the callee's devices answered (seen by the other devices).
    AnsweredElsewhere,
    /// Another of the callee's devices declined (seen by the other devices).
    DeclinedElsewhere,
}

impl UTDCallStatus {
    /// Every status, in declaration order.
    pub const ALL: [UTDCallStatus; 10] = [
        UTDCallStatus::Initiating,
        UTDCallStatus::Ringing,
        UTDCallStatus::Active,
        UTDCallStatus::Ended,
        UTDCallStatus::Rejected,
        UTDCallStatus::Busy,
        UTDCallStatus::Missed,
        UTDCallStatus::Cancelled,
        UTDCallStatus::AnsweredElsewhere,
        UTDCallStatus::DeclinedElsewhere,
    ];

    /// The wire value as a static string (Rust callers).
    pub fn as_wire(self) -> &'static str {
        match self {
            Self::Initiating => "initiating",
            Self::Ringing => "ringing",
            Self::Active => "active",
            Self::Ended => "ended",
            Self::Rejected => "rejected",
            Self::Busy => "busy",
            Self::Missed => "missed",
            Self::Cancelled => "cancelled",
            Self::AnsweredElsewhere => "answered_elsewhere",
            Self::DeclinedElsewhere => "declined_elsewhere",
        }
    }

    /// Parses a wire value (Rust callers).
    pub fn parse_wire(value: &str) -> Result<Self, UTDStreamError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_wire() == value)
            .ok_or_else(|| UTDStreamError::protocol(format!("unknown call status {value:?}")))
    }
}

#[uniffi::export]
impl UTDCallStatus {
    /// The value the engine uses for this status (`"ringing"`, ...).
    pub fn wire_value(&self) -> String {
        self.as_wire().to_owned()
    }

    /// True once the call is over: no transition leaves a terminal state.
    pub fn is_terminal(&self) -> bool {
        !matches!(self, Self::Initiating | Self::Ringing | Self::Active)
    }
}

/// Parses an engine wire value (`"ringing"`, ...) into a call status.
#[uniffi::export]
pub fn call_status_from_wire_value(value: String) -> UTDResult<UTDCallStatus> {
    UTDCallStatus::parse_wire(&value).map_err(Arc::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_values_round_trip_and_terminality() {
        for s in UTDCallStatus::ALL {
            assert_eq!(UTDCallStatus::parse_wire(s.as_wire()).ok(), Some(s));
        }
        let live: Vec<_> = UTDCallStatus::ALL
            .into_iter()
            .filter(|s| !s.is_terminal())
            .collect();
        assert_eq!(
            live,
            [
                UTDCallStatus::Initiating,
                UTDCallStatus::Ringing,
                UTDCallStatus::Active
            ]
        );
    }
}
