//! Device push tokens (docs/engine-api.md §4): register and unregister.

use reqwest::Method;
use serde::Serialize;

use super::credentials::BearerToken;
use super::{Auth, EngineApi};
use crate::error::UTDStreamError;

/// The engine's limit on a token's length.
pub const MAX_PUSH_TOKEN_CHARS: usize = 4096;

#[derive(Serialize)]
struct Register<'a> {
    platform: &'a str,
    token: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_id: Option<&'a str>,
}

#[derive(Serialize)]
struct Unregister<'a> {
    token: &'a str,
}

/// Checked before a token reaches the engine, so the app learns of an
/// empty or oversized token without a round trip.
pub fn validate_push_token(token: &str) -> Result<(), UTDStreamError> {
    let chars = token.chars().count();
    if chars == 0 || chars > MAX_PUSH_TOKEN_CHARS || token.chars().any(char::is_control) {
        return Err(UTDStreamError::invalid_argument(format!(
            "a push token is 1..={MAX_PUSH_TOKEN_CHARS} printable characters"
        )));
    }
    Ok(())
}

impl EngineApi {
    /// `POST /devices/push-token`: this device's token for `platform`
    /// (`apns_voip`, `apns`, `fcm`); the engine drops the device's previous
    /// token of that platform.
    pub async fn register_push_token(
        &self,
        bearer: &BearerToken,
        platform: &str,
        token: &str,
        device_id: Option<&str>,
    ) -> Result<(), UTDStreamError> {
        validate_push_token(token)?;
        let body = Register {
            platform,
            token,
            device_id,
        };
        self.call_no_content(
            Method::POST,
            self.base(),
            "api/v1/devices/push-token",
            Auth::User(bearer),
            Some(&body),
        )
        .await
    }

    /// `DELETE /devices/push-token` (idempotent).
    pub async fn unregister_push_token(
        &self,
        bearer: &BearerToken,
        token: &str,
    ) -> Result<(), UTDStreamError> {
        validate_push_token(token)?;
        self.call_no_content(
            Method::DELETE,
            self.base(),
            "api/v1/devices/push-token",
            Auth::User(bearer),
            Some(&Unregister { token }),
        )
        .await
    }
}
