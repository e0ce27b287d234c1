//! The FCM stand-in: Google's OAuth 2.0 token endpoint for service accounts
//! and FCM's HTTP v1 `projects.messages.send`, on 127.0.0.1 (HTTP/1.1, and
//! HTTP/2 with prior knowledge).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};

use super::fcm_message::{parse_send_request, Target};
use super::google::{fcm_message, json_body, oauth_error, ApiError};
use super::keys::{random_digits, random_hex, service_account_rsa_key};
use super::recorder::{lock, Recorder};
use super::script::FailureScript;
use super::server::{LoopbackServer, Protocols};
use super::{now_ms, now_secs};

/// The grant type of a JWT-bearer assertion (RFC 7523), the only one a
/// service account uses.
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The scope FCM's send API takes (as does the all-of-Cloud scope).
const SCOPE_MESSAGING: &str = "https://www.googleapis.com/auth/firebase.messaging";
const SCOPE_CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";
/// Google grants access tokens for an hour, reported as 3599 s.
const ACCESS_TOKEN_SECS: u64 = 3599;
/// An assertion may live at most an hour.
const MAX_ASSERTION_SECS: u64 = 3600;
/// How far in the future an assertion's `iat` may lie (clock skew).
const IAT_SKEW_SECS: u64 = 60;
/// Google's answer to an assertion outside its time rules.
const SHORT_LIVED: &str = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a \
                           reasonable timeframe. Check your iat and exp values in the JWT claim.";
const CREDENTIALS_HELP: &str = "Expected OAuth 2 access token, login cookie or other valid \
                                authentication credential. See \
                                https://developers.google.com/identity/sign-in/web/devconsole-project.";

/// A message FCM accepted, as the stand-in recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FcmMessage {
    /// `message.token`; for a topic message `/topics/<topic>`, for a
    /// condition message the condition.
    pub device_token: String,
    /// The data the device receives: `android.data` when the message has it
    /// (it overrides `message.data`), else `message.data`.
    pub data: BTreeMap<String, String>,
    /// `android.priority` as its enum name, `NORMAL` or `HIGH` (whatever case
    /// or number the request used).
    pub android_priority: Option<String>,
    /// `android.ttl` as sent, e.g. `"30s"`.
    pub ttl: Option<String>,
    /// `android.collapse_key`.
    pub collapse_key: Option<String>,
    /// Whether the message had a `notification` (top level or Android's).
    pub has_notification: bool,
    /// The notification's title as the device shows it (`android.notification`
    /// over `message.notification`).
    pub notification_title: Option<String>,
    /// The notification's body, likewise.
    pub notification_body: Option<String>,
    /// `android.notification.tag`.
    pub notification_tag: Option<String>,
    /// `android.notification.notification_count`.
    pub notification_count: Option<i64>,
    /// The message ID answered, the last part of
    /// `projects/<project>/messages/<id>`.
    pub message_id: String,
    /// When the message arrived, in milliseconds since the Unix epoch.
    pub received_at_ms: u64,
}

struct Grant {
    expires_at_ms: u64,
    scopes: Vec<String>,
}

struct FcmState {
    project_id: String,
    private_key_id: String,
    client_email: String,
    client_id: String,
    token_uri: String,
    private_pem: &'static str,
    verifier: DecodingKey,
    grants: Mutex<HashMap<String, Grant>>,
    grants_issued: Mutex<usize>,
    script: Mutex<FailureScript<ApiError>>,
    messages: Recorder<FcmMessage>,
}

/// A loopback FCM: the OAuth 2.0 token endpoint (`POST /token`) a service
/// account trades a signed JWT assertion at, and the HTTP v1 send endpoint
/// (`POST /v1/projects/<project>/messages:send`).
///
/// The token endpoint takes a form body `grant_type=urn:ietf:params:oauth:
/// grant-type:jwt-bearer&assertion=<JWT>` and checks the assertion as Google
/// does: RS256 signed by the service account's key (`kid`, if present, its
/// `private_key_id`), `iss` its `client_email`, `aud` the token URI, `iat`
/// and `exp` at most an hour apart with `exp` in the future, and a `scope`.
/// Failures answer 400 `{"error": "invalid_grant" | "invalid_scope" |
/// "invalid_request" | "unsupported_grant_type", "error_description"}`.
/// Success: `{"access_token", "expires_in": 3599, "token_type": "Bearer"}`.
///
/// The send endpoint checks, in order: a `Bearer` access token this
/// stand-in issued and that has not expired (else 401 `UNAUTHENTICATED`),
/// granted with the `firebase.messaging` or `cloud-platform` scope (else 403
/// `PERMISSION_DENIED`), the project of the path (else 403
/// `PERMISSION_DENIED`, as IAM answers a project the account has no rights
/// on), then the message (400 `INVALID_ARGUMENT`): exactly one of `token` /
/// `topic` / `condition`, `data` a map of strings without reserved keys,
/// `android.priority` `NORMAL` / `HIGH`, `android.ttl` a Duration from 0 to
/// 4 weeks, at most 4096 bytes of data, no unknown field; then any scripted
/// failure. Errors are Google's `{"error": {"code", "message", "status",
/// "details"}}`; success is `{"name": "projects/<project>/messages/<id>"}`.
pub struct FcmStandIn {
    server: LoopbackServer,
    state: Arc<FcmState>,
}

impl FcmStandIn {
    /// Starts the stand-in on a free port for the Firebase project
    /// `project_id`, with a service account of its own (its RSA key is made
    /// once per process).
    pub async fn start(project_id: &str) -> anyhow::Result<FcmStandIn> {
        let key = service_account_rsa_key();
        let verifier = DecodingKey::from_rsa_pem(key.public_pem.as_bytes())?;
        let mut state_slot = None;
        let server = LoopbackServer::start(0, Protocols::Http1AndHttp2, "FCM", |port| {
            let state = Arc::new(FcmState {
                project_id: project_id.to_owned(),
                private_key_id: random_hex(20),
                client_email: format!("utd-push@{project_id}.iam.gserviceaccount.com"),
                client_id: random_digits(21),
                token_uri: format!("http://127.0.0.1:{port}/token"),
                private_pem: &key.private_pem,
                verifier,
                grants: Mutex::new(HashMap::new()),
                grants_issued: Mutex::new(0),
                script: Mutex::new(FailureScript::new()),
                messages: Recorder::new(),
            });
            state_slot = Some(state.clone());
            axum::Router::new()
                .route("/token", post(token))
                .route("/v1/projects/{project}/messages:send", post(send))
                .fallback(not_found)
                .with_state(state)
        })
        .await?;
        let state = state_slot.ok_or_else(|| anyhow::anyhow!("FCM stand-in built no router"))?;
        Ok(FcmStandIn { server, state })
    }

    /// The base of the send API, `http://127.0.0.1:PORT`: the engine POSTs
    /// `{url}/v1/projects/{project_id}/messages:send`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port())
    }

    /// The OAuth 2.0 token endpoint, `{url}/token`.
    pub fn token_uri(&self) -> String {
        self.state.token_uri.clone()
    }

    /// A Google service-account key file for this stand-in's account: `type`
    /// `service_account`, `project_id`, `private_key_id`, `private_key`
    /// (PKCS#8 PEM), `client_email`, `client_id`, `auth_uri`, `token_uri`
    /// (= [`FcmStandIn::token_uri`]) and the certificate URLs.
    pub fn service_account_json(&self) -> String {
        let s = &self.state;
        let email_path = s.client_email.replace('@', "%40");
        let file = json!({
            "type": "service_account",
            "project_id": s.project_id,
            "private_key_id": s.private_key_id,
            "private_key": s.private_pem,
            "client_email": s.client_email,
            "client_id": s.client_id,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": s.token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url":
                format!("https://www.googleapis.com/robot/v1/metadata/x509/{email_path}"),
            "universe_domain": "googleapis.com",
        });
        serde_json::to_string_pretty(&file).unwrap_or_else(|_| file.to_string())
    }

    /// Every later message to `device_token` that passes the checks answers
    /// `status` with FCM's `error_code`, e.g. (404, `UNREGISTERED`), (400,
    /// `INVALID_ARGUMENT`), (503, `UNAVAILABLE`).
    pub fn fail_token(&self, device_token: &str, status: u16, error_code: &str) {
        let error = ApiError::fcm(status, error_code, fcm_message(error_code));
        lock(&self.state.script).fail_token(device_token, error);
    }

    /// The next `count` messages (any token) that pass the checks answer
    /// `status` with `error_code`, e.g. (429, `QUOTA_EXCEEDED`), (503,
    /// `UNAVAILABLE`), (500, `INTERNAL`).
    pub fn fail_next(&self, count: usize, status: u16, error_code: &str) {
        let error = ApiError::fcm(status, error_code, fcm_message(error_code));
        lock(&self.state.script).fail_next(count, error);
    }

    /// The accepted messages, in arrival order.
    pub fn messages(&self) -> Vec<FcmMessage> {
        self.state.messages.snapshot()
    }

    /// How many access tokens the token endpoint issued: a client must cache
    /// its token until it nears expiry, not fetch one per message.
    pub fn token_grants(&self) -> usize {
        *lock(&self.state.grants_issued)
    }

    /// Makes every access token issued so far expired, as an hour passing
    /// would: the next send with one answers 401 and the client must fetch a
    /// new token.
    pub fn expire_access_tokens(&self) {
        for grant in lock(&self.state.grants).values_mut() {
            grant.expires_at_ms = 0;
        }
    }

    /// Waits until at least `count` messages were accepted and returns them
    /// all; on timeout, an error naming what did arrive.
    pub async fn wait_for_messages(
        &self,
        count: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<FcmMessage>> {
        self.state
            .messages
            .wait_for(count, timeout)
            .await
            .map_err(|arrived| {
                let names: Vec<String> = arrived
                    .iter()
                    .map(|m| format!("{} {:?}", m.device_token, m.data))
                    .collect();
                anyhow::anyhow!(
                    "FCM stand-in: {count} message(s) expected within {timeout:?}, {} accepted \
                     {names:?} ({} access token(s) issued)",
                    arrived.len(),
                    self.token_grants()
                )
            })
    }

    /// Closes the listener and live connections; the port is free when this
    /// returns.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

async fn not_found() -> Response {
    ApiError::new(404, "The requested URL was not found on this server.").into_response()
}

/// `POST /token`: the OAuth 2.0 JWT-bearer grant.
async fn token(State(state): State<Arc<FcmState>>, body: Bytes) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let Some(grant_type) = form.get("grant_type") else {
        return oauth_error("invalid_request", "Missing required parameter: grant_type");
    };
    if grant_type != JWT_BEARER {
        return oauth_error(
            "unsupported_grant_type",
            &format!("Invalid grant_type: {grant_type}"),
        );
    }
    let Some(assertion) = form.get("assertion") else {
        return oauth_error("invalid_request", "Missing required parameter: assertion");
    };
    let scopes = match check_assertion(&state, assertion) {
        Ok(scopes) => scopes,
        Err((error, description)) => return oauth_error(error, &description),
    };
    let access_token = format!("ya29.stand-in.{}", random_hex(32));
    lock(&state.grants).insert(
        access_token.clone(),
        Grant {
            expires_at_ms: now_ms() + ACCESS_TOKEN_SECS * 1000,
            scopes,
        },
    );
    *lock(&state.grants_issued) += 1;
    let body = json!({
        "access_token": access_token,
        "expires_in": ACCESS_TOKEN_SECS,
        "token_type": "Bearer",
    });
    (StatusCode::OK, json_body(&body)).into_response()
}

/// The scopes an assertion asks for, or the OAuth error and description.
fn check_assertion(
    state: &FcmState,
    assertion: &str,
) -> Result<Vec<String>, (&'static str, String)> {
    let grant = |d: &str| ("invalid_grant", d.to_owned());
    let bad_signature = || grant("Invalid JWT Signature.");
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| grant("Invalid JWT: the assertion is not a signed JWT."))?;
    // The account is found from the claims first, then its key checked.
    let unverified = jsonwebtoken::dangerous::insecure_decode::<Value>(assertion)
        .map_err(|_| grant("Invalid JWT: the assertion is not a signed JWT."))?
        .claims;
    if unverified.get("iss").and_then(Value::as_str) != Some(state.client_email.as_str()) {
        return Err(grant("Invalid grant: account not found"));
    }
    if header.alg != Algorithm::RS256 {
        return Err(bad_signature());
    }
    if header
        .kid
        .as_deref()
        .is_some_and(|kid| kid != state.private_key_id)
    {
        return Err(bad_signature());
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<Value>(assertion, &state.verifier, &validation)
        .map_err(|_| bad_signature())?
        .claims;
    if claims.get("aud").and_then(Value::as_str) != Some(state.token_uri.as_str()) {
        return Err(grant(&format!(
            "Invalid JWT: Failed audience check. The right audience is {}",
            state.token_uri
        )));
    }
    let seconds = |name: &str| claims.get(name).and_then(Value::as_u64);
    let (Some(iat), Some(exp)) = (seconds("iat"), seconds("exp")) else {
        return Err(grant(SHORT_LIVED));
    };
    let now = now_secs();
    if exp <= iat || exp - iat > MAX_ASSERTION_SECS || exp <= now || iat > now + IAT_SKEW_SECS {
        return Err(grant(SHORT_LIVED));
    }
    let scopes: Vec<String> = claims
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if scopes.is_empty() {
        return Err((
            "invalid_scope",
            "Empty or missing scope not allowed.".to_owned(),
        ));
    }
    if scopes
        .iter()
        .any(|s| !s.starts_with("https://www.googleapis.com/auth/"))
    {
        return Err((
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.".to_owned(),
        ));
    }
    Ok(scopes)
}

/// `POST /v1/projects/{project}/messages:send`.
async fn send(
    State(state): State<Arc<FcmState>>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received_at_ms = now_ms();
    match accept(&state, &project, &headers, &body, received_at_ms) {
        Ok(Accepted::Recorded(message)) => {
            let name = format!("projects/{project}/messages/{}", message.message_id);
            state.messages.record(*message);
            (StatusCode::OK, json_body(&json!({ "name": name }))).into_response()
        }
        Ok(Accepted::ValidateOnly) => {
            let name = format!("projects/{project}/messages/fake_message_id");
            (StatusCode::OK, json_body(&json!({ "name": name }))).into_response()
        }
        Err(error) => error.into_response(),
    }
}

enum Accepted {
    Recorded(Box<FcmMessage>),
    /// `validate_only`: checked, not sent.
    ValidateOnly,
}

fn accept(
    state: &FcmState,
    project: &str,
    headers: &HeaderMap,
    body: &[u8],
    received_at_ms: u64,
) -> Result<Accepted, ApiError> {
    check_access_token(state, headers, received_at_ms)?;
    if project != state.project_id {
        return Err(ApiError::new(
            403,
            format!(
                "Permission 'cloudmessaging.messages.create' denied on resource \
                 '//cloudresourcemanager.googleapis.com/projects/{project}' (or it may not exist)."
            ),
        ));
    }
    let request = parse_send_request(body)?;
    if request.validate_only {
        return Ok(Accepted::ValidateOnly);
    }
    let device_token = match &request.target {
        Target::Token(token) => token.clone(),
        Target::Topic(topic) => format!("/topics/{topic}"),
        Target::Condition(condition) => condition.clone(),
    };
    if let Some(error) = lock(&state.script).take(&device_token) {
        return Err(error);
    }
    Ok(Accepted::Recorded(Box::new(FcmMessage {
        device_token,
        data: request.data,
        android_priority: request.android_priority,
        ttl: request.ttl,
        collapse_key: request.collapse_key,
        has_notification: request.has_notification,
        notification_title: request.shown.as_ref().and_then(|n| n.title.clone()),
        notification_body: request.shown.as_ref().and_then(|n| n.body.clone()),
        notification_tag: request.shown.as_ref().and_then(|n| n.tag.clone()),
        notification_count: request.shown.as_ref().and_then(|n| n.count),
        message_id: format!("0:{received_at_ms}%{}", random_hex(8)),
        received_at_ms,
    })))
}

/// 401 unless `Authorization: Bearer <token>` names an unexpired token this
/// stand-in issued; 403 unless it was granted a scope FCM takes.
fn check_access_token(state: &FcmState, headers: &HeaderMap, now: u64) -> Result<(), ApiError> {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty());
    let Some(bearer) = bearer else {
        return Err(ApiError::auth(
            401,
            "CREDENTIALS_MISSING",
            &format!("Request is missing required authentication credential. {CREDENTIALS_HELP}"),
        ));
    };
    let invalid = |reason: &str| {
        ApiError::auth(
            401,
            reason,
            &format!("Request had invalid authentication credentials. {CREDENTIALS_HELP}"),
        )
    };
    let grants = lock(&state.grants);
    let Some(grant) = grants.get(bearer) else {
        return Err(invalid("ACCESS_TOKEN_TYPE_UNSUPPORTED"));
    };
    if grant.expires_at_ms <= now {
        return Err(invalid("ACCESS_TOKEN_EXPIRED"));
    }
    if !grant
        .scopes
        .iter()
        .any(|s| s == SCOPE_MESSAGING || s == SCOPE_CLOUD_PLATFORM)
    {
        return Err(ApiError::auth(
            403,
            "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
            "Request had insufficient authentication scopes.",
        ));
    }
    Ok(())
}
