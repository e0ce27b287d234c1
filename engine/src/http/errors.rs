//! The one error shape of the API: `{"error":{"code","message",...}}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::db::DbError;

/// Machine error codes of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 401.
    Unauthenticated,
    /// 403, the identity is banned.
    Banned,
    /// 403, a paid capability is off.
    FeatureDisabled,
    /// 403, not allowed.
    Forbidden,
    /// 429.
    RateLimited,
    /// 404.
    NotFound,
    /// 409, lost a race.
    Conflict,
    /// 400 (and 405).
    InvalidArgument,
    /// 409, illegal transition.
    InvalidState,
    /// 403, a plan limit would be exceeded; `limit` names it.
    LimitReached,
    /// 500.
    Internal,
}

/// A paid capability named by `feature_disabled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Calls, presence, rooms signalling.
    Signaling,
    /// Chat, typing, uploads.
    Chat,
}

/// An API error, rendered as the contract's JSON body.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    message: String,
    capability: Option<Capability>,
    retry_after_ms: Option<u64>,
    limit: Option<&'static str>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: ErrorCode,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    capability: Option<Capability>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<&'static str>,
}

impl ApiError {
    fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            capability: None,
            retry_after_ms: None,
            limit: None,
        }
    }

    /// 401 unauthenticated.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            message,
        )
    }

    /// 403 banned.
    pub fn banned() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Banned,
            "this user is banned",
        )
    }

    /// 403 feature_disabled naming the capability.
    pub fn feature_disabled(capability: Capability) -> Self {
        let what = match capability {
            Capability::Signaling => "signaling",
            Capability::Chat => "chat",
        };
        let mut e = Self::new(
            StatusCode::FORBIDDEN,
            ErrorCode::FeatureDisabled,
            format!("the {what} capability is not enabled for this app's plan"),
        );
        e.capability = Some(capability);
        e
    }

    /// 403 forbidden.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
    }

    /// 403 limit_reached naming the plan limit (`max_group_members`, …).
    pub fn limit_reached(limit: &'static str, message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::FORBIDDEN, ErrorCode::LimitReached, message);
        e.limit = Some(limit);
        e
    }

    /// 429 rate_limited.
    pub fn rate_limited(retry_after_ms: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            "too many requests",
        );
        e.retry_after_ms = Some(retry_after_ms);
        e
    }

    /// 404 not_found.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, message)
    }

    /// 409 conflict.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, ErrorCode::Conflict, message)
    }

    /// 400 invalid_argument.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidArgument, message)
    }

    /// 405 with code invalid_argument.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::InvalidArgument,
            "method not allowed on this path",
        )
    }

    /// 409 invalid_state.
    pub fn invalid_state(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, ErrorCode::InvalidState, message)
    }

    /// 500 internal.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            message,
        )
    }

    /// The machine code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The retry delay of `rate_limited`.
    pub fn retry_after_ms(&self) -> Option<u64> {
        self.retry_after_ms
    }
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        // The detail goes to the log, not to the client.
        tracing::error!(error = %err, "storage failure");
        ApiError::internal("storage failure")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                capability: self.capability,
                retry_after_ms: self.retry_after_ms,
                limit: self.limit,
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(ms) = self.retry_after_ms {
            let secs = ms.div_ceil(1000).max(1);
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

/// Fallback for unknown routes (and designed-but-unimplemented ones).
pub async fn not_found_fallback() -> ApiError {
    ApiError::not_found("no such route (or not implemented by this engine version)")
}

/// Fallback for a known path with the wrong method.
pub async fn method_not_allowed_fallback() -> ApiError {
    ApiError::method_not_allowed()
}
