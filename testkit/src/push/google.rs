//! Google's error shapes: the API error body of `google.rpc.Status` (as
//! FCM's HTTP v1 API answers it) and the OAuth 2.0 token endpoint's.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// The `@type` of FCM's own error detail.
const FCM_ERROR_TYPE: &str = "type.googleapis.com/google.firebase.fcm.v1.FcmError";
/// The `@type` naming invalid request fields.
const BAD_REQUEST_TYPE: &str = "type.googleapis.com/google.rpc.BadRequest";
/// The `@type` of the structured reason Google's front end adds to auth
/// failures.
const ERROR_INFO_TYPE: &str = "type.googleapis.com/google.rpc.ErrorInfo";

/// The `google.rpc.Code` name Google's HTTP mapping gives an HTTP status.
pub(crate) fn rpc_status(http: u16) -> &'static str {
    match http {
        200 => "OK",
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        500 => "INTERNAL",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        other if (400..500).contains(&other) => "FAILED_PRECONDITION",
        _ => "UNKNOWN",
    }
}

/// The message FCM sends with each of its `ErrorCode`s.
pub(crate) fn fcm_message(error_code: &str) -> &'static str {
    match error_code {
        "UNREGISTERED" => "Requested entity was not found.",
        "INVALID_ARGUMENT" => "The registration token is not a valid FCM registration token",
        "SENDER_ID_MISMATCH" => "SenderId mismatch",
        "QUOTA_EXCEEDED" => "Quota exceeded for sending messages to this project.",
        "UNAVAILABLE" => "The service is currently unavailable.",
        "INTERNAL" => "Internal error encountered.",
        "THIRD_PARTY_AUTH_ERROR" => "Auth error from APNS or Web Push Service",
        _ => "Request failed.",
    }
}

/// An error of a Google API: `{"error": {"code", "message", "status",
/// "details"}}`.
#[derive(Clone, Debug)]
pub(crate) struct ApiError {
    pub code: u16,
    pub message: String,
    pub details: Vec<Value>,
    /// `WWW-Authenticate` of a 401.
    pub authenticate: Option<&'static str>,
}

impl ApiError {
    pub(crate) fn new(code: u16, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            details: Vec::new(),
            authenticate: None,
        }
    }

    /// An FCM error: the `FcmError` detail names `error_code`.
    pub(crate) fn fcm(code: u16, error_code: &str, message: impl Into<String>) -> Self {
        let mut error = ApiError::new(code, message);
        error
            .details
            .push(json!({ "@type": FCM_ERROR_TYPE, "errorCode": error_code }));
        error
    }

    /// 400 `INVALID_ARGUMENT` naming the invalid field, as Google's JSON
    /// front end answers a request that does not fit the message schema.
    pub(crate) fn bad_field(field: Option<&str>, description: impl Into<String>) -> Self {
        let description = description.into();
        let mut violation = json!({ "description": description });
        if let Some(field) = field {
            violation["field"] = json!(field);
        }
        let mut error = ApiError::new(400, description);
        error
            .details
            .push(json!({ "@type": BAD_REQUEST_TYPE, "fieldViolations": [violation] }));
        error
    }

    /// 400 `INVALID_ARGUMENT` both naming the field and carrying the
    /// `FcmError` detail, as FCM answers a message that breaks its rules.
    pub(crate) fn invalid_message(field: &str, description: impl Into<String>) -> Self {
        let mut error = ApiError::bad_field(Some(field), description);
        error
            .details
            .push(json!({ "@type": FCM_ERROR_TYPE, "errorCode": "INVALID_ARGUMENT" }));
        error
    }

    /// 401 or 403 from Google's front end, with its `ErrorInfo` reason.
    pub(crate) fn auth(code: u16, reason: &str, message: &str) -> Self {
        let mut error = ApiError::new(code, message);
        error.details.push(json!({
            "@type": ERROR_INFO_TYPE,
            "reason": reason,
            "domain": "googleapis.com",
            "metadata": {
                "service": "fcm.googleapis.com",
                "method": "google.firebase.fcm.v1.FcmService.SendMessage",
            },
        }));
        if code == 401 {
            error.authenticate = Some("Bearer realm=\"https://accounts.google.com/\"");
        }
        error
    }

    pub(crate) fn body(&self) -> Value {
        let mut error = json!({
            "code": self.code,
            "message": self.message,
            "status": rpc_status(self.code),
        });
        if !self.details.is_empty() {
            error["details"] = Value::Array(self.details.clone());
        }
        json!({ "error": error })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, json_body(&self.body())).into_response();
        if let Some(value) = self.authenticate {
            response
                .headers_mut()
                .insert("www-authenticate", HeaderValue::from_static(value));
        }
        response
    }
}

/// 400 from the OAuth 2.0 token endpoint: `{"error", "error_description"}`.
pub(crate) fn oauth_error(error: &str, description: &str) -> Response {
    let body = json!({ "error": error, "error_description": description });
    (StatusCode::BAD_REQUEST, json_body(&body)).into_response()
}

/// A JSON response body with Google's content type.
pub(crate) fn json_body(value: &Value) -> ([(&'static str, &'static str); 1], String) {
    (
        [("content-type", "application/json; charset=UTF-8")],
        value.to_string(),
    )
}
