//! What the calls kit needs to run, given once by the host app.

use crate::push::UTDPushToken;

/// The calls kit's configuration: the publishable app credentials (never a
/// server secret), who the user is, and what to register.
#[derive(Debug, Clone, uniffi::Record)]
pub struct UTDCallsConfig {
    /// The app id.
    pub app_id: String,
    /// The publishable app key.
    pub app_key: String,
    /// The engine's REST base URL.
    pub base_url: String,
    /// Where room tokens are minted (defaults to `baseUrl`).
    #[uniffi(default = None)]
    pub token_base_url: Option<String>,
    /// The signed-in user's identity.
    pub user_id: String,
    /// The user's display name (callers see it).
    #[uniffi(default = None)]
    pub user_name: Option<String>,
    /// A stable id of this device (an install id): tells this device's
    /// answer from the user's other devices.
    #[uniffi(default = None)]
    pub device_id: Option<String>,
    /// Push tokens to register on `init()` (VoIP on iOS, FCM on Android).
    /// Empty: calls ring only while the app is connected.
    #[uniffi(default = [])]
    pub push_tokens: Vec<UTDPushToken>,
    /// A directory of the app's (e.g. Application Support / filesDir) where
    /// an answer tapped before the controller is ready is kept until it is
    /// carried out, across a killed process. Null: kept in memory only.
    #[uniffi(default = None)]
    pub state_directory: Option<String>,
}
