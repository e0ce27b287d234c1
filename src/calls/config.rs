//! What the calls kit needs to run, given once by the host app.

use crate::push::UTDPushToken;

/// The calls kit's configuration: the publishable app credentials (never a
/// server secret), who the user is, and what to register.
#[derive(Clone, uniffi::Record)]
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

impl std::fmt::Debug for UTDCallsConfig {
    // The app key is treated like every credential the SDK holds: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UTDCallsConfig")
            .field("app_id", &self.app_id)
            .field("app_key", &"[redacted]")
            .field("base_url", &self.base_url)
            .field("token_base_url", &self.token_base_url)
            .field("user_id", &self.user_id)
            .field("user_name", &self.user_name)
            .field("device_id", &self.device_id)
            .field("push_tokens", &self.push_tokens)
            .field("state_directory", &self.state_directory)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::UTDPushPlatform;

    #[test]
    fn debug_hides_the_app_key_and_shows_token_prefixes_only() {
        let config = UTDCallsConfig {
            app_id: "app_1".into(),
            app_key: "pk_live_secretish".into(),
            base_url: "http://127.0.0.1:1".into(),
            token_base_url: None,
            user_id: "u".into(),
            user_name: None,
            device_id: None,
            push_tokens: vec![UTDPushToken {
                platform: UTDPushPlatform::ApnsVoip,
                token: "abcdef0123456789abcdef".into(),
            }],
            state_directory: None,
        };
        let debug = format!("{config:?}");
        assert!(!debug.contains("pk_live_secretish"), "{debug}");
        assert!(!debug.contains("abcdef0123456789"), "{debug}");
        assert!(debug.contains("app_1"), "{debug}");
    }
}
