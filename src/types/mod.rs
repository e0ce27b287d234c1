//! Plain value types shared by every part of the SDK.

mod call;
mod call_status;
mod connection;
mod frames;
mod participant;
mod room_event;
mod seats;
mod session;
mod stage;
mod stream_type;

pub use call::{UTDCall, UTDCallEndReason};
pub use call_status::UTDCallStatus;
pub use connection::{UTDConnectionState, UTDPresence};
pub use frames::{
    UTDAudioFrame, UTDVideoFrame, UTDVideoPixelFormat, UTDVideoPlane, UTDVideoRotation,
};
pub use participant::{
    UTDLocalParticipant, UTDParticipant, UTDPermission, UTDTrack, UTDTrackKind, UTDTrackSource,
};
pub use room_event::{UTDActiveSpeaker, UTDConnectionQuality, UTDDisconnectReason, UTDRoomEvent};
pub use seats::{UTDSeat, UTDSeatMode, UTDSeatRequest, UTDSeats};
pub use session::{UTDCapabilities, UTDPlanLimits};
pub use stage::{UTDStage, UTDStageMember, UTDStageRequest, UTDStageRole};
pub use stream_type::UTDStreamType;
