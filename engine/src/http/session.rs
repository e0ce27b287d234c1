//! Session mint, revoke and `/me`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::auth::{rate_limit, AppAuth, User};
use super::errors::ApiError;
use super::extract::JsonBody;
use crate::db::apps::AppRecord;
use crate::db::sessions::SessionRecord;
use crate::ids::{is_valid_name_token, is_valid_text, new_user_token};
use crate::plans::Plan;
use crate::state::AppState;

/// Plan limits as reported (null when the app does not report them).
#[derive(Debug, Clone, Serialize)]
pub struct LimitsView {
    /// History retention in days.
    pub history_days: Option<i64>,
    /// Largest group.
    pub max_group_members: Option<i64>,
    /// Largest friend list.
    pub max_friends: Option<i64>,
    /// Number of chat rooms.
    pub max_chatrooms: Option<i64>,
    /// Largest chat attachment in bytes (0: no uploads).
    pub max_upload_bytes: Option<i64>,
}

/// The Session object of the contract (`/me`, and the mint minus `user_token`).
#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    /// Identity.
    pub identity: String,
    /// Display name.
    pub name: Option<String>,
    /// Device id.
    pub device_id: Option<String>,
    /// Expiry.
    pub expires_at_ms: u64,
    /// Plan.
    pub plan: Plan,
    /// Signaling capability (null when not reported).
    pub signaling_enabled: Option<bool>,
    /// Chat capability (null when not reported).
    pub messaging_enabled: Option<bool>,
    /// Limits.
    pub limits: LimitsView,
}

/// Builds the Session object for a session of an app.
pub fn session_view(app: &AppRecord, session: &SessionRecord) -> SessionView {
    let report = app.report_capabilities;
    let limits = app.limits();
    SessionView {
        identity: session.identity.clone(),
        name: session.name.clone(),
        device_id: session.device_id.clone(),
        expires_at_ms: session.expires_at_ms,
        plan: app.plan,
        signaling_enabled: report.then(|| app.signaling_enabled()),
        messaging_enabled: report.then(|| app.messaging_enabled()),
        limits: LimitsView {
            history_days: report.then_some(limits.history_days),
            max_group_members: report.then_some(limits.max_group_members),
            max_friends: report.then_some(limits.max_friends),
            max_chatrooms: report.then_some(limits.max_chatrooms),
            max_upload_bytes: report.then_some(limits.max_upload_bytes),
        },
    }
}

/// Body of `POST /api/v1/auth/session`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintRequest {
    identity: String,
    name: Option<String>,
    device_id: Option<String>,
}

/// Reply of the mint: the bearer plus the Session object.
#[derive(Debug, Serialize)]
pub struct MintResponse {
    /// The new bearer.
    pub user_token: String,
    /// The session.
    #[serde(flatten)]
    pub session: SessionView,
}

/// Validates the optional display name and device id of a request.
pub(crate) fn validate_profile(
    name: Option<&str>,
    device_id: Option<&str>,
) -> Result<(), ApiError> {
    if name.is_some_and(|n| !is_valid_text(n, 128)) {
        return Err(ApiError::invalid_argument(
            "name must be 1..=128 characters",
        ));
    }
    if device_id.is_some_and(|d| !is_valid_text(d, 128)) {
        return Err(ApiError::invalid_argument(
            "device_id must be 1..=128 characters",
        ));
    }
    Ok(())
}

/// Validates an identity.
pub(crate) fn validate_identity(identity: &str) -> Result<(), ApiError> {
    if is_valid_name_token(identity) {
        Ok(())
    } else {
        Err(ApiError::invalid_argument(
            "identity must be 1..=128 characters of [A-Za-z0-9_.@:-]",
        ))
    }
}

/// Checks the ban list and the rate limit for an identity claimed with app
/// headers. Writes nothing.
pub(crate) async fn admit_identity(
    state: &AppState,
    app: &AppRecord,
    identity: &str,
) -> Result<(), ApiError> {
    let (app_id, ident) = (app.app_id.clone(), identity.to_owned());
    let banned = state
        .db
        .read(move |c| crate::db::apps::is_banned(c, &app_id, &ident))
        .await?;
    if banned {
        return Err(ApiError::banned());
    }
    rate_limit(state, app, identity).await
}

/// Stores a new session and returns its bearer; refused with `banned` when
/// the identity is banned, checked in the same transaction (so a ban that
/// lands between a request's checks and its session wins).
pub(crate) async fn store_session(
    state: &AppState,
    app: &AppRecord,
    identity: &str,
    name: Option<&str>,
    device_id: Option<&str>,
) -> Result<(String, SessionRecord), ApiError> {
    let token = new_user_token();
    let ttl_ms = state.config.session_ttl.as_millis() as u64;
    let (t, app_id, ident) = (token.clone(), app.app_id.clone(), identity.to_owned());
    let (name, device_id) = (name.map(str::to_owned), device_id.map(str::to_owned));
    let record = state
        .db
        .call(move |c| {
            if crate::db::apps::is_banned(c, &app_id, &ident)? {
                return Ok(None);
            }
            crate::db::sessions::insert_session(
                c,
                &t,
                &app_id,
                &ident,
                name.as_deref(),
                device_id.as_deref(),
                ttl_ms,
            )
            .map(Some)
        })
        .await?
        .ok_or_else(ApiError::banned)?;
    tracing::info!(app_id = %app.app_id, identity, "session minted");
    Ok((token, record))
}

/// `POST /api/v1/auth/session`.
pub async fn mint(
    State(state): State<AppState>,
    AppAuth(app): AppAuth,
    JsonBody(req): JsonBody<MintRequest>,
) -> Result<Json<MintResponse>, ApiError> {
    validate_identity(&req.identity)?;
    validate_profile(req.name.as_deref(), req.device_id.as_deref())?;
    // The ban is checked by the insert's own transaction: one database call
    // per mint.
    rate_limit(&state, &app, &req.identity).await?;
    let (user_token, record) = store_session(
        &state,
        &app,
        &req.identity,
        req.name.as_deref(),
        req.device_id.as_deref(),
    )
    .await?;
    Ok(Json(MintResponse {
        user_token,
        session: session_view(&app, &record),
    }))
}

/// `DELETE /api/v1/auth/session`.
pub async fn revoke(State(state): State<AppState>, user: User) -> Result<StatusCode, ApiError> {
    let hash = user.session.token_sha256.clone();
    state
        .db
        .call(move |c| crate::db::sessions::revoke(c, &hash))
        .await?;
    crate::http::session_cache::forget(
        &state,
        crate::http::session_cache::Forget::Session(user.session.token_sha256.clone()),
    );
    state.hub.close_session(
        &user.app.app_id,
        &user.session.identity,
        &user.session.token_sha256,
        4401,
        "unauthenticated",
    );
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/me`.
pub async fn me(user: User) -> Json<SessionView> {
    Json(session_view(&user.app, &user.session))
}
