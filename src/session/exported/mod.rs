//! The thin UniFFI layer over the room sessions: exported objects that run
//! each call on the SDK runtime and convert to the exported value types.

mod audio_room;
mod call;
mod handle;
mod listeners;
mod live_stream;
mod room;

pub use audio_room::UTDAudioRoomSession;
pub use call::UTDCallSession;
pub use listeners::{
    UTDCallInvitationListener, UTDCallListener, UTDCallStatusListener, UTDFlagListener,
    UTDLocalParticipantListener, UTDParticipantsListener, UTDRoomEventListener, UTDSeatsListener,
    UTDStageListener, UTDStageRequestListener,
};
pub use live_stream::UTDLiveStreamSession;
pub use room::UTDRoom;
