//! `/admin/v1`: apps, plans, bans, rate limits (admin bearer).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::auth::Admin;
use super::errors::ApiError;
use super::extract::{ApiPath, JsonBody};
use super::session::validate_identity;
use super::session_cache::{forget, Forget};
use crate::db::apps::AppRecord;
use crate::ids::is_valid_text;
use crate::plans::{LimitOverrides, Limits, Plan};
use crate::state::AppState;

/// Body of create-app.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAppRequest {
    name: String,
    plan: Option<Plan>,
}

/// Reply of create-app: the only place the server secret is ever shown.
#[derive(Debug, Serialize, Deserialize)]
pub struct CreateAppResponse {
    /// App id.
    pub app_id: String,
    /// Publishable key.
    pub app_key: String,
    /// Server secret.
    pub server_secret: String,
    /// Plan.
    pub plan: Plan,
}

/// Rate limits of an app.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitsBody {
    /// Requests per minute per user.
    pub per_user_per_minute: u32,
    /// Requests per minute per app.
    pub per_app_per_minute: u32,
}

/// The App object (effective values, no secret).
#[derive(Debug, Serialize)]
pub struct AppView {
    app_id: String,
    name: String,
    app_key: String,
    plan: Plan,
    report_capabilities: bool,
    signaling_enabled: bool,
    messaging_enabled: bool,
    limits: Limits,
    rate_limits: RateLimitsBody,
    created_at_ms: u64,
}

/// Builds the App object.
pub fn app_view(app: &AppRecord) -> AppView {
    AppView {
        app_id: app.app_id.clone(),
        name: app.name.clone(),
        app_key: app.app_key.clone(),
        plan: app.plan,
        report_capabilities: app.report_capabilities,
        signaling_enabled: app.signaling_enabled(),
        messaging_enabled: app.messaging_enabled(),
        limits: app.limits(),
        rate_limits: RateLimitsBody {
            per_user_per_minute: app.per_user_per_minute,
            per_app_per_minute: app.per_app_per_minute,
        },
        created_at_ms: app.created_at_ms,
    }
}

/// Body of set-plan.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetPlanRequest {
    plan: Plan,
    report_capabilities: Option<bool>,
    signaling_enabled: Option<bool>,
    messaging_enabled: Option<bool>,
    limits: Option<LimitOverrides>,
}

/// Body of ban.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BanRequest {
    identity: String,
    reason: Option<String>,
}

fn unknown_app() -> ApiError {
    ApiError::not_found("no such app")
}

async fn load_app(state: &AppState, app_id: String) -> Result<AppRecord, ApiError> {
    state
        .db
        .call(move |c| crate::db::apps::get_app(c, &app_id))
        .await?
        .ok_or_else(unknown_app)
}

/// `POST /admin/v1/apps`.
pub async fn create_app(
    State(state): State<AppState>,
    _: Admin,
    JsonBody(req): JsonBody<CreateAppRequest>,
) -> Result<(StatusCode, Json<CreateAppResponse>), ApiError> {
    if !is_valid_text(&req.name, 128) {
        return Err(ApiError::invalid_argument(
            "name must be 1..=128 characters",
        ));
    }
    let plan = req.plan.unwrap_or(Plan::Free);
    let (user_rpm, app_rpm) = (
        state.config.default_per_user_per_minute,
        state.config.default_per_app_per_minute,
    );
    let created = state
        .db
        .call(move |c| crate::db::apps::create_app(c, &req.name, plan, user_rpm, app_rpm))
        .await?;
    tracing::info!(app_id = %created.record.app_id, plan = plan.as_str(), "app created");
    Ok((
        StatusCode::CREATED,
        Json(CreateAppResponse {
            app_id: created.record.app_id,
            app_key: created.record.app_key,
            server_secret: created.server_secret,
            plan,
        }),
    ))
}

/// `GET /admin/v1/apps/{app_id}`.
pub async fn get_app(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(app_id): ApiPath<String>,
) -> Result<Json<AppView>, ApiError> {
    Ok(Json(app_view(&load_app(&state, app_id).await?)))
}

fn check_limit(v: Option<i64>, max: i64) -> Result<(), ApiError> {
    match v {
        Some(v) if !(0..=max).contains(&v) => Err(ApiError::invalid_argument(format!(
            "limits must be within 0..={max}"
        ))),
        _ => Ok(()),
    }
}

/// `PUT /admin/v1/apps/{app_id}/plan`.
pub async fn set_plan(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(app_id): ApiPath<String>,
    JsonBody(req): JsonBody<SetPlanRequest>,
) -> Result<Json<AppView>, ApiError> {
    let limits = req.limits.unwrap_or_default();
    check_limit(limits.history_days, 100_000)?;
    check_limit(limits.max_group_members, 10_000_000)?;
    check_limit(limits.max_friends, 10_000_000)?;
    check_limit(limits.max_chatrooms, 10_000_000)?;
    check_limit(limits.max_upload_bytes, 10 * 1024 * 1024 * 1024)?;
    let id = app_id.clone();
    let found = state
        .db
        .call(move |c| {
            crate::db::apps::set_plan(
                c,
                &id,
                req.plan,
                req.report_capabilities.unwrap_or(true),
                req.signaling_enabled,
                req.messaging_enabled,
                &limits,
            )
        })
        .await?;
    if !found {
        return Err(unknown_app());
    }
    forget(&state, Forget::App(app_id.clone()));
    let app = load_app(&state, app_id).await?;
    if !app.signaling_enabled() {
        state
            .hub
            .close_app(&app.app_id, 4403, "feature_disabled:signaling");
    }
    tracing::info!(app_id = %app.app_id, plan = app.plan.as_str(), "plan changed");
    Ok(Json(app_view(&app)))
}

/// `POST /admin/v1/apps/{app_id}/bans`.
pub async fn ban(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(app_id): ApiPath<String>,
    JsonBody(req): JsonBody<BanRequest>,
) -> Result<StatusCode, ApiError> {
    validate_identity(&req.identity)?;
    if req.reason.as_ref().is_some_and(|r| r.chars().count() > 512) {
        return Err(ApiError::invalid_argument(
            "reason must be at most 512 characters",
        ));
    }
    let (id, identity) = (app_id.clone(), req.identity.clone());
    let found = state
        .db
        .call(move |c| crate::db::apps::ban(c, &id, &identity, req.reason.as_deref()))
        .await?;
    if !found {
        return Err(unknown_app());
    }
    forget(
        &state,
        Forget::User {
            app_id: app_id.clone(),
            identity: req.identity.clone(),
        },
    );
    state.hub.close_user(&app_id, &req.identity, 4403, "banned");
    tracing::info!(app_id, identity = %req.identity, "identity banned");
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /admin/v1/apps/{app_id}/bans/{identity}`.
pub async fn unban(
    State(state): State<AppState>,
    _: Admin,
    ApiPath((app_id, identity)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    validate_identity(&identity)?;
    let (a, i) = (app_id.clone(), identity.clone());
    let found = state
        .db
        .call(move |c| crate::db::apps::unban(c, &a, &i))
        .await?;
    if found {
        forget(&state, Forget::User { app_id, identity });
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(unknown_app())
    }
}

/// `PUT /admin/v1/apps/{app_id}/rate-limits`.
pub async fn set_rate_limits(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(app_id): ApiPath<String>,
    JsonBody(req): JsonBody<RateLimitsBody>,
) -> Result<Json<RateLimitsBody>, ApiError> {
    let range = 1..=1_000_000;
    if !range.contains(&req.per_user_per_minute) || !range.contains(&req.per_app_per_minute) {
        return Err(ApiError::invalid_argument(
            "rate limits must be within 1..=1000000 per minute",
        ));
    }
    let id = app_id.clone();
    let found = state
        .db
        .call(move |c| {
            crate::db::apps::set_rate_limits(
                c,
                &id,
                req.per_user_per_minute,
                req.per_app_per_minute,
            )
        })
        .await?;
    if found {
        forget(&state, Forget::App(app_id));
        Ok(Json(req))
    } else {
        Err(unknown_app())
    }
}
