//! The typed REST facade over the engine (docs/engine-api.md).
//!
//! One `reqwest` pool per client. Every reply outside the contract becomes a
//! typed `UTDStreamError` (`protocol` for malformed success bodies, the
//! engine's code for error bodies, `network`/`timeout` for transport
//! failures); a success body is never echoed in an error, since it may hold
//! a token.

pub mod calls;
pub mod chat;
pub mod credentials;
pub mod models;
pub mod push;
pub mod rooms;
pub mod stage;
pub mod uploads;

use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use url::Url;

use crate::error::{UTDErrorCode, UTDStreamError};
use credentials::{AppCredentials, BearerToken};
use models::{SessionInfoWire, SessionReply};

const APP_ID_HEADER: &str = "X-UTD-App-Id";
const APP_KEY_HEADER: &str = "X-UTD-App-Key";
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How a request proves who is calling.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    /// The publishable app id + key (session mint, room token without session).
    App,
    /// A user session bearer.
    User(&'a BearerToken),
}

/// Typed access to the engine's REST API.
#[derive(Debug, Clone)]
pub struct EngineApi {
    http: reqwest::Client,
    base: Url,
    token_base: Url,
    app: AppCredentials,
}

/// Body of `POST /api/v1/auth/session`.
#[derive(Debug, Serialize)]
struct SessionRequest<'a> {
    identity: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_id: Option<&'a str>,
}

impl EngineApi {
    /// A facade for the engine at `base_url`, minting room tokens at
    /// `token_base_url` (the same host unless the app splits them).
    pub fn new(
        app: AppCredentials,
        base_url: &str,
        token_base_url: &str,
    ) -> Result<Self, UTDStreamError> {
        let base = parse_base_url(base_url, "baseUrl")?;
        let token_base = parse_base_url(token_base_url, "tokenBaseUrl")?;
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("utd-stream-sdk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                UTDStreamError::internal(format!("could not build the HTTP client: {e}"))
            })?;
        Ok(Self {
            http,
            base,
            token_base,
            app,
        })
    }

    /// The app id this facade sends.
    pub fn app_id(&self) -> &str {
        &self.app.app_id
    }

    /// `POST /api/v1/auth/session`: mints a user session bearer.
    pub async fn mint_session(
        &self,
        identity: &str,
        name: Option<&str>,
        device_id: Option<&str>,
    ) -> Result<SessionReply, UTDStreamError> {
        validate_identity(identity)?;
        let body = SessionRequest {
            identity,
            name,
            device_id,
        };
        self.call(
            Method::POST,
            &self.base,
            "api/v1/auth/session",
            Auth::App,
            Some(&body),
        )
        .await
    }

    /// `GET /api/v1/me`: the session behind a bearer, with fresh plan flags.
    pub async fn me(&self, bearer: &BearerToken) -> Result<SessionInfoWire, UTDStreamError> {
        self.call::<(), _>(
            Method::GET,
            &self.base,
            "api/v1/me",
            Auth::User(bearer),
            None,
        )
        .await
    }

    /// `DELETE /api/v1/auth/session`: revokes a bearer (sign-out).
    pub async fn revoke_session(&self, bearer: &BearerToken) -> Result<(), UTDStreamError> {
        self.call_no_content::<()>(
            Method::DELETE,
            &self.base,
            "api/v1/auth/session",
            Auth::User(bearer),
            None,
        )
        .await
    }

    /// The signal WebSocket URL (`ws(s)://…/api/v1/signal`).
    pub fn signal_url(&self) -> Result<Url, UTDStreamError> {
        let mut url = join(&self.base, "api/v1/signal")?;
        let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        url.set_scheme(scheme).map_err(|()| {
            UTDStreamError::invalid_argument("baseUrl cannot be turned into a WebSocket URL")
        })?;
        Ok(url)
    }

    /// The engine's REST base.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The room-token service base (for `POST /api/v1/token`).
    pub fn token_base(&self) -> &Url {
        &self.token_base
    }

    /// Sends a JSON request and decodes a JSON reply.
    pub async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        base: &Url,
        path: &str,
        auth: Auth<'_>,
        body: Option<&B>,
    ) -> Result<T, UTDStreamError> {
        let what = format!("{method} /{path}");
        let text = self.send(method, base, path, auth, body, &what).await?;
        serde_json::from_str(&text).map_err(|e| {
            UTDStreamError::protocol(format!(
                "engine reply to {what} does not match the contract: {e}"
            ))
        })
    }

    /// Sends a JSON request whose success reply has no body (204).
    pub async fn call_no_content<B: Serialize>(
        &self,
        method: Method,
        base: &Url,
        path: &str,
        auth: Auth<'_>,
        body: Option<&B>,
    ) -> Result<(), UTDStreamError> {
        let what = format!("{method} /{path}");
        self.send(method, base, path, auth, body, &what)
            .await
            .map(drop)
    }

    async fn send<B: Serialize>(
        &self,
        method: Method,
        base: &Url,
        path: &str,
        auth: Auth<'_>,
        body: Option<&B>,
        what: &str,
    ) -> Result<String, UTDStreamError> {
        let url = join(base, path)?;
        let mut request = self.authorize(self.http.request(method, url), auth);
        if let Some(body) = body {
            request = request.json(body);
        }
        tracing::debug!(target: "utd_stream::api", "→ {what}");
        let reply = request
            .send()
            .await
            .map_err(|e| transport_error(&e, what))?;
        let status = reply.status();
        let retry_after = reply
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = reply.text().await.map_err(|e| transport_error(&e, what))?;
        tracing::debug!(target: "utd_stream::api", "← {what}: {}", status.as_u16());
        if status.is_success() {
            return Ok(text);
        }
        let error =
            UTDStreamError::from_engine_reply(status.as_u16(), &text, retry_after.as_deref());
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            tracing::warn!(target: "utd_stream::api", "{what} failed: {error}");
        }
        Err(error)
    }

    fn authorize(&self, request: RequestBuilder, auth: Auth<'_>) -> RequestBuilder {
        match auth {
            Auth::App => request
                .header(APP_ID_HEADER, &self.app.app_id)
                .header(APP_KEY_HEADER, self.app.app_key()),
            Auth::User(bearer) => request.bearer_auth(bearer.expose()),
        }
    }
}

fn parse_base_url(raw: &str, name: &str) -> Result<Url, UTDStreamError> {
    let mut url = Url::parse(raw.trim()).map_err(|e| {
        UTDStreamError::invalid_argument(format!("{name} {raw:?} is not a valid URL: {e}"))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UTDStreamError::invalid_argument(format!(
            "{name} must be an http(s) URL, got scheme {:?}",
            url.scheme()
        )));
    }
    // Joining relative paths needs a trailing slash on the base path.
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

fn join(base: &Url, path: &str) -> Result<Url, UTDStreamError> {
    base.join(path)
        .map_err(|e| UTDStreamError::internal(format!("could not build the URL for {path}: {e}")))
}

/// Checks an identity before sending it: the engine accepts 1..=128 chars of
/// `[A-Za-z0-9_.@:-]` (docs/engine-api.md).
pub fn validate_identity(identity: &str) -> Result<(), UTDStreamError> {
    let ok_len = (1..=128).contains(&identity.chars().count());
    let ok_chars = identity
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '@' | ':' | '-'));
    if ok_len && ok_chars {
        Ok(())
    } else {
        Err(UTDStreamError::invalid_argument(format!(
            "identity {identity:?} must be 1 to 128 characters of letters, digits and _ . @ : -"
        )))
    }
}

fn transport_error(e: &reqwest::Error, what: &str) -> UTDStreamError {
    let detail = root_cause(e);
    if e.is_timeout() {
        UTDStreamError::new(UTDErrorCode::Timeout, format!("{what} timed out: {detail}"))
    } else if e.is_connect() {
        UTDStreamError::network(format!("could not reach the engine for {what}: {detail}"))
    } else {
        UTDStreamError::network(format!("{what} failed in transport: {detail}"))
    }
}

/// The innermost cause of a transport error (e.g. "Connection refused"):
/// short, and free of the URL reqwest would otherwise prepend.
fn root_cause(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_validated_and_signal_url_follows_scheme() {
        let app = AppCredentials::new("a".into(), "k".into());
        assert!(EngineApi::new(app.clone(), "ftp://x", "http://x").is_err());
        assert!(EngineApi::new(app.clone(), "not a url", "http://x").is_err());
        let api = EngineApi::new(
            app.clone(),
            "https://engine.example/base",
            "https://engine.example",
        )
        .expect("valid urls");
        let signal = api.signal_url().expect("signal url");
        assert_eq!(signal.as_str(), "wss://engine.example/base/api/v1/signal");
        let api =
            EngineApi::new(app, "http://127.0.0.1:9000", "http://127.0.0.1:9000").expect("valid");
        assert_eq!(
            api.signal_url().expect("url").as_str(),
            "ws://127.0.0.1:9000/api/v1/signal"
        );
    }

    #[test]
    fn identities_are_checked_before_sending() {
        assert!(validate_identity("user-42@example.com").is_ok());
        assert!(validate_identity("").is_err());
        assert!(validate_identity("has space").is_err());
        assert!(validate_identity(&"x".repeat(129)).is_err());
    }
}
