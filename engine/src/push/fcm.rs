//! FCM HTTP v1 with a service account (OAuth 2 JWT-bearer grant): data
//! messages for calls and for the end of their ringing, notification
//! messages for chat.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey};
use serde::Deserialize;
use serde_json::{json, Value};

use super::apns::{transport_error, REQUEST_TIMEOUT};
use super::config::FcmConfig;
use super::dispatcher::Outcome;
use super::outbox::{Claimed, KIND_CALL, KIND_CALL_ENDED, KIND_CHAT_MESSAGE};
use super::payload;

/// OAuth scope of `messages:send`.
const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// Lifetime asked for in the assertion (Google's maximum).
const ASSERTION_LIFETIME_SECS: u64 = 3600;
/// An access token is replaced this long before it expires.
const REFRESH_MARGIN_SECS: u64 = 300;

struct AccessToken {
    value: String,
    refresh_at_ms: u64,
}

/// An FCM sender: the HTTP client and the cached access token.
pub(crate) struct Fcm {
    config: FcmConfig,
    key: EncodingKey,
    http: reqwest::Client,
    send_url: String,
    // An async lock: concurrent sends wait for one token request.
    token: tokio::sync::Mutex<Option<AccessToken>>,
}

#[derive(Deserialize)]
struct Grant {
    access_token: String,
    expires_in: Option<u64>,
}

impl Fcm {
    /// Checks the key and builds the client (no request yet).
    pub(crate) fn new(config: &FcmConfig) -> anyhow::Result<Self> {
        let key = super::jwt::rsa_key(config.private_key()).map_err(|e| {
            anyhow::anyhow!("the FCM service account's private_key is unusable: {e:#}")
        })?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(REQUEST_TIMEOUT)
            .build()?;
        let fcm = Fcm {
            send_url: format!(
                "{}/v1/projects/{}/messages:send",
                config.endpoint(),
                config.project_id()
            ),
            config: config.clone(),
            key,
            http,
            token: tokio::sync::Mutex::new(None),
        };
        fcm.assertion(crate::ids::now_ms() / 1000)?;
        Ok(fcm)
    }

    fn assertion(&self, now_secs: u64) -> anyhow::Result<String> {
        super::jwt::sign(
            Algorithm::RS256,
            json!({ "typ": "JWT", "kid": self.config.private_key_id() }),
            &json!({
                "iss": self.config.client_email(),
                "scope": SCOPE,
                "aud": self.config.token_uri(),
                "iat": now_secs,
                "exp": now_secs + ASSERTION_LIFETIME_SECS,
            }),
            &self.key,
        )
    }

    /// The cached access token, or a new one from the token endpoint (also
    /// when the cached one is `stale`: refused with 401).
    async fn access_token(&self, stale: Option<&str>) -> Result<String, Outcome> {
        let mut slot = self.token.lock().await;
        let now = crate::ids::now_ms();
        if let Some(t) = slot.as_ref() {
            if now < t.refresh_at_ms && stale != Some(t.value.as_str()) {
                return Ok(t.value.clone());
            }
        }
        let assertion = self
            .assertion(now / 1000)
            .map_err(|e| Outcome::refused(None, format!("oauth assertion: {e:#}")))?;
        let resp = self
            .http
            .post(self.config.token_uri())
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(|e| Outcome::retry(None, format!("oauth {}", transport_error(&e)), None))?;
        let status = resp.status().as_u16();
        if status != 200 {
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            let reason = format!(
                "oauth {}",
                body["error"].as_str().unwrap_or("token request refused")
            );
            return Err(if status == 429 || status >= 500 {
                Outcome::retry(Some(status), reason, None)
            } else {
                Outcome::refused(Some(status), reason)
            });
        }
        let grant: Grant = resp
            .json()
            .await
            .map_err(|e| Outcome::retry(Some(status), format!("oauth reply: {e}"), None))?;
        let lifetime = grant.expires_in.unwrap_or(ASSERTION_LIFETIME_SECS);
        let margin = REFRESH_MARGIN_SECS.min(lifetime / 2);
        tracing::info!(
            client_email = %self.config.client_email(),
            expires_in = lifetime,
            "FCM access token obtained"
        );
        *slot = Some(AccessToken {
            value: grant.access_token.clone(),
            refresh_at_ms: now.saturating_add((lifetime - margin) * 1000),
        });
        Ok(grant.access_token)
    }

    /// One attempt at a message (a second request only after a 401, with a
    /// new access token).
    pub(crate) async fn send(&self, row: &Claimed, now_ms: u64) -> Outcome {
        let ttl = payload::secs_left(row.expires_at_ms, now_ms);
        let data = match (row.kind.as_str(), &row.call, &row.reason, &row.chat) {
            (KIND_CALL, Some(call), _, _) => {
                payload::fcm_call_data(call, now_ms, row.expires_at_ms)
            }
            (KIND_CALL_ENDED, _, Some(reason), _) => {
                payload::fcm_call_ended_data(&row.call_id, reason)
            }
            (KIND_CHAT_MESSAGE, _, _, Some(chat)) => {
                return self
                    .post(&payload::fcm_chat_message(&row.token, chat, ttl))
                    .await
            }
            _ => return Outcome::refused(None, format!("no FCM message of kind {}", row.kind)),
        };
        let body = payload::fcm_message(&row.token, &data, ttl, &row.call_id);
        self.post(&body).await
    }

    /// Posts one `messages:send` body (again once after a 401, with a new
    /// access token).
    async fn post(&self, body: &Value) -> Outcome {
        let mut stale: Option<String> = None;
        loop {
            let token = match self.access_token(stale.as_deref()).await {
                Ok(t) => t,
                Err(outcome) => return outcome,
            };
            let sent = self
                .http
                .post(&self.send_url)
                .bearer_auth(&token)
                .json(body)
                .send()
                .await;
            let resp = match sent {
                Ok(r) => r,
                Err(e) => return Outcome::retry(None, transport_error(&e), None),
            };
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let reply: Value = resp.json().await.unwrap_or(Value::Null);
            if status == 200 {
                let id = reply["name"].as_str().map(str::to_owned);
                return Outcome::Delivered { status, id };
            }
            if status == 401 && stale.is_none() {
                stale = Some(token);
                continue;
            }
            return classify(status, &reply, retry_after);
        }
    }
}

/// What an FCM error reply says: the `errorCode` of its FcmError detail
/// (else the canonical `status`), whether that came from an FcmError, and
/// whether a `BadRequest` detail names a field other than the token.
struct ErrorReply {
    code: String,
    fcm_detail: bool,
    bad_field: bool,
}

fn error_reply(reply: &Value) -> ErrorReply {
    let error = &reply["error"];
    let details = error["details"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let of_type =
        |d: &Value, suffix: &str| d["@type"].as_str().is_some_and(|t| t.ends_with(suffix));
    let fcm_code = details
        .iter()
        .filter(|d| of_type(d, "google.firebase.fcm.v1.FcmError"))
        .find_map(|d| d["errorCode"].as_str());
    let bad_field = details
        .iter()
        .filter(|d| of_type(d, "google.rpc.BadRequest"))
        .flat_map(|d| d["fieldViolations"].as_array().cloned().unwrap_or_default())
        .any(|v| v["field"].as_str() != Some("message.token"));
    ErrorReply {
        code: fcm_code
            .or_else(|| error["status"].as_str())
            .unwrap_or_default()
            .to_owned(),
        fcm_detail: fcm_code.is_some(),
        bad_field,
    }
}

/// What an FCM error means for the row. A dead token (Google's guidance for
/// HTTP v1, "Detect invalid token responses"): `UNREGISTERED`, or a 400
/// `INVALID_ARGUMENT` FcmError about the token itself (one that also names
/// another invalid field of the message is the message's fault, not the
/// token's: dropped, the token kept).
fn classify(status: u16, reply: &Value, retry_after: Option<Duration>) -> Outcome {
    let e = error_reply(reply);
    let dead = e.code == "UNREGISTERED"
        || (status == 400 && e.fcm_detail && e.code == "INVALID_ARGUMENT" && !e.bad_field);
    if dead {
        return Outcome::DeadToken {
            status,
            reason: e.code,
        };
    }
    let message: String = reply["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    let reason = match (e.code.is_empty(), message.is_empty()) {
        (true, _) => message,
        (false, true) => e.code,
        (false, false) => format!("{}: {message}", e.code),
    };
    if status == 429 || status >= 500 {
        Outcome::retry(Some(status), reason, retry_after)
    } else {
        Outcome::refused(Some(status), reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(code: u16, status: &str, detail: Option<(&str, &str)>) -> Value {
        let details: Vec<Value> = detail
            .map(|(t, c)| json!({"@type": t, "errorCode": c}))
            .into_iter()
            .collect();
        json!({"error": {"code": code, "message": "m", "status": status, "details": details}})
    }

    const FCM_ERROR: &str = "type.googleapis.com/google.firebase.fcm.v1.FcmError";

    #[test]
    fn dead_tokens_follow_googles_guidance() {
        let dead = |o: Outcome| matches!(o, Outcome::DeadToken { .. });
        let r = reply(404, "NOT_FOUND", Some((FCM_ERROR, "UNREGISTERED")));
        assert!(dead(classify(404, &r, None)));
        let r = reply(
            400,
            "INVALID_ARGUMENT",
            Some((FCM_ERROR, "INVALID_ARGUMENT")),
        );
        assert!(dead(classify(400, &r, None)));
        // A bad field of the message is not the token's fault, also when
        // FCM adds its INVALID_ARGUMENT detail.
        let mut r = reply(
            400,
            "INVALID_ARGUMENT",
            Some((FCM_ERROR, "INVALID_ARGUMENT")),
        );
        r["error"]["details"].as_array_mut().unwrap().push(json!({
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": "message.android.ttl", "description": "bad"}],
        }));
        assert!(matches!(classify(400, &r, None), Outcome::Refused { .. }));
        let r = reply(400, "INVALID_ARGUMENT", None);
        assert!(matches!(classify(400, &r, None), Outcome::Refused { .. }));
    }

    #[test]
    fn quota_and_outages_are_retried_honouring_retry_after() {
        let r = reply(
            429,
            "RESOURCE_EXHAUSTED",
            Some((FCM_ERROR, "QUOTA_EXCEEDED")),
        );
        match classify(429, &r, Some(Duration::from_secs(3))) {
            Outcome::Retry { after, reason, .. } => {
                assert_eq!(after, Some(Duration::from_secs(3)));
                assert_eq!(reason, "QUOTA_EXCEEDED: m");
            }
            other => panic!("{other:?}"),
        }
        let r = reply(503, "UNAVAILABLE", Some((FCM_ERROR, "UNAVAILABLE")));
        assert!(matches!(classify(503, &r, None), Outcome::Retry { .. }));
        assert!(matches!(
            classify(500, &Value::Null, None),
            Outcome::Retry { .. }
        ));
        let r = reply(
            403,
            "PERMISSION_DENIED",
            Some((FCM_ERROR, "SENDER_ID_MISMATCH")),
        );
        assert!(matches!(classify(403, &r, None), Outcome::Refused { .. }));
    }
}
