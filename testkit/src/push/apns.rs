//! The APNs stand-in: Apple's provider API (`POST /3/device/<token>`) over
//! HTTP/2 cleartext on 127.0.0.1, with token-based (JWT) authentication.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::apns_checks::{self, ProviderTokenVerifier, Refusal};
use super::keys::{random_uuid, ApnsKey};
use super::now_ms;
use super::recorder::{lock, Recorder};
use super::script::FailureScript;
use super::server::{LoopbackServer, Protocols};

/// Bodies are read up to this size; anything larger is refused as too large
/// without reading on (the payload limit itself is 4 or 5 KB).
const BODY_READ_LIMIT: usize = 64 * 1024;

/// A push APNs accepted (200), as the stand-in recorded it.
#[derive(Clone, Debug, PartialEq)]
pub struct ApnsPush {
    /// The device token of the request path, hex.
    pub device_token: String,
    /// `apns-push-type`; empty when the request had none.
    pub push_type: String,
    /// `apns-topic`.
    pub topic: String,
    /// `apns-priority`, 10 when the request had none (Apple's default).
    pub priority: u8,
    /// `apns-expiration` in Unix seconds; 0 when the request had none.
    pub expiration: u64,
    /// `apns-collapse-id`, if any.
    pub collapse_id: Option<String>,
    /// The `apns-id` answered: the request's, or one the stand-in made.
    pub apns_id: String,
    /// The decoded JSON payload.
    pub payload: Value,
    /// The `iat` of the provider token the push carried (Unix seconds).
    pub jwt_issued_at: u64,
    /// When the push arrived, in milliseconds since the Unix epoch.
    pub received_at_ms: u64,
}

/// Any request the stand-in answered, accepted or refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApnsRequest {
    /// The device token of the request path (empty for a path that is not
    /// `/3/device/<token>`).
    pub device_token: String,
    /// The HTTP status answered.
    pub status: u16,
    /// The reason string answered, `None` for 200.
    pub reason: Option<String>,
    /// When the request arrived, in milliseconds since the Unix epoch.
    pub received_at_ms: u64,
}

struct ApnsState {
    bundle_id: String,
    verifier: ProviderTokenVerifier,
    script: Mutex<FailureScript<Refusal>>,
    pushes: Recorder<ApnsPush>,
    requests: Recorder<ApnsRequest>,
    provider_tokens: Mutex<HashSet<String>>,
}

/// A loopback APNs: HTTP/2 cleartext with prior knowledge ("h2c") on
/// 127.0.0.1 (an HTTP/1.1 request is refused: APNs speaks only HTTP/2),
/// verifying each request as Apple does and answering Apple's documented
/// errors, in this order:
///
/// 1. the path is `/3/device/<token>` (else 404 `BadPath`), the method POST
///    (else 405 `MethodNotAllowed`);
/// 2. the provider token: `authorization: bearer <JWT>` (else 403
///    `MissingProviderToken`), ES256 with `kid` = the key ID, `iss` = the
///    Team ID, a valid signature and an `iat` (else 403
///    `InvalidProviderToken`), `iat` at most an hour old (else 403
///    `ExpiredProviderToken`);
/// 3. no repeated header (400 `DuplicateHeaders`), `apns-id` a UUID (400
///    `BadMessageId`), the device token hex (400 `BadDeviceToken`, or
///    `MissingDeviceToken` when empty);
/// 4. `apns-topic` present (400 `MissingTopic`) and of this app (400
///    `TopicDisallowed`), `apns-push-type` one of Apple's values (400
///    `InvalidPushType`) whose topic it is (`<bundle>.voip` for `voip`, else
///    400 `DeviceTokenNotForTopic`), `apns-priority` 10, 5 or 1 (400
///    `BadPriority`; 10 for `background` too), `apns-expiration` an integer
///    (400 `BadExpirationDate`), `apns-collapse-id` at most 64 bytes (400
///    `BadCollapseId`);
/// 5. the payload: not empty (400 `PayloadEmpty`), at most 5120 bytes for
///    VoIP and 4096 otherwise (413 `PayloadTooLarge`), a JSON dictionary
///    (400 `BadPayload`, a reason Apple does not document);
/// 6. then any scripted failure ([`ApnsStandIn::fail_next`], then
///    [`ApnsStandIn::fail_token`]).
///
/// Success is 200 with an empty body and the `apns-id` header; errors are
/// `{"reason": "..."}` (plus `"timestamp"` in ms for 410) with `apns-id`.
pub struct ApnsStandIn {
    server: LoopbackServer,
    state: Arc<ApnsState>,
}

impl ApnsStandIn {
    /// Starts the stand-in on a free port, trusting `key` for the app
    /// `bundle_id` (VoIP pushes go to `<bundle_id>.voip`).
    pub async fn start(key: &ApnsKey, bundle_id: &str) -> anyhow::Result<ApnsStandIn> {
        Self::start_on(0, key, bundle_id).await
    }

    /// Starts the stand-in on 127.0.0.1:`port`, e.g. late, on a port the
    /// engine already points at ("APNs unreachable, then back").
    pub async fn start_on(
        port: u16,
        key: &ApnsKey,
        bundle_id: &str,
    ) -> anyhow::Result<ApnsStandIn> {
        let state = Arc::new(ApnsState {
            bundle_id: bundle_id.to_owned(),
            verifier: ProviderTokenVerifier::new(&key.public_pem, &key.key_id, &key.team_id)?,
            script: Mutex::new(FailureScript::new()),
            pushes: Recorder::new(),
            requests: Recorder::new(),
            provider_tokens: Mutex::new(HashSet::new()),
        });
        let router = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        let server =
            LoopbackServer::start(port, Protocols::Http2Only, "APNs", move |_| router).await?;
        Ok(ApnsStandIn { server, state })
    }

    /// `http://127.0.0.1:PORT`; the engine appends `/3/device/<token>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port())
    }

    /// The port the stand-in listens on.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// Every later push to `device_token` that passes the checks answers
    /// `status` and `reason` (e.g. 410 `Unregistered`, 400 `BadDeviceToken`).
    pub fn fail_token(&self, device_token: &str, status: u16, reason: &str) {
        lock(&self.state.script).fail_token(device_token, refusal(status, reason));
    }

    /// The next `count` pushes (any token) that pass the checks answer
    /// `status` and `reason` (e.g. 429 `TooManyRequests`, 503
    /// `ServiceUnavailable`, 500 `InternalServerError`).
    pub fn fail_next(&self, count: usize, status: u16, reason: &str) {
        lock(&self.state.script).fail_next(count, refusal(status, reason));
    }

    /// The accepted (200) pushes, in arrival order.
    pub fn pushes(&self) -> Vec<ApnsPush> {
        self.state.pushes.snapshot()
    }

    /// Every request answered, refused ones included, in arrival order.
    pub fn requests(&self) -> Vec<ApnsRequest> {
        self.state.requests.snapshot()
    }

    /// How many distinct provider tokens (JWT strings, valid or not) requests
    /// carried: a provider must reuse its token, not sign one per push.
    pub fn provider_tokens_seen(&self) -> usize {
        lock(&self.state.provider_tokens).len()
    }

    /// Waits until at least `count` pushes were accepted and returns them
    /// all; on timeout, an error naming what did arrive (accepted pushes and
    /// every refused request with its reason).
    pub async fn wait_for_pushes(
        &self,
        count: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<ApnsPush>> {
        self.state
            .pushes
            .wait_for(count, timeout)
            .await
            .map_err(|arrived| {
                let accepted: Vec<String> = arrived
                    .iter()
                    .map(|p| format!("{} ({}, {})", p.device_token, p.push_type, p.topic))
                    .collect();
                let requests: Vec<String> = self
                    .requests()
                    .iter()
                    .map(|r| {
                        format!(
                            "{} -> {} {}",
                            r.device_token,
                            r.status,
                            r.reason.as_deref().unwrap_or("")
                        )
                    })
                    .collect();
                anyhow::anyhow!(
                    "APNs stand-in: {count} push(es) expected within {timeout:?}, {} accepted \
                     {accepted:?}; all requests: {requests:?}",
                    arrived.len()
                )
            })
    }

    /// Closes the listener and live connections; the port is free when this
    /// returns (a new stand-in can `start_on` it).
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

fn refusal(status: u16, reason: &str) -> Refusal {
    Refusal {
        status,
        reason: reason.to_owned(),
    }
}

async fn handle(State(state): State<Arc<ApnsState>>, request: Request) -> Response {
    let received_at_ms = now_ms();
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, BODY_READ_LIMIT).await;
    // Errors carry an apns-id too: the request's when it is one.
    let fallback_id = apns_checks::check_apns_id(&parts.headers)
        .ok()
        .flatten()
        .unwrap_or_else(random_uuid);

    let path = parts.uri.path();
    let device_token = match path.strip_prefix("/3/device") {
        Some("") => Some(""),
        Some(rest) => rest.strip_prefix('/').filter(|t| !t.contains('/')),
        None => None,
    };
    let outcome = match device_token {
        None => Err(refusal(404, "BadPath")),
        Some(_) if parts.method != Method::POST => Err(refusal(405, "MethodNotAllowed")),
        Some(token) => accept(
            &state,
            token,
            &parts.headers,
            body.ok().as_deref(),
            received_at_ms,
        ),
    };
    let device_token = device_token.unwrap_or("").to_owned();
    match outcome {
        Ok(push) => {
            let apns_id = push.apns_id.clone();
            state.requests.record(ApnsRequest {
                device_token,
                status: 200,
                reason: None,
                received_at_ms,
            });
            state.pushes.record(push);
            respond(StatusCode::OK, &apns_id, Body::empty())
        }
        Err(Refusal { status, reason }) => {
            state.requests.record(ApnsRequest {
                device_token,
                status,
                reason: Some(reason.clone()),
                received_at_ms,
            });
            let mut error = json!({ "reason": reason });
            if status == 410 {
                error["timestamp"] = json!(received_at_ms);
            }
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = respond(status, &fallback_id, Body::from(error.to_string()));
            response.headers_mut().insert(
                "content-type",
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            response
        }
    }
}

/// Runs the checks after routing, in Apple's order: authentication first.
/// `body` is `None` when it exceeded [`BODY_READ_LIMIT`].
fn accept(
    state: &ApnsState,
    device_token: &str,
    headers: &HeaderMap,
    body: Option<&[u8]>,
    received_at_ms: u64,
) -> Result<ApnsPush, Refusal> {
    let bearer = ProviderTokenVerifier::bearer(headers);
    if let Some(token) = &bearer {
        lock(&state.provider_tokens).insert(token.clone());
    }
    let token = state.verifier.check(bearer.as_deref())?;
    apns_checks::check_duplicates(headers)?;
    let apns_id = apns_checks::check_apns_id(headers)?.unwrap_or_else(random_uuid);
    apns_checks::check_device_token(device_token)?;
    let delivery = apns_checks::check_delivery_headers(headers, &state.bundle_id)?;
    let payload = match body {
        Some(body) => apns_checks::check_payload(body, &delivery.push_type)?,
        None => return Err(refusal(413, "PayloadTooLarge")),
    };
    if let Some(scripted) = lock(&state.script).take(device_token) {
        return Err(scripted);
    }
    Ok(ApnsPush {
        device_token: device_token.to_owned(),
        push_type: delivery.push_type,
        topic: delivery.topic,
        priority: delivery.priority,
        expiration: delivery.expiration,
        collapse_id: delivery.collapse_id,
        apns_id,
        payload,
        jwt_issued_at: token.issued_at,
        received_at_ms,
    })
}

fn respond(status: StatusCode, apns_id: &str, body: Body) -> Response {
    let mut response = (status, body).into_response();
    if let Ok(value) = HeaderValue::from_str(apns_id) {
        response.headers_mut().insert("apns-id", value);
    }
    response
}
