//! The thin UniFFI layer over the room sessions: exported objects that run
//! each call on the SDK runtime and convert to the exported value types.

mod audio_room;
mod call;
mod handle;
mod listeners;
mod live_stream;
mod media;
mod room;

pub use audio_room::UTDAudioRoomSession;
pub use call::UTDCallSession;
pub use listeners::{
    UTDAudioFrameListener, UTDCallInvitationListener, UTDCallListener, UTDCallStatusListener,
    UTDConnectionQualityListener, UTDFlagListener, UTDLocalParticipantListener,
    UTDParticipantsListener, UTDRoomEventListener, UTDSeatsListener, UTDSpeakersListener,
    UTDStageListener, UTDStageRequestListener, UTDVideoFrameListener,
};
pub use live_stream::UTDLiveStreamSession;
pub use media::{UTDAudioFrameSink, UTDParticipantQuality, UTDVideoFrameSink};
pub use room::UTDRoom;
