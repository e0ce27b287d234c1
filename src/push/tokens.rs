//! This device's push tokens, as the client remembers them.
//!
//! One token per platform: a rotated token replaces the previous one (the
//! engine drops the device's old token of that platform too). The client
//! keeps them so a new session re-registers them and sign-out removes them.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Which push service a token belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, uniffi::Enum)]
pub enum UTDPushPlatform {
    /// PushKit VoIP (iOS incoming calls).
    ApnsVoip,
    /// Regular APNs alerts (iOS chat notifications).
    Apns,
    /// Firebase Cloud Messaging (Android).
    Fcm,
}

impl UTDPushPlatform {
    /// The engine's name of the platform.
    pub fn as_wire(self) -> &'static str {
        match self {
            Self::ApnsVoip => "apns_voip",
            Self::Apns => "apns",
            Self::Fcm => "fcm",
        }
    }
}

/// A push token of this device.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct UTDPushToken {
    /// The push service.
    pub platform: UTDPushPlatform,
    /// The token the platform handed out (hex for APNs).
    pub token: String,
}

impl std::fmt::Debug for UTDPushToken {
    // A device token addresses one phone: logs get a prefix only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UTDPushToken")
            .field("platform", &self.platform)
            .field("token", &token_prefix(&self.token))
            .finish()
    }
}

/// The first characters of a token, for logs.
pub fn token_prefix(token: &str) -> String {
    let prefix: String = token.chars().take(8).collect();
    format!("{prefix}…")
}

/// The tokens registered through one client, one per platform.
#[derive(Debug, Default)]
pub struct PushTokens(Mutex<BTreeMap<UTDPushPlatform, String>>);

impl PushTokens {
    /// Remembers `token`; returns the token of that platform it replaces
    /// (None when new or unchanged).
    pub fn remember(&self, platform: UTDPushPlatform, token: &str) -> Option<String> {
        let previous = self.lock().insert(platform, token.to_owned());
        previous.filter(|old| old != token)
    }

    /// Forgets the token of `platform` if it is still `token`.
    pub fn forget(&self, platform: UTDPushPlatform, token: &str) {
        let mut map = self.lock();
        if map.get(&platform).is_some_and(|t| t == token) {
            map.remove(&platform);
        }
    }

    /// Every remembered token.
    pub fn all(&self) -> Vec<UTDPushToken> {
        self.lock()
            .iter()
            .map(|(platform, token)| UTDPushToken {
                platform: *platform,
                token: token.clone(),
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<UTDPushPlatform, String>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotated_token_replaces_the_old_one_of_its_platform_only() {
        let tokens = PushTokens::default();
        assert_eq!(tokens.remember(UTDPushPlatform::Fcm, "f1"), None);
        assert_eq!(tokens.remember(UTDPushPlatform::ApnsVoip, "v1"), None);
        assert_eq!(tokens.remember(UTDPushPlatform::Fcm, "f1"), None);
        assert_eq!(
            tokens.remember(UTDPushPlatform::Fcm, "f2"),
            Some("f1".to_owned())
        );
        tokens.forget(UTDPushPlatform::ApnsVoip, "other");
        assert_eq!(tokens.all().len(), 2);
        tokens.forget(UTDPushPlatform::ApnsVoip, "v1");
        assert_eq!(
            tokens.all(),
            [UTDPushToken {
                platform: UTDPushPlatform::Fcm,
                token: "f2".into()
            }]
        );
    }

    #[test]
    fn debug_shows_a_prefix_only() {
        let t = UTDPushToken {
            platform: UTDPushPlatform::ApnsVoip,
            token: "0123456789abcdef0123".into(),
        };
        let debug = format!("{t:?}");
        assert!(!debug.contains("0123456789abcdef"), "{debug}");
    }
}
