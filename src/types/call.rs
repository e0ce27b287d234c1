//! A 1:1 call as the app sees it.

use crate::api::calls::CallWire;
use crate::error::UTDStreamError;
use crate::types::{UTDCallStatus, UTDStreamType};

/// A 1:1 call: who calls whom, how, and where it stands on the engine.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UTDCall {
    /// The engine's id for the call.
    pub call_id: String,
    /// Audio or video call.
    pub stream_type: UTDStreamType,
    /// The engine's status (the session's own `status` adds this device's
    /// view: answered or declined elsewhere).
    pub status: UTDCallStatus,
    /// Who called.
    pub caller_identity: String,
    /// The caller's display name.
    pub caller_name: Option<String>,
    /// Who is called.
    pub callee_identity: String,
    /// The callee's display name as the caller gave it.
    pub callee_name: Option<String>,
    /// The call's media room.
    pub room_name: String,
    /// The caller's metadata, as a JSON object text (`{}` when none).
    pub metadata_json: String,
    /// Creation time (ms since the Unix epoch).
    pub created_at_ms: u64,
    /// Last change (ms since the Unix epoch).
    pub updated_at_ms: u64,
    /// The callee device that answered, once answered (null when the
    /// callee's session had no device id).
    pub answered_by_device: Option<String>,
    /// Why it ended, once over.
    pub end_reason: Option<UTDCallEndReason>,
}

/// Why a call ended.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum UTDCallEndReason {
    /// The caller hung up an answered call.
    HangupCaller,
    /// The callee hung up an answered call.
    HangupCallee,
    /// The callee declined.
    Rejected,
    /// The callee was busy.
    Busy,
    /// The caller hung up before an answer.
    Cancelled,
    /// Nobody answered before the engine's ring timeout.
    RingTimeout,
    /// The media server closed the call room while the call was active.
    RoomClosed,
    /// Another of the callee's devices answered (seen by the other devices).
    AnsweredElsewhere,
    /// Another of the callee's devices declined (seen by the other devices).
    DeclinedElsewhere,
    /// The app's plan does not include calling (`signaling`): the refusal
    /// the controller rethrows has `isSignalingDisabled`. Show an upsell.
    NotActivated,
    /// This device could not take part (the media room could not be joined,
    /// or the engine refused); `message` says why.
    Failed {
        /// What went wrong.
        message: String,
    },
    /// A reason this SDK version does not know (a newer engine).
    Other {
        /// The engine's name for it.
        reason: String,
    },
}

impl UTDCallEndReason {
    /// Maps the engine's `end_reason` (and the push's `call_ended`
    /// reasons) to a reason; unknown ones are kept as `Other`.
    pub fn from_wire(reason: String) -> Self {
        match reason.as_str() {
            "hangup_caller" => Self::HangupCaller,
            "hangup_callee" => Self::HangupCallee,
            "rejected" => Self::Rejected,
            "busy" => Self::Busy,
            "cancelled" => Self::Cancelled,
            "ring_timeout" => Self::RingTimeout,
            "room_closed" => Self::RoomClosed,
            "answered_elsewhere" => Self::AnsweredElsewhere,
            "declined_elsewhere" => Self::DeclinedElsewhere,
            "missed" => Self::RingTimeout,
            _ => Self::Other { reason },
        }
    }
}

impl TryFrom<CallWire> for UTDCall {
    type Error = UTDStreamError;

    fn try_from(wire: CallWire) -> Result<Self, Self::Error> {
        let stream_type = UTDStreamType::parse_wire(&wire.stream_type)
            .ok()
            .filter(UTDStreamType::is_call)
            .ok_or_else(|| {
                UTDStreamError::protocol(format!(
                    "the engine reported a call of type {:?}",
                    wire.stream_type
                ))
            })?;
        let status = UTDCallStatus::parse_wire(&wire.status)?;
        if matches!(
            status,
            UTDCallStatus::AnsweredElsewhere | UTDCallStatus::DeclinedElsewhere
        ) {
            return Err(UTDStreamError::protocol(format!(
                "the engine reported the device-local status {:?}",
                wire.status
            )));
        }
        Ok(Self {
            call_id: wire.call_id,
            stream_type,
            status,
            caller_identity: wire.caller_identity,
            caller_name: wire.caller_name,
            callee_identity: wire.callee_identity,
            callee_name: wire.callee_name,
            room_name: wire.room_name,
            metadata_json: if wire.metadata.is_null() {
                "{}".to_owned()
            } else {
                wire.metadata.to_string()
            },
            created_at_ms: wire.created_at_ms,
            updated_at_ms: wire.updated_at_ms,
            answered_by_device: wire.answered_by_device,
            end_reason: wire.end_reason.map(UTDCallEndReason::from_wire),
        })
    }
}
