//! Credentials the SDK holds, in types whose Debug output never shows them.
//!
//! The app ships only the publishable app id + app key. The per-user bearer
//! is minted by the engine. Neither is ever printed by `{:?}`: a struct that
//! holds one can derive Debug safely.

use std::fmt;

/// The publishable pair that identifies the app to the engine.
#[derive(Clone, PartialEq, Eq)]
pub struct AppCredentials {
    /// Publishable app id (safe to show).
    pub app_id: String,
    app_key: Secret,
}

impl AppCredentials {
    /// Pairs an app id with its publishable key.
    pub fn new(app_id: String, app_key: String) -> Self {
        Self {
            app_id,
            app_key: Secret(app_key),
        }
    }

    /// The key, for the request header only.
    pub fn app_key(&self) -> &str {
        &self.app_key.0
    }
}

impl fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppCredentials")
            .field("app_id", &self.app_id)
            .field("app_key", &self.app_key)
            .finish()
    }
}

/// A bearer token (engine user session or LiveKit room JWT).
#[derive(Clone, PartialEq, Eq)]
pub struct BearerToken(Secret);

impl BearerToken {
    /// Wraps a token received from the engine.
    pub fn new(token: String) -> Self {
        Self(Secret(token))
    }

    /// The raw token, for an `Authorization` header or a LiveKit connect.
    pub fn expose(&self) -> &str {
        &self.0 .0
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BearerToken({:?})", self.0)
    }
}

/// A string that prints as `[redacted; N chars]`.
#[derive(Clone, PartialEq, Eq)]
struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[redacted; {} chars]", self.0.chars().count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_contains_the_secret() {
        let app = AppCredentials::new("app_1".into(), "pk_live_abcdef".into());
        let bearer = BearerToken::new("utdst_0123456789".into());
        let shown = format!("{app:?} {bearer:?} {:#?}", (&app, &bearer));
        assert!(!shown.contains("pk_live_abcdef"), "{shown}");
        assert!(!shown.contains("utdst_0123456789"), "{shown}");
        assert!(shown.contains("app_1"));
        assert_eq!(bearer.expose(), "utdst_0123456789");
    }
}
