//! UTD Stream: a headless real-time audio/video SDK.
//!
//! The Rust core is idiomatic async Rust; the items marked `#[uniffi::export]`
//! (and the `uniffi::*` derives) form the public Swift / Kotlin surface.
//! See `docs/architecture.md` for the layers.

uniffi::setup_scaffolding!();

pub mod api;
pub mod auth;
pub mod calls;
pub mod chat;
pub mod client;
pub mod error;
pub mod logging;
pub mod media;
pub mod observe;
pub mod push;
pub mod runtime;
pub mod session;
pub mod signalling;
pub mod subscription;
pub mod types;
pub mod version;

pub use client::UTDStreamClient;
pub use error::{UTDErrorCode, UTDStreamError};
pub use subscription::UTDSubscription;
pub use types::{UTDCallStatus, UTDStreamType};
