//! APNs provider API (HTTP/2) with token-based auth: VoIP call pushes and
//! chat message alerts.

use std::sync::Mutex;
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::json;

use super::config::ApnsConfig;
use super::dispatcher::Outcome;
use super::outbox::{Claimed, KIND_CALL, KIND_CHAT_MESSAGE};
use super::payload;

/// A provider token is reused this long, then signed anew (Apple refuses
/// tokens older than an hour and refreshes more often than every 20 minutes).
const REFRESH_AFTER_SECS: u64 = 40 * 60;
/// Bound on one request (the outbox lease outlives it).
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(4);

struct ProviderToken {
    jwt: String,
    issued_at: u64,
}

/// An APNs sender: one HTTP/2 client and the current provider token.
pub(crate) struct Apns {
    key: EncodingKey,
    key_id: String,
    team_id: String,
    /// `<bundle id>.voip`: call pushes to PushKit tokens.
    topic: String,
    /// The bundle id: alerts to regular tokens.
    alert_topic: String,
    endpoint: String,
    http: reqwest::Client,
    token: Mutex<Option<ProviderToken>>,
}

impl Apns {
    /// Checks the key (signing a first token) and builds the client.
    pub(crate) fn new(config: &ApnsConfig) -> anyhow::Result<Self> {
        let key = super::jwt::ec_key(&config.key_pem).map_err(|e| {
            anyhow::anyhow!("the APNs key (--apns-key-file) is not a .p8 signing key: {e:#}")
        })?;
        for (name, value) in [
            ("key id (--apns-key-id)", &config.key_id),
            ("team id (--apns-team-id)", &config.team_id),
            ("bundle id (--apns-bundle-id)", &config.bundle_id),
        ] {
            anyhow::ensure!(!value.trim().is_empty(), "the APNs {name} is empty");
        }
        anyhow::ensure!(
            config.endpoint.starts_with("https://") || config.endpoint.starts_with("http://"),
            "the APNs endpoint {:?} is not an http(s) URL",
            config.endpoint
        );
        // Prior knowledge: h2 straight away on a cleartext stand-in, and the
        // only ALPN offer over TLS (Apple's provider API is HTTP/2 only).
        let http = reqwest::Client::builder()
            .http2_prior_knowledge()
            .http2_keep_alive_interval(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(5))
            .timeout(REQUEST_TIMEOUT)
            .build()?;
        let apns = Apns {
            key,
            key_id: config.key_id.clone(),
            team_id: config.team_id.clone(),
            topic: config.voip_topic(),
            alert_topic: config.bundle_id.clone(),
            endpoint: config.endpoint.clone(),
            http,
            token: Mutex::new(None),
        };
        apns.provider_token(crate::ids::now_ms() / 1000, None)?;
        Ok(apns)
    }

    /// The current provider token, signed anew when older than
    /// [`REFRESH_AFTER_SECS`] or when it is `stale` (issued at that time,
    /// refused by Apple as expired).
    fn provider_token(&self, now_secs: u64, stale: Option<u64>) -> anyhow::Result<(String, u64)> {
        let mut slot = self
            .token
            .lock()
            .map_err(|_| anyhow::anyhow!("provider token lock poisoned"))?;
        if let Some(t) = slot.as_ref() {
            let fresh = now_secs.saturating_sub(t.issued_at) < REFRESH_AFTER_SECS;
            if fresh && stale != Some(t.issued_at) {
                return Ok((t.jwt.clone(), t.issued_at));
            }
        }
        let jwt = super::jwt::sign(
            Algorithm::ES256,
            json!({ "kid": self.key_id }),
            &json!({ "iss": self.team_id, "iat": now_secs }),
            &self.key,
        )?;
        tracing::info!(key_id = %self.key_id, issued_at = now_secs, "APNs provider token signed");
        *slot = Some(ProviderToken {
            jwt: jwt.clone(),
            issued_at: now_secs,
        });
        Ok((jwt, now_secs))
    }

    /// One attempt at a call push or a chat alert (a second request only
    /// when Apple says the provider token expired).
    pub(crate) async fn send(&self, row: &Claimed, now_ms: u64) -> Outcome {
        // (body, push type, topic, collapse id)
        let (body, push_type, topic, collapse_id) = match (row.kind.as_str(), &row.call, &row.chat)
        {
            (KIND_CALL, Some(call), _) => (
                payload::apns_call(call, now_ms, row.expires_at_ms),
                "voip",
                &self.topic,
                row.call_id.as_str(),
            ),
            (KIND_CHAT_MESSAGE, _, Some(chat)) => (
                payload::apns_chat(chat),
                "alert",
                &self.alert_topic,
                chat.conversation_id.as_str(),
            ),
            _ => return Outcome::refused(None, format!("no APNs push of kind {}", row.kind)),
        };
        let url = format!("{}/3/device/{}", self.endpoint, row.token);
        let mut stale = None;
        loop {
            let (jwt, issued_at) = match self.provider_token(now_ms / 1000, stale) {
                Ok(t) => t,
                Err(e) => return Outcome::refused(None, format!("provider token: {e:#}")),
            };
            let sent = self
                .http
                .post(&url)
                .bearer_auth(&jwt)
                .header("apns-push-type", push_type)
                .header("apns-topic", topic)
                .header("apns-priority", "10")
                .header("apns-expiration", (row.expires_at_ms / 1000).to_string())
                .header("apns-collapse-id", collapse_id)
                .json(&body)
                .send()
                .await;
            let resp = match sent {
                Ok(r) => r,
                Err(e) => return Outcome::retry(None, transport_error(&e), None),
            };
            let status = resp.status().as_u16();
            let apns_id = resp
                .headers()
                .get("apns-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            if status == 200 {
                return Outcome::Delivered {
                    status,
                    id: apns_id,
                };
            }
            let reason = resp
                .json::<serde_json::Value>()
                .await
                .ok()
                .and_then(|v| v["reason"].as_str().map(str::to_owned))
                .unwrap_or_default();
            if status == 403 && reason == "ExpiredProviderToken" && stale.is_none() {
                stale = Some(issued_at);
                continue;
            }
            return classify(status, reason);
        }
    }
}

/// What an APNs error status and `reason` mean for the row.
fn classify(status: u16, reason: String) -> Outcome {
    match (status, reason.as_str()) {
        (410, _) | (400, "BadDeviceToken") => Outcome::DeadToken { status, reason },
        (429, _) | (500..=599, _) => Outcome::retry(Some(status), reason, None),
        _ => Outcome::refused(Some(status), reason),
    }
}

/// A transport error, without the URL (it holds the device token).
pub(crate) fn transport_error(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "transport"
    };
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    format!("{kind}: {text}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::jwt::tests::EC_KEY_PEM;

    #[test]
    fn errors_map_to_outcomes() {
        let dead = |o: Outcome| matches!(o, Outcome::DeadToken { .. });
        let retry = |o: Outcome| matches!(o, Outcome::Retry { .. });
        assert!(dead(classify(410, "Unregistered".into())));
        assert!(dead(classify(400, "BadDeviceToken".into())));
        assert!(!dead(classify(400, "BadTopic".into())));
        assert!(retry(classify(429, "TooManyRequests".into())));
        assert!(retry(classify(503, "ServiceUnavailable".into())));
        assert!(matches!(
            classify(403, "InvalidProviderToken".into()),
            Outcome::Refused { .. }
        ));
    }

    #[test]
    fn the_provider_token_is_reused_then_refreshed() {
        let apns = Apns::new(
            &ApnsConfig::new(EC_KEY_PEM, "KEYID12345", "TEAM123456", "com.example.app")
                .with_endpoint("http://127.0.0.1:9"),
        )
        .unwrap();
        let now = 10_000_000;
        let (a, at) = apns.provider_token(now, None).unwrap();
        assert_eq!(
            apns.provider_token(now + 60, None).unwrap(),
            (a.clone(), at)
        );
        // Expired by Apple: a new one, once (a second report of the old one
        // does not sign again).
        let (b, bt) = apns.provider_token(now + 61, Some(at)).unwrap();
        assert_ne!(a, b);
        assert_eq!(apns.provider_token(now + 62, Some(at)).unwrap().1, bt);
        let (_, ct) = apns.provider_token(bt + REFRESH_AFTER_SECS, None).unwrap();
        assert_eq!(ct, bt + REFRESH_AFTER_SECS);
    }

    #[test]
    fn a_bad_key_fails_with_a_clear_message() {
        let e = Apns::new(&ApnsConfig::new("garbage", "K", "T", "b"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("--apns-key-file"), "{e}");
    }
}
