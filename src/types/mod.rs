//! Plain value types shared by every part of the SDK.

mod call_status;
mod connection;
mod session;
mod stream_type;

pub use call_status::UTDCallStatus;
pub use connection::{UTDConnectionState, UTDPresence};
pub use session::{UTDCapabilities, UTDPlanLimits};
pub use stream_type::UTDStreamType;
