//! The one public error: `UTDStreamError` (`UTDStreamException` in Kotlin).
//!
//! Every failure the app can see is one of these. It carries what the engine
//! said (HTTP status, machine code, message) and a [`UTDErrorCode`] chosen by
//! what the app would do about it, plus helpers a UI can branch on
//! (`isBanned`, `isRateLimited`, `isFeatureDisabled`, ...).
//!
//! Exported as an interface so Swift and Kotlin get methods on the thrown
//! object; exported functions return `Result<T, Arc<UTDStreamError>>`.

use std::sync::Arc;
use std::time::Duration;

/// What kind of failure happened, chosen by what the app would do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum UTDErrorCode {
    /// No valid user session: call `authenticate` / `connect` again.
    Unauthenticated,
    /// The user is banned from this app (HTTP 403, code `banned`).
    Banned,
    /// The app's plan does not include a paid capability (HTTP 403, code
    /// `feature_disabled`); `capability()` names it. Show an upsell.
    FeatureDisabled,
    /// The user may not do this (HTTP 403), e.g. a non-host seat operation.
    Forbidden,
    /// A plan limit would be exceeded (HTTP 403, code `limit_reached`);
    /// `limit()` names it (`max_group_members`, `max_chatrooms`,
    /// `max_friends`, `max_upload_bytes`). Show an upsell or explain.
    LimitReached,
    /// Too many requests (HTTP 429); wait `retryAfterMs()` and try again.
    RateLimited,
    /// The thing asked for does not exist (HTTP 404).
    NotFound,
    /// The request lost a race or clashes with the current state (HTTP 409),
    /// e.g. a seat someone else took first.
    Conflict,
    /// The request was malformed or a value was out of range (HTTP 400/422, or
    /// rejected by the SDK before it was sent).
    InvalidArgument,
    /// The operation is not allowed in the session's current state, e.g.
    /// accepting a call that already ended.
    InvalidState,
    /// The engine or media server could not be reached, or the connection
    /// dropped. Usually worth retrying.
    Network,
    /// The operation did not complete in time.
    Timeout,
    /// The engine answered with something outside its contract (malformed
    /// JSON, unknown message). A bug on one side; retrying rarely helps.
    Protocol,
    /// The media transport in use cannot do this (for example publishing
    /// media over the control-plane-only transport).
    Unsupported,
    /// The client or session was disposed; create a new one.
    Disposed,
    /// The engine failed (HTTP 5xx).
    Server,
    /// A failure inside the SDK itself.
    Internal,
}

impl UTDErrorCode {
    /// The engine's machine code for this kind, where the engine has one.
    pub fn wire_code(self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated",
            Self::Banned => "banned",
            Self::FeatureDisabled => "feature_disabled",
            Self::Forbidden => "forbidden",
            Self::LimitReached => "limit_reached",
            Self::RateLimited => "rate_limited",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::InvalidArgument => "invalid_argument",
            Self::InvalidState => "invalid_state",
            Self::Network => "network",
            Self::Timeout => "timeout",
            Self::Protocol => "protocol",
            Self::Unsupported => "unsupported",
            Self::Disposed => "disposed",
            Self::Server => "internal",
            Self::Internal => "sdk_internal",
        }
    }

    /// Maps an engine machine code (see docs/engine-api.md) to a kind.
    pub fn from_wire_code(code: &str) -> Option<Self> {
        Some(match code {
            "unauthenticated" => Self::Unauthenticated,
            "banned" => Self::Banned,
            "feature_disabled" => Self::FeatureDisabled,
            "forbidden" => Self::Forbidden,
            "limit_reached" => Self::LimitReached,
            "rate_limited" => Self::RateLimited,
            "not_found" => Self::NotFound,
            "conflict" => Self::Conflict,
            "invalid_argument" => Self::InvalidArgument,
            "invalid_state" => Self::InvalidState,
            "internal" => Self::Server,
            _ => return None,
        })
    }
}

/// The capability names the engine uses in `feature_disabled` errors.
pub mod capability {
    /// Call invitations, presence, rooms (the paid `signaling` capability).
    pub const SIGNALING: &str = "signaling";
    /// Persistent chat (the paid `chat` capability, `messaging_enabled`).
    pub const CHAT: &str = "chat";
}

/// Every error the SDK surfaces. Kotlin sees it as `UTDStreamException`.
#[derive(Clone, PartialEq, Eq, thiserror::Error, uniffi::Object)]
#[uniffi::export(Debug, Display)]
#[error("{message}")]
pub struct UTDStreamError {
    code: UTDErrorCode,
    status_code: Option<u16>,
    message: String,
    engine_code: Option<String>,
    capability: Option<String>,
    retry_after_ms: Option<u64>,
    limit: Option<String>,
}

impl std::fmt::Debug for UTDStreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Messages are built by the SDK and never contain secrets; still,
        // keep Debug in the same shape as Display plus the machine fields.
        f.debug_struct("UTDStreamError")
            .field("code", &self.code)
            .field("status_code", &self.status_code)
            .field("engine_code", &self.engine_code)
            .field("capability", &self.capability)
            .field("retry_after_ms", &self.retry_after_ms)
            .field("limit", &self.limit)
            .field("message", &self.message)
            .finish()
    }
}

impl UTDStreamError {
    /// A new error of kind `code` with a human-readable message.
    pub fn new(code: UTDErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            status_code: None,
            message: message.into(),
            engine_code: None,
            capability: None,
            retry_after_ms: None,
            limit: None,
        }
    }

    /// An error the engine returned: HTTP status plus its JSON error body.
    pub fn from_engine(
        status: u16,
        engine_code: Option<String>,
        message: impl Into<String>,
        capability: Option<String>,
        retry_after: Option<Duration>,
    ) -> Self {
        let code = engine_code
            .as_deref()
            .and_then(UTDErrorCode::from_wire_code)
            .unwrap_or_else(|| code_for_status(status));
        Self {
            code,
            status_code: Some(status),
            message: message.into(),
            engine_code,
            capability,
            retry_after_ms: retry_after.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            limit: None,
        }
    }

    /// A failure inside the SDK itself.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(UTDErrorCode::Internal, message)
    }

    /// A bad argument, rejected before anything was sent.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(UTDErrorCode::InvalidArgument, message)
    }

    /// An operation refused in the current state.
    pub fn invalid_state(message: impl Into<String>) -> Self {
        Self::new(UTDErrorCode::InvalidState, message)
    }

    /// The engine or server could not be reached.
    pub fn network(message: impl Into<String>) -> Self {
        Self::new(UTDErrorCode::Network, message)
    }

    /// The engine answered outside its contract.
    pub fn protocol(message: impl Into<String>) -> Self {
        Self::new(UTDErrorCode::Protocol, message)
    }

    /// The client or session is disposed.
    pub fn disposed(what: &str) -> Self {
        Self::new(UTDErrorCode::Disposed, format!("{what} was disposed"))
    }

    /// The transport cannot do this.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(UTDErrorCode::Unsupported, message)
    }

    /// Sets the retry delay (for errors the SDK builds itself).
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.retry_after_ms = Some(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX));
        self
    }

    /// Names the plan limit a `limit_reached` refusal is about.
    pub fn with_limit(mut self, limit: Option<String>) -> Self {
        self.limit = limit;
        self
    }

    /// The kind, for Rust callers (same as the exported `code()`).
    pub fn kind(&self) -> UTDErrorCode {
        self.code
    }
}

fn code_for_status(status: u16) -> UTDErrorCode {
    match status {
        400 | 422 => UTDErrorCode::InvalidArgument,
        401 => UTDErrorCode::Unauthenticated,
        403 => UTDErrorCode::Forbidden,
        404 => UTDErrorCode::NotFound,
        409 => UTDErrorCode::Conflict,
        429 => UTDErrorCode::RateLimited,
        500..=599 => UTDErrorCode::Server,
        _ => UTDErrorCode::Protocol,
    }
}

/// The JSON error body every engine error carries (docs/engine-api.md).
#[derive(serde::Deserialize)]
struct EngineErrorBody {
    error: EngineErrorDetail,
}

#[derive(serde::Deserialize)]
struct EngineErrorDetail {
    code: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    capability: Option<String>,
    #[serde(default)]
    retry_after_ms: Option<u64>,
    #[serde(default)]
    limit: Option<String>,
}

impl UTDStreamError {
    /// Builds the error for a non-2xx engine reply from its status, body and
    /// `Retry-After` header. A body outside the contract still yields a typed
    /// error (kind from the status) whose message says what was received.
    pub fn from_engine_reply(status: u16, body: &str, retry_after_header: Option<&str>) -> Self {
        let header_delay = retry_after_header
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        match serde_json::from_str::<EngineErrorBody>(body) {
            Ok(EngineErrorBody { error }) => {
                let delay = error
                    .retry_after_ms
                    .map(Duration::from_millis)
                    .or(header_delay);
                let message = error
                    .message
                    .unwrap_or_else(|| format!("engine refused the request ({})", error.code));
                Self::from_engine(status, Some(error.code), message, error.capability, delay)
                    .with_limit(error.limit)
            }
            Err(_) => {
                let shown: String = body.chars().take(120).collect();
                Self::from_engine(
                    status,
                    None,
                    format!(
                        "engine replied HTTP {status} without a contract error body: {shown:?}"
                    ),
                    None,
                    header_delay,
                )
            }
        }
    }
}

/// Parses an engine error reply (HTTP status, JSON body, optional
/// `Retry-After` header) into the typed error, exactly as the SDK does for
/// its own requests. Useful for apps that call engine endpoints through
/// their own backend.
///
/// A free function rather than a named constructor: UniFFI's Kotlin
/// bindings cannot give an error interface secondary constructors.
#[uniffi::export]
pub fn parse_engine_reply(
    status_code: u16,
    body: String,
    retry_after: Option<String>,
) -> Arc<UTDStreamError> {
    Arc::new(UTDStreamError::from_engine_reply(
        status_code,
        &body,
        retry_after.as_deref(),
    ))
}

#[uniffi::export]
impl UTDStreamError {
    /// A human-readable description (never contains a token or secret).
    pub fn message(&self) -> String {
        self.message.clone()
    }

    /// What kind of failure this is.
    pub fn code(&self) -> UTDErrorCode {
        self.code
    }

    /// The engine's HTTP status, when the error came from an engine reply.
    pub fn status_code(&self) -> Option<u16> {
        self.status_code
    }

    /// The engine's machine code exactly as sent (e.g. `"feature_disabled"`).
    pub fn engine_code(&self) -> Option<String> {
        self.engine_code.clone()
    }

    /// For `featureDisabled`: the capability the plan lacks (`signaling`, `chat`).
    pub fn capability(&self) -> Option<String> {
        self.capability.clone()
    }

    /// For `rateLimited`: how long to wait before retrying, in milliseconds.
    pub fn retry_after_ms(&self) -> Option<u64> {
        self.retry_after_ms
    }

    /// For `limitReached`: the plan limit that was hit (e.g.
    /// `max_group_members`).
    pub fn limit(&self) -> Option<String> {
        self.limit.clone()
    }

    /// A plan limit would be exceeded (`limit()` names it).
    pub fn is_limit_reached(&self) -> bool {
        self.code == UTDErrorCode::LimitReached
    }

    /// The user is banned from this app (HTTP 403 with code `banned`).
    pub fn is_banned(&self) -> bool {
        self.code == UTDErrorCode::Banned
    }

    /// The request was rate limited (HTTP 429); see `retryAfterMs()`.
    pub fn is_rate_limited(&self) -> bool {
        self.code == UTDErrorCode::RateLimited
    }

    /// Any refusal of permission: HTTP 403, including bans and plan gates.
    pub fn is_forbidden(&self) -> bool {
        self.status_code == Some(403)
            || matches!(
                self.code,
                UTDErrorCode::Forbidden
                    | UTDErrorCode::Banned
                    | UTDErrorCode::FeatureDisabled
                    | UTDErrorCode::LimitReached
            )
    }

    /// A paid capability is not enabled for this app's plan (a non-ban 403).
    pub fn is_feature_disabled(&self) -> bool {
        self.code == UTDErrorCode::FeatureDisabled
    }

    /// The `signaling` capability (calls, presence) is not enabled.
    pub fn is_signaling_disabled(&self) -> bool {
        self.is_feature_disabled() && self.capability.as_deref() == Some(capability::SIGNALING)
    }

    /// The `chat` capability (persistent messaging) is not enabled.
    pub fn is_chat_disabled(&self) -> bool {
        self.is_feature_disabled() && self.capability.as_deref() == Some(capability::CHAT)
    }

    /// The engine could not be reached or the connection dropped.
    pub fn is_network(&self) -> bool {
        matches!(self.code, UTDErrorCode::Network | UTDErrorCode::Timeout)
    }
}

/// The error type exported functions return.
pub type UTDResult<T> = Result<T, Arc<UTDStreamError>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_codes_map_to_kinds_and_helpers() {
        let banned = UTDStreamError::from_engine(403, Some("banned".into()), "banned", None, None);
        assert!(banned.is_banned() && banned.is_forbidden() && !banned.is_feature_disabled());

        let gated = UTDStreamError::from_engine(
            403,
            Some("feature_disabled".into()),
            "signaling is not enabled for this plan",
            Some("signaling".into()),
            None,
        );
        assert!(gated.is_feature_disabled() && gated.is_signaling_disabled());
        assert!(!gated.is_chat_disabled() && !gated.is_banned() && gated.is_forbidden());

        let limited = UTDStreamError::from_engine(
            429,
            Some("rate_limited".into()),
            "slow down",
            None,
            Some(Duration::from_secs(3)),
        );
        assert!(limited.is_rate_limited());
        assert_eq!(limited.retry_after_ms(), Some(3000));
    }

    #[test]
    fn engine_reply_bodies_are_parsed_and_malformed_ones_still_typed() {
        let e = UTDStreamError::from_engine_reply(
            403,
            r#"{"error":{"code":"feature_disabled","message":"chat is off","capability":"chat"}}"#,
            None,
        );
        assert!(e.is_chat_disabled() && !e.is_signaling_disabled());
        assert_eq!(e.message(), "chat is off");

        let e = UTDStreamError::from_engine_reply(
            429,
            r#"{"error":{"code":"rate_limited"}}"#,
            Some("2"),
        );
        assert_eq!(e.retry_after_ms(), Some(2000));

        let e = UTDStreamError::from_engine_reply(500, "<html>oops</html>", None);
        assert_eq!(e.code(), UTDErrorCode::Server);
        assert!(e.message().contains("without a contract error body"));
    }

    #[test]
    fn limit_reached_names_the_limit() {
        let e = UTDStreamError::from_engine_reply(
            403,
            r#"{"error":{"code":"limit_reached","message":"the group is full","limit":"max_group_members"}}"#,
            None,
        );
        assert!(e.is_limit_reached() && e.is_forbidden() && !e.is_feature_disabled());
        assert_eq!(e.limit().as_deref(), Some("max_group_members"));
    }

    #[test]
    fn unknown_engine_code_falls_back_to_status() {
        let e = UTDStreamError::from_engine(409, Some("brand_new".into()), "x", None, None);
        assert_eq!(e.code(), UTDErrorCode::Conflict);
        assert_eq!(e.engine_code().as_deref(), Some("brand_new"));
        let e = UTDStreamError::from_engine(502, None, "bad gateway", None, None);
        assert_eq!(e.code(), UTDErrorCode::Server);
    }

    #[test]
    fn every_engine_code_round_trips() {
        for code in [
            UTDErrorCode::Unauthenticated,
            UTDErrorCode::Banned,
            UTDErrorCode::FeatureDisabled,
            UTDErrorCode::Forbidden,
            UTDErrorCode::LimitReached,
            UTDErrorCode::RateLimited,
            UTDErrorCode::NotFound,
            UTDErrorCode::Conflict,
            UTDErrorCode::InvalidArgument,
            UTDErrorCode::InvalidState,
            UTDErrorCode::Server,
        ] {
            assert_eq!(UTDErrorCode::from_wire_code(code.wire_code()), Some(code));
        }
    }
}
