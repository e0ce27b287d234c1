//! Push: this device's push tokens, the call pushes the engine sends
//! (APNs VoIP / FCM data) and the CallKit UUID of a call.
//!
//! Everything here is pure or in-memory: parsing a push and deriving its
//! UUID do no I/O, so a PushKit handler can report the call before it
//! returns.

pub mod callkit_uuid;
pub mod payload;
pub mod tokens;

pub use callkit_uuid::call_kit_uuid;
pub use payload::{UTDCallEndedPush, UTDCallPush, UTDCallPushEvent};
pub use tokens::{PushTokens, UTDPushPlatform, UTDPushToken};
