//! Authentication extractors: app headers, user bearer, admin bearer.
//!
//! Identity and app always come from the engine's own records: the bearer
//! names a stored session, which names its app.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::HeaderMap;

use super::errors::ApiError;
use crate::db::apps::AppRecord;
use crate::db::sessions::SessionRecord;
use crate::ids::{constant_time_eq, looks_like_user_token, now_ms, sha256};
use crate::state::AppState;

/// Header carrying the public app id.
pub const APP_ID_HEADER: &str = "x-utd-app-id";
/// Header carrying the publishable app key.
pub const APP_KEY_HEADER: &str = "x-utd-app-key";

/// The bearer of `Authorization: Bearer <token>`, if any.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then(|| token.to_owned())
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// An authenticated user (bearer), already checked for bans and rate limits.
#[derive(Debug, Clone)]
pub struct User {
    /// The user's app.
    pub app: AppRecord,
    /// The session the bearer names.
    pub session: SessionRecord,
    /// The bearer itself (echoed back by the token mint; never logged).
    pub token: String,
}

/// Resolves a bearer to a live session. 401 for anything unknown, expired or
/// revoked; 403 banned while the identity is banned.
pub(crate) async fn authenticate_bearer(state: &AppState, token: &str) -> Result<User, ApiError> {
    if !looks_like_user_token(token) {
        return Err(ApiError::unauthenticated("invalid bearer token"));
    }
    let hash = sha256(token);
    let found = match state.sessions.get(&hash) {
        Some(cached) => cached,
        None => {
            let found = state
                .db
                .read(move |c| crate::db::sessions::lookup(c, &hash))
                .await?;
            let Some(found) = found else {
                return Err(ApiError::unauthenticated("invalid bearer token"));
            };
            state.sessions.put(found.clone());
            found
        }
    };
    if found.banned {
        return Err(ApiError::banned());
    }
    if found.session.revoked_at_ms.is_some() {
        return Err(ApiError::unauthenticated("session revoked"));
    }
    if found.session.expires_at_ms <= now_ms() {
        return Err(ApiError::unauthenticated("session expired"));
    }
    Ok(User {
        app: found.app,
        session: found.session,
        token: token.to_owned(),
    })
}

/// Applies both token buckets for one request.
/// On a cluster node the buckets are shared by every node (in Redis); if
/// Redis cannot answer, the request is admitted (as a restarted engine
/// would, with full buckets) rather than the API going down with it.
pub(crate) async fn rate_limit(
    state: &AppState,
    app: &AppRecord,
    identity: &str,
) -> Result<(), ApiError> {
    let (user_rate, app_rate) = (app.per_user_per_minute, app.per_app_per_minute);
    let verdict = match state.hub.cluster() {
        Some(link) => match link
            .limiter
            .check(&app.app_id, identity, user_rate, app_rate)
            .await
        {
            Ok(verdict) => verdict,
            Err(e) => {
                tracing::warn!(error = %e, "shared rate limit unavailable; admitted");
                Ok(())
            }
        },
        None => state
            .limiter
            .check(&app.app_id, identity, user_rate, app_rate),
    };
    verdict.map_err(|l| ApiError::rate_limited(l.retry_after.as_millis().max(1) as u64))
}

/// App headers sent next to a bearer must name the bearer's app (so a bearer
/// of another app is refused rather than silently acting there).
fn check_app_headers(headers: &HeaderMap, app: &AppRecord) -> Result<(), ApiError> {
    if let Some(id) = header_str(headers, APP_ID_HEADER) {
        if id != app.app_id {
            return Err(ApiError::unauthenticated("bearer belongs to another app"));
        }
    }
    if let Some(key) = header_str(headers, APP_KEY_HEADER) {
        if !constant_time_eq(key.as_bytes(), app.app_key.as_bytes()) {
            return Err(ApiError::unauthenticated("bearer belongs to another app"));
        }
    }
    Ok(())
}

impl FromRequestParts<AppState> for User {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token =
            bearer(&parts.headers).ok_or_else(|| ApiError::unauthenticated("missing bearer"))?;
        let user = authenticate_bearer(state, &token).await?;
        check_app_headers(&parts.headers, &user.app)?;
        rate_limit(state, &user.app, &user.session.identity).await?;
        Ok(user)
    }
}

/// A request authenticated with the publishable app id + key.
#[derive(Debug, Clone)]
pub struct AppAuth(pub AppRecord);

impl FromRequestParts<AppState> for AppAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (Some(id), Some(key)) = (
            header_str(&parts.headers, APP_ID_HEADER),
            header_str(&parts.headers, APP_KEY_HEADER),
        ) else {
            return Err(ApiError::unauthenticated("missing app id or app key"));
        };
        if id.is_empty() || id.len() > 64 {
            return Err(ApiError::unauthenticated("unknown app or wrong app key"));
        }
        let app = match state.sessions.app(id) {
            Some(app) => Some(app),
            None => {
                let id = id.to_owned();
                let app = state
                    .db
                    .read(move |c| crate::db::apps::get_app(c, &id))
                    .await?;
                if let Some(app) = &app {
                    state.sessions.put_app(app.clone());
                }
                app
            }
        };
        match app {
            Some(app) if constant_time_eq(key.as_bytes(), app.app_key.as_bytes()) => {
                Ok(AppAuth(app))
            }
            _ => Err(ApiError::unauthenticated("unknown app or wrong app key")),
        }
    }
}

/// Either a bearer (preferred when present) or app headers.
#[derive(Debug, Clone)]
pub enum UserOrApp {
    /// Bearer-authenticated (banned/rate limits already applied).
    User(User),
    /// App headers only (the handler applies ban/rate limit per identity).
    App(AppRecord),
}

impl FromRequestParts<AppState> for UserOrApp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if parts.headers.contains_key(AUTHORIZATION) {
            User::from_request_parts(parts, state)
                .await
                .map(UserOrApp::User)
        } else {
            AppAuth::from_request_parts(parts, state)
                .await
                .map(|a| UserOrApp::App(a.0))
        }
    }
}

/// The admin bearer.
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers).unwrap_or_default();
        let expected = state.config.admin_token.as_bytes();
        if !expected.is_empty() && constant_time_eq(token.as_bytes(), expected) {
            Ok(Admin)
        } else {
            Err(ApiError::unauthenticated("admin token required"))
        }
    }
}
