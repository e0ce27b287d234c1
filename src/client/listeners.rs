//! Listener interfaces the app implements to observe the client.
//!
//! Each `observe…` call delivers the current value first, then every
//! change, on an SDK thread; return quickly (hand the value to an
//! AsyncStream continuation or a StateFlow).

use crate::types::{UTDCapabilities, UTDConnectionState, UTDPresence};

/// Receives signalling connection state changes.
#[uniffi::export(with_foreign)]
pub trait UTDConnectionStateListener: Send + Sync {
    /// The current state, then each new one.
    fn on_connection_state(&self, state: UTDConnectionState);
}

/// Receives plan capability changes (after each session mint / reconnect).
#[uniffi::export(with_foreign)]
pub trait UTDCapabilitiesListener: Send + Sync {
    /// The current capabilities, then each change.
    fn on_capabilities(&self, capabilities: UTDCapabilities);
}

/// Receives the presence of watched users.
#[uniffi::export(with_foreign)]
pub trait UTDPresenceListener: Send + Sync {
    /// Presence of every watched user with a known state, sorted by identity.
    fn on_presence(&self, presence: Vec<UTDPresence>);
}
