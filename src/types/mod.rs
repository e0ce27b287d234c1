//! Plain value types shared by every part of the SDK.

mod call_status;
mod stream_type;

pub use call_status::UTDCallStatus;
pub use stream_type::UTDStreamType;
