//! Device push-token registration (storage only; dispatch needs APNS_*/FCM_*).

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::auth::User;
use super::errors::ApiError;
use super::extract::JsonBody;
use super::session::validate_profile;
use crate::ids::is_valid_text;
use crate::state::AppState;

/// Push platforms.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushPlatform {
    /// PushKit VoIP.
    ApnsVoip,
    /// Regular APNs.
    Apns,
    /// Firebase Cloud Messaging.
    Fcm,
}

impl PushPlatform {
    fn as_str(self) -> &'static str {
        match self {
            PushPlatform::ApnsVoip => "apns_voip",
            PushPlatform::Apns => "apns",
            PushPlatform::Fcm => "fcm",
        }
    }
}

/// Body of the registration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    platform: PushPlatform,
    token: String,
    device_id: Option<String>,
}

/// Body of the removal.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnregisterRequest {
    token: String,
}

fn validate_token(token: &str) -> Result<(), ApiError> {
    if is_valid_text(token, 4096) {
        Ok(())
    } else {
        Err(ApiError::invalid_argument(
            "token must be 1..=4096 characters",
        ))
    }
}

/// `POST /api/v1/devices/push-token`.
pub async fn register(
    State(state): State<AppState>,
    user: User,
    JsonBody(req): JsonBody<RegisterRequest>,
) -> Result<StatusCode, ApiError> {
    validate_token(&req.token)?;
    validate_profile(None, req.device_id.as_deref())?;
    let app_id = user.app.app_id.clone();
    let identity = user.session.identity.clone();
    let device = req.device_id.or(user.session.device_id.clone());
    state
        .db
        .call(move |c| {
            crate::db::push::register(
                c,
                &app_id,
                &identity,
                req.platform.as_str(),
                &req.token,
                device.as_deref(),
            )
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/devices/push-token`.
pub async fn unregister(
    State(state): State<AppState>,
    user: User,
    JsonBody(req): JsonBody<UnregisterRequest>,
) -> Result<StatusCode, ApiError> {
    validate_token(&req.token)?;
    let app_id = user.app.app_id.clone();
    let identity = user.session.identity.clone();
    state
        .db
        .call(move |c| crate::db::push::unregister(c, &app_id, &identity, &req.token))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
