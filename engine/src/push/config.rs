//! Push credentials (engine-api.md §4, §13): APNs token auth and an FCM
//! service account. Nothing configured means nothing is sent.

use anyhow::Context as _;
use serde::Deserialize;

/// APNs production host.
pub const APNS_PRODUCTION: &str = "https://api.push.apple.com";
/// APNs development (sandbox) host.
pub const APNS_SANDBOX: &str = "https://api.sandbox.push.apple.com";
/// FCM HTTP v1 host.
pub const FCM_DEFAULT_ENDPOINT: &str = "https://fcm.googleapis.com";

/// Which push services the engine may use. `Default` configures none.
#[derive(Debug, Clone, Default)]
pub struct PushConfig {
    /// APNs (VoIP pushes to `apns_voip` tokens); `None`: nothing goes to Apple.
    pub apns: Option<ApnsConfig>,
    /// FCM HTTP v1 (data messages to `fcm` tokens); `None`: nothing goes to Google.
    pub fcm: Option<FcmConfig>,
}

impl PushConfig {
    /// True when at least one service is configured.
    pub fn any(&self) -> bool {
        self.apns.is_some() || self.fcm.is_some()
    }
}

/// APNs provider-token (`.p8`) credentials.
#[derive(Clone)]
pub struct ApnsConfig {
    /// The `.p8` signing key, PKCS#8 PEM (secret: never logged).
    pub key_pem: String,
    /// The key's 10-character Key ID (JWT header `kid`).
    pub key_id: String,
    /// The developer Team ID (JWT claim `iss`).
    pub team_id: String,
    /// The app's bundle id; VoIP pushes use the topic `<bundle_id>.voip`.
    pub bundle_id: String,
    /// Base URL of the provider API, without a trailing slash.
    pub endpoint: String,
}

impl ApnsConfig {
    /// Credentials for the production endpoint.
    pub fn new(
        key_pem: impl Into<String>,
        key_id: impl Into<String>,
        team_id: impl Into<String>,
        bundle_id: impl Into<String>,
    ) -> Self {
        ApnsConfig {
            key_pem: key_pem.into(),
            key_id: key_id.into(),
            team_id: team_id.into(),
            bundle_id: bundle_id.into(),
            endpoint: APNS_PRODUCTION.to_owned(),
        }
    }

    /// Another provider API base URL (the sandbox, or a test stand-in).
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = endpoint.into().trim_end_matches('/').to_owned();
        self
    }

    /// The `apns-topic` of VoIP pushes.
    pub fn voip_topic(&self) -> String {
        format!("{}.voip", self.bundle_id)
    }
}

impl std::fmt::Debug for ApnsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApnsConfig")
            .field("key_pem", &"<redacted>")
            .field("key_id", &self.key_id)
            .field("team_id", &self.team_id)
            .field("bundle_id", &self.bundle_id)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

/// The fields of a Google service-account key file the engine uses.
#[derive(Clone, Deserialize)]
struct ServiceAccountFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    project_id: Option<String>,
    private_key_id: Option<String>,
    private_key: Option<String>,
    client_email: Option<String>,
    token_uri: Option<String>,
}

/// FCM HTTP v1 credentials: a service account allowed to send messages.
#[derive(Clone)]
pub struct FcmConfig {
    service_account_json: String,
    project_id: String,
    private_key_id: String,
    private_key: String,
    client_email: String,
    token_uri: String,
    endpoint: String,
}

impl FcmConfig {
    /// Parses a service-account key file (JSON as downloaded from the Google
    /// Cloud console); checks the required fields and the RSA key.
    pub fn from_service_account_json(json: &str) -> anyhow::Result<Self> {
        let file: ServiceAccountFile = serde_json::from_str(json)
            .map_err(|e| anyhow::anyhow!("the FCM service account is not valid JSON: {e}"))?;
        if let Some(kind) = file.kind.as_deref() {
            anyhow::ensure!(
                kind == "service_account",
                "the FCM credentials are of type {kind:?}, not a service_account key"
            );
        }
        let fields = [
            ("project_id", &file.project_id),
            ("private_key_id", &file.private_key_id),
            ("private_key", &file.private_key),
            ("client_email", &file.client_email),
            ("token_uri", &file.token_uri),
        ];
        let missing: Vec<&str> = fields
            .iter()
            .filter(|(_, v)| v.as_deref().is_none_or(str::is_empty))
            .map(|(name, _)| *name)
            .collect();
        anyhow::ensure!(
            missing.is_empty(),
            "the FCM service account lacks {}",
            missing.join(", ")
        );
        let take = |v: Option<String>| v.unwrap_or_default();
        let config = FcmConfig {
            service_account_json: json.to_owned(),
            project_id: take(file.project_id),
            private_key_id: take(file.private_key_id),
            private_key: take(file.private_key),
            client_email: take(file.client_email),
            token_uri: take(file.token_uri),
            endpoint: FCM_DEFAULT_ENDPOINT.to_owned(),
        };
        super::jwt::rsa_key(&config.private_key)
            .context("the FCM service account's private_key is not an RSA private key (PEM)")?;
        Ok(config)
    }

    /// Another FCM base URL (a test stand-in).
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = endpoint.into().trim_end_matches('/').to_owned();
        self
    }

    /// The Firebase project messages are sent through.
    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    /// The service account's e-mail (the assertion's `iss`).
    pub fn client_email(&self) -> &str {
        &self.client_email
    }

    /// The OAuth 2 token endpoint (the assertion's `aud`).
    pub fn token_uri(&self) -> &str {
        &self.token_uri
    }

    /// Base URL of the FCM API.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub(crate) fn private_key_id(&self) -> &str {
        &self.private_key_id
    }

    pub(crate) fn private_key(&self) -> &str {
        &self.private_key
    }

    /// The key file as given (secret).
    pub fn service_account_json(&self) -> &str {
        &self.service_account_json
    }
}

impl std::fmt::Debug for FcmConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FcmConfig")
            .field("service_account_json", &"<redacted>")
            .field("project_id", &self.project_id)
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::jwt::tests::{EC_KEY_PEM, RSA_KEY_PEM};

    fn account(extra: serde_json::Value) -> String {
        let mut v = serde_json::json!({
            "type": "service_account",
            "project_id": "utd-test",
            "private_key_id": "kid-1",
            "private_key": RSA_KEY_PEM,
            "client_email": "push@utd-test.iam.gserviceaccount.com",
            "token_uri": "https://oauth2.googleapis.com/token",
        });
        for (k, val) in extra.as_object().unwrap() {
            if val.is_null() {
                v.as_object_mut().unwrap().remove(k);
            } else {
                v[k] = val.clone();
            }
        }
        v.to_string()
    }

    #[test]
    fn a_service_account_is_parsed_and_its_key_checked() {
        let c = FcmConfig::from_service_account_json(&account(serde_json::json!({})))
            .unwrap()
            .with_endpoint("http://127.0.0.1:9/");
        assert_eq!(c.project_id(), "utd-test");
        assert_eq!(c.token_uri(), "https://oauth2.googleapis.com/token");
        assert_eq!(c.endpoint(), "http://127.0.0.1:9");
        let e = FcmConfig::from_service_account_json(&account(
            serde_json::json!({"private_key_id": null, "client_email": ""}),
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("private_key_id, client_email"), "{e}");
        let e = FcmConfig::from_service_account_json(&account(
            serde_json::json!({"private_key": EC_KEY_PEM}),
        ))
        .unwrap_err();
        assert!(format!("{e:#}").contains("not an RSA private key"), "{e:#}");
        let e = FcmConfig::from_service_account_json("{").unwrap_err();
        assert!(e.to_string().contains("not valid JSON"), "{e}");
        let e = FcmConfig::from_service_account_json(&account(
            serde_json::json!({"type": "authorized_user"}),
        ))
        .unwrap_err();
        assert!(e.to_string().contains("authorized_user"), "{e}");
    }

    #[test]
    fn debug_output_has_no_secrets() {
        let fcm = FcmConfig::from_service_account_json(&account(serde_json::json!({}))).unwrap();
        let apns = ApnsConfig::new(EC_KEY_PEM, "KEYID12345", "TEAM123456", "com.example.app");
        let text = format!(
            "{:?}",
            PushConfig {
                apns: Some(apns),
                fcm: Some(fcm)
            }
        );
        assert!(!text.contains("PRIVATE KEY"), "{text}");
        assert!(!text.contains("MII"), "{text}");
        assert!(
            text.contains("KEYID12345") && text.contains("utd-test"),
            "{text}"
        );
    }
}
