//! Signalling connection state and presence, as the app observes them.

/// State of the signalling WebSocket.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum UTDConnectionState {
    /// Not connected and not trying (before `connect()`, after `disconnect()`).
    Disconnected,
    /// First connection attempt in progress.
    Connecting,
    /// Connected and authenticated; events flow.
    Connected,
    /// The connection dropped; the SDK retries by itself.
    Reconnecting {
        /// 1 for the first retry, 2 for the next, ...
        attempt: u32,
        /// When the next attempt starts, in milliseconds from now.
        retry_in_ms: u64,
        /// Why the connection was lost (no secrets).
        reason: String,
    },
    /// The engine refused the connection for good (banned, signalling not
    /// in the plan). The SDK does not retry; `connect()` again to try.
    Failed {
        /// The engine's machine code (`banned`, `feature_disabled`, ...).
        code: String,
        /// Human-readable explanation.
        message: String,
    },
}

/// Whether a watched user is online.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UTDPresence {
    /// The watched user.
    pub identity: String,
    /// True while at least one of their devices is connected.
    pub online: bool,
    /// When they were last seen online (ms since the Unix epoch), if ever.
    pub last_seen_ms: Option<u64>,
}
