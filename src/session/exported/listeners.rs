//! Listener interfaces the app implements to observe room sessions.
//!
//! State listeners (`observe…`) get the current value first, then every
//! change; event listeners get events as they happen. All are called on an
//! SDK thread: return quickly (hand the value to an AsyncStream
//! continuation or a Flow).

use super::media::UTDParticipantQuality;
use crate::types::{
    UTDActiveSpeaker, UTDAudioFrame, UTDCall, UTDCallStatus, UTDLocalParticipant, UTDParticipant,
    UTDRoomEvent, UTDSeats, UTDStage, UTDStageRequest, UTDVideoFrame,
};

/// Receives a yes/no room state (connected, canPublish).
#[uniffi::export(with_foreign)]
pub trait UTDFlagListener: Send + Sync {
    /// The current value, then each change.
    fn on_value(&self, value: bool);
}

/// Receives the room's remote participants.
#[uniffi::export(with_foreign)]
pub trait UTDParticipantsListener: Send + Sync {
    /// Everyone else in the room (sorted by identity), now and after each change.
    fn on_participants(&self, participants: Vec<UTDParticipant>);
}

/// Receives this device's participant in the room.
#[uniffi::export(with_foreign)]
pub trait UTDLocalParticipantListener: Send + Sync {
    /// The current state (null while not connected), then each change.
    fn on_local_participant(&self, participant: Option<UTDLocalParticipant>);
}

/// Receives the raw room event stream.
#[uniffi::export(with_foreign)]
pub trait UTDRoomEventListener: Send + Sync {
    /// One event, in order.
    fn on_event(&self, event: UTDRoomEvent);
}

/// Receives the audio room's seat grid.
#[uniffi::export(with_foreign)]
pub trait UTDSeatsListener: Send + Sync {
    /// The current grid (once known), then each newer one.
    fn on_seats(&self, seats: UTDSeats);
}

/// Receives the live stream's stage.
#[uniffi::export(with_foreign)]
pub trait UTDStageListener: Send + Sync {
    /// The current stage (once known), then each newer one.
    fn on_stage(&self, stage: UTDStage);
}

/// Receives raised hands (host).
#[uniffi::export(with_foreign)]
pub trait UTDStageRequestListener: Send + Sync {
    /// A viewer asked to join the stage.
    fn on_stage_request(&self, request: UTDStageRequest);
}

/// Receives this device's view of a call's status.
#[uniffi::export(with_foreign)]
pub trait UTDCallStatusListener: Send + Sync {
    /// The current status (once there is a call), then each change.
    fn on_status(&self, status: UTDCallStatus);
}

/// Receives the engine's call object.
#[uniffi::export(with_foreign)]
pub trait UTDCallListener: Send + Sync {
    /// The current call (once there is one), then each newer one.
    fn on_call(&self, call: UTDCall);
}

/// Receives incoming calls (on every connected device of the callee).
#[uniffi::export(with_foreign)]
pub trait UTDCallInvitationListener: Send + Sync {
    /// Someone calls this user: everything a ringing UI needs is in `call`
    /// (id, caller identity and name, type, metadata). Answer through a
    /// call session of `call.streamType`.
    fn on_invitation(&self, call: UTDCall);
}

/// Receives decoded audio of one remote participant.
#[uniffi::export(with_foreign)]
pub trait UTDAudioFrameListener: Send + Sync {
    /// One frame (10 ms, 48 kHz mono), in order. Called on an SDK thread that
    /// is not a media thread; while it runs, newer frames queue (up to half a
    /// second, then the oldest are dropped).
    fn on_frame(&self, frame: UTDAudioFrame);
}

/// Receives decoded frames of one remote video track.
#[uniffi::export(with_foreign)]
pub trait UTDVideoFrameListener: Send + Sync {
    /// The newest frame (always I420). A listener slower than the frame rate
    /// gets the newest frame each time, never a backlog.
    fn on_frame(&self, frame: UTDVideoFrame);
}

/// Receives who is speaking.
#[uniffi::export(with_foreign)]
pub trait UTDSpeakersListener: Send + Sync {
    /// The speakers, loudest first (empty when nobody is), now and after
    /// each change.
    fn on_speakers(&self, speakers: Vec<UTDActiveSpeaker>);
}

/// Receives the media server's rating of each participant's connection.
#[uniffi::export(with_foreign)]
pub trait UTDConnectionQualityListener: Send + Sync {
    /// Every rated participant (this device too), sorted by identity, now
    /// and after each change.
    fn on_qualities(&self, qualities: Vec<UTDParticipantQuality>);
}
