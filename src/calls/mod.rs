//! The calls kit's core: `UTDCallController` (utd_calls_kit.txt) over the
//! client's sessions, signalling and push parsing.
//!
//! One ledger ([`registry`]) turns every way a call can be heard of (VoIP /
//! FCM push, WebSocket invitation, pending list, reconcile) into one
//! incoming call per call id; [`intents`] keeps an answer tapped before the
//! controller is ready; [`timings`] shows where time to first audio goes.
//! The platform layers (CallKit / PushKit, ConnectionService / FCM) sit on
//! the exported controller and hold no call logic of their own.

pub mod config;
pub mod controller;
pub mod exported;
pub mod intents;
pub mod registry;
pub mod timings;

pub use config::UTDCallsConfig;
pub use exported::{
    UTDAcceptOutcome, UTDCallController, UTDCallControllerEvent, UTDCallControllerListener,
    UTDPushAction, UTDReconcileResult,
};
pub use registry::{UTDCallSource, UTDIncomingCall};
pub use timings::UTDCallTimings;
