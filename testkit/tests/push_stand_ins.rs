//! Proves the APNs and FCM stand-ins check what the real services check and
//! answer their documented errors, driven by a plain HTTP client that signs
//! its own JWTs.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{json, Value};
use utd_testkit::push::{ApnsKey, ApnsStandIn, FcmStandIn};

const BUNDLE: &str = "com.example.utd";
const WAIT: Duration = Duration::from_secs(10);

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn device_token(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

/// HTTP/2 with prior knowledge, as a provider talks to APNs (without TLS
/// here: the stand-in is cleartext on loopback).
fn h2_client() -> reqwest::Client {
    reqwest::Client::builder()
        .http2_prior_knowledge()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

// ---------------------------------------------------------------- APNs --

/// A provider token as Apple specifies it: ES256, `kid`, claims iss + iat.
fn provider_token(key: &ApnsKey, kid: &str, iss: &str, iat: u64) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    let signing = EncodingKey::from_ec_pem(key.p8_pem.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &json!({ "iss": iss, "iat": iat }), &signing).unwrap()
}

fn good_token(key: &ApnsKey) -> String {
    provider_token(key, &key.key_id, &key.team_id, now())
}

struct ApnsCall<'a> {
    token: String,
    jwt: Option<String>,
    headers: Vec<(&'a str, String)>,
    body: String,
}

impl<'a> ApnsCall<'a> {
    /// A correct VoIP push to device token `n`.
    fn voip(key: &ApnsKey, n: u8) -> Self {
        ApnsCall {
            token: device_token(n),
            jwt: Some(good_token(key)),
            headers: vec![
                ("apns-push-type", "voip".into()),
                ("apns-topic", format!("{BUNDLE}.voip")),
                ("apns-priority", "10".into()),
            ],
            body: json!({ "call_id": "c1", "caller": "Ada" }).to_string(),
        }
    }

    fn set(mut self, name: &'a str, value: impl Into<String>) -> Self {
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value.into()));
        self
    }

    fn without(mut self, name: &str) -> Self {
        self.headers.retain(|(n, _)| *n != name);
        self
    }

    fn jwt(mut self, jwt: Option<String>) -> Self {
        self.jwt = jwt;
        self
    }

    fn body(mut self, body: impl Into<String>) -> Self {
        self.body = body.into();
        self
    }

    /// Sends it; returns the status, the apns-id header and the reason.
    async fn send(
        self,
        client: &reqwest::Client,
        apns: &ApnsStandIn,
    ) -> (StatusCode, Option<String>, Option<String>, Value) {
        let mut request = client
            .post(format!("{}/3/device/{}", apns.url(), self.token))
            .body(self.body);
        if let Some(jwt) = self.jwt {
            request = request.header("authorization", format!("bearer {jwt}"));
        }
        for (name, value) in self.headers {
            request = request.header(name, value);
        }
        let response = request.send().await.expect("the stand-in answers");
        assert_eq!(response.version(), reqwest::Version::HTTP_2);
        let status = response.status();
        let apns_id = response
            .headers()
            .get("apns-id")
            .map(|v| v.to_str().unwrap().to_owned());
        let text = response.text().await.unwrap();
        let body: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        let reason = body
            .get("reason")
            .and_then(Value::as_str)
            .map(str::to_owned);
        (status, apns_id, reason, body)
    }
}

async fn expect_refusal(
    call: ApnsCall<'_>,
    client: &reqwest::Client,
    apns: &ApnsStandIn,
    status: u16,
    reason: &str,
) {
    let (got, apns_id, got_reason, _) = call.send(client, apns).await;
    assert_eq!(
        (got.as_u16(), got_reason.as_deref()),
        (status, Some(reason)),
        "expected {status} {reason}"
    );
    assert!(apns_id.is_some(), "errors carry an apns-id too");
}

#[tokio::test]
async fn apns_accepts_and_records_a_correctly_signed_voip_push() {
    let key = ApnsKey::generate();
    assert!(key.p8_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert_eq!((key.key_id.len(), key.team_id.len()), (10, 10));
    let apns = ApnsStandIn::start(&key, BUNDLE).await.unwrap();
    let client = h2_client();
    let jwt = good_token(&key);

    let id = "eabeae54-14a8-11e5-b60b-1697f925ec7b";
    let expiration = now() + 30;
    let (status, apns_id, _, body) = ApnsCall::voip(&key, 1)
        .jwt(Some(jwt.clone()))
        .set("apns-id", id)
        .set("apns-expiration", expiration.to_string())
        .set("apns-collapse-id", "call-c1")
        .send(&client, &apns)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(apns_id.as_deref(), Some(id));
    assert_eq!(body, Value::Null, "success has an empty body");

    // Without apns-id, APNs makes one; the same provider token is reused.
    let (status, apns_id, _, _) = ApnsCall::voip(&key, 2)
        .jwt(Some(jwt))
        .without("apns-priority")
        .send(&client, &apns)
        .await;
    assert_eq!(status, StatusCode::OK);
    let made = apns_id.expect("an apns-id is answered");
    assert_eq!(made.len(), 36);

    let pushes = apns.wait_for_pushes(2, WAIT).await.unwrap();
    assert_eq!(pushes[0].device_token, device_token(1));
    assert_eq!(pushes[0].push_type, "voip");
    assert_eq!(pushes[0].topic, format!("{BUNDLE}.voip"));
    assert_eq!(pushes[0].priority, 10);
    assert_eq!(pushes[0].expiration, expiration);
    assert_eq!(pushes[0].collapse_id.as_deref(), Some("call-c1"));
    assert_eq!(pushes[0].apns_id, id);
    assert_eq!(pushes[0].payload["caller"], "Ada");
    assert!(pushes[0].jwt_issued_at + 5 >= now());
    assert!(pushes[0].received_at_ms > 1_600_000_000_000);
    assert_eq!(pushes[1].apns_id, made);
    assert_eq!(pushes[1].priority, 10, "Apple's default priority");
    assert_eq!(apns.provider_tokens_seen(), 1);
    assert_eq!(apns.requests().len(), 2);
    assert!(apns.requests().iter().all(|r| r.status == 200));

    // Waiting for more than arrived names what did.
    let error = apns
        .wait_for_pushes(3, Duration::from_millis(100))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("2 accepted"), "{error}");
    apns.shutdown().await;
}

#[tokio::test]
async fn apns_refuses_provider_tokens_apple_would_refuse() {
    let key = ApnsKey::generate();
    let other = ApnsKey::generate();
    let apns = ApnsStandIn::start(&key, BUNDLE).await.unwrap();
    let client = h2_client();

    let cases: Vec<(Option<String>, &str)> = vec![
        (None, "MissingProviderToken"),
        // Signed by another key under this key's ID: bad signature.
        (
            Some(provider_token(&other, &key.key_id, &key.team_id, now())),
            "InvalidProviderToken",
        ),
        (
            Some(provider_token(&key, &other.key_id, &key.team_id, now())),
            "InvalidProviderToken",
        ),
        (
            Some(provider_token(&key, &key.key_id, &other.team_id, now())),
            "InvalidProviderToken",
        ),
        (
            Some(provider_token(
                &key,
                &key.key_id,
                &key.team_id,
                now() - 7200,
            )),
            "ExpiredProviderToken",
        ),
        (Some("not.a.jwt".into()), "InvalidProviderToken"),
    ];
    for (jwt, reason) in cases {
        expect_refusal(
            ApnsCall::voip(&key, 1).jwt(jwt),
            &client,
            &apns,
            403,
            reason,
        )
        .await;
    }
    // HS256 with the key's ID is not ES256.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(key.key_id.clone());
    let hs = jsonwebtoken::encode(
        &header,
        &json!({ "iss": key.team_id, "iat": now() }),
        &EncodingKey::from_secret(b"secret"),
    )
    .unwrap();
    expect_refusal(
        ApnsCall::voip(&key, 1).jwt(Some(hs)),
        &client,
        &apns,
        403,
        "InvalidProviderToken",
    )
    .await;
    // Authentication comes first: a bad token with a bad topic is a 403.
    expect_refusal(
        ApnsCall::voip(&key, 1).jwt(None).without("apns-topic"),
        &client,
        &apns,
        403,
        "MissingProviderToken",
    )
    .await;

    assert!(apns.pushes().is_empty());
    assert_eq!(apns.requests().len(), 8);
    apns.shutdown().await;
}

#[tokio::test]
async fn apns_refuses_headers_and_payloads_apple_would_refuse() {
    let key = ApnsKey::generate();
    let apns = ApnsStandIn::start(&key, BUNDLE).await.unwrap();
    let client = h2_client();
    let voip = || ApnsCall::voip(&key, 1);

    let cases: Vec<(ApnsCall, u16, &str)> = vec![
        (voip().without("apns-topic"), 400, "MissingTopic"),
        (
            voip().set("apns-topic", BUNDLE),
            400,
            "DeviceTokenNotForTopic",
        ),
        (
            voip().set("apns-topic", "com.other.app.voip"),
            400,
            "TopicDisallowed",
        ),
        (voip().set("apns-push-type", "fax"), 400, "InvalidPushType"),
        (voip().set("apns-priority", "7"), 400, "BadPriority"),
        (
            voip()
                .set("apns-push-type", "background")
                .set("apns-topic", BUNDLE),
            400,
            "BadPriority",
        ),
        (
            voip().set("apns-expiration", "soon"),
            400,
            "BadExpirationDate",
        ),
        (
            voip().set("apns-collapse-id", "x".repeat(65)),
            400,
            "BadCollapseId",
        ),
        (voip().set("apns-id", "not-a-uuid"), 400, "BadMessageId"),
        (voip().body(""), 400, "PayloadEmpty"),
        (voip().body("[1, 2]"), 400, "BadPayload"),
        (voip().body("{\"aps\":"), 400, "BadPayload"),
        (
            voip().body(json!({ "pad": "x".repeat(5120) }).to_string()),
            413,
            "PayloadTooLarge",
        ),
        (
            voip()
                .set("apns-push-type", "alert")
                .set("apns-topic", BUNDLE)
                .body(json!({ "aps": { "alert": "x".repeat(4100) } }).to_string()),
            413,
            "PayloadTooLarge",
        ),
    ];
    for (call, status, reason) in cases {
        expect_refusal(call, &client, &apns, status, reason).await;
    }
    let mut bad_token = voip();
    bad_token.token = "zz-not-hex".into();
    expect_refusal(bad_token, &client, &apns, 400, "BadDeviceToken").await;

    // A VoIP payload may be 5120 bytes, more than the 4096 of other types.
    let body = json!({ "pad": "x".repeat(4900) }).to_string();
    assert!(body.len() > 4096 && body.len() <= 5120);
    let (status, _, _, _) = voip().body(body).send(&client, &apns).await;
    assert_eq!(status, StatusCode::OK);

    // Paths and methods.
    let jwt = format!("bearer {}", good_token(&key));
    let get = client
        .get(format!("{}/3/device/{}", apns.url(), device_token(1)))
        .header("authorization", &jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status().as_u16(), 405);
    assert_eq!(
        get.json::<Value>().await.unwrap()["reason"],
        "MethodNotAllowed"
    );
    let wrong = client
        .post(format!("{}/4/device/{}", apns.url(), device_token(1)))
        .header("authorization", &jwt)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 404);
    assert_eq!(wrong.json::<Value>().await.unwrap()["reason"], "BadPath");

    assert_eq!(apns.pushes().len(), 1);
    let refused: Vec<_> = apns
        .requests()
        .into_iter()
        .filter(|r| r.status != 200)
        .collect();
    assert_eq!(refused.len(), 17);
    apns.shutdown().await;
}

#[tokio::test]
async fn apns_refuses_http1() {
    let key = ApnsKey::generate();
    let apns = ApnsStandIn::start(&key, BUNDLE).await.unwrap();
    let http1 = reqwest::Client::builder()
        .http1_only()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let answer = http1
        .post(format!("{}/3/device/{}", apns.url(), device_token(1)))
        .header("authorization", format!("bearer {}", good_token(&key)))
        .header("apns-topic", format!("{BUNDLE}.voip"))
        .header("apns-push-type", "voip")
        .body("{}")
        .send()
        .await;
    assert!(answer.is_err(), "HTTP/1.1 must be refused: {answer:?}");
    assert!(apns.requests().is_empty());
    apns.shutdown().await;
}

#[tokio::test]
async fn apns_answers_scripted_failures() {
    let key = ApnsKey::generate();
    let apns = ApnsStandIn::start(&key, BUNDLE).await.unwrap();
    let client = h2_client();

    apns.fail_token(&device_token(9), 410, "Unregistered");
    let (status, _, reason, body) = ApnsCall::voip(&key, 9).send(&client, &apns).await;
    assert_eq!(
        (status.as_u16(), reason.as_deref()),
        (410, Some("Unregistered"))
    );
    let stamp = body["timestamp"]
        .as_u64()
        .expect("410 carries a timestamp in ms");
    assert!(stamp > 1_600_000_000_000);
    // Still unregistered; other tokens are fine.
    let (status, _, _, _) = ApnsCall::voip(&key, 9).send(&client, &apns).await;
    assert_eq!(status.as_u16(), 410);
    let (status, _, _, _) = ApnsCall::voip(&key, 1).send(&client, &apns).await;
    assert_eq!(status, StatusCode::OK);

    apns.fail_next(2, 503, "ServiceUnavailable");
    for _ in 0..2 {
        let (status, _, reason, _) = ApnsCall::voip(&key, 1).send(&client, &apns).await;
        assert_eq!(
            (status.as_u16(), reason.as_deref()),
            (503, Some("ServiceUnavailable"))
        );
    }
    let (status, _, _, _) = ApnsCall::voip(&key, 1).send(&client, &apns).await;
    assert_eq!(status, StatusCode::OK);
    apns.fail_next(1, 429, "TooManyRequests");
    let (status, _, reason, _) = ApnsCall::voip(&key, 2).send(&client, &apns).await;
    assert_eq!(
        (status.as_u16(), reason.as_deref()),
        (429, Some("TooManyRequests"))
    );

    assert_eq!(apns.pushes().len(), 2);
    let statuses: Vec<u16> = apns.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![410, 410, 200, 503, 503, 200, 429]);
    apns.shutdown().await;
}

#[tokio::test]
async fn apns_shutdown_frees_the_port_for_a_restart() {
    let key = ApnsKey::generate();
    let apns = ApnsStandIn::start(&key, BUNDLE).await.unwrap();
    let port = apns.port();
    let url = apns.url();
    let client = h2_client();
    let (status, _, _, _) = ApnsCall::voip(&key, 1).send(&client, &apns).await;
    assert_eq!(status, StatusCode::OK);
    apns.shutdown().await;

    // Down: the kept-alive connection is closed and nothing listens.
    let down = client
        .post(format!("{url}/3/device/{}", device_token(1)))
        .body("{}")
        .send()
        .await;
    assert!(down.is_err(), "the stand-in is down: {down:?}");

    let again = ApnsStandIn::start_on(port, &key, BUNDLE).await.unwrap();
    assert_eq!(again.port(), port);
    let (status, _, _, _) = ApnsCall::voip(&key, 1).send(&client, &again).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again.pushes().len(), 1, "a restarted stand-in starts empty");
    again.shutdown().await;
}

// ----------------------------------------------------------------- FCM --

struct ServiceAccount {
    file: Value,
}

impl ServiceAccount {
    fn of(fcm: &FcmStandIn) -> Self {
        let file: Value = serde_json::from_str(&fcm.service_account_json()).unwrap();
        ServiceAccount { file }
    }

    fn field(&self, name: &str) -> &str {
        self.file[name].as_str().unwrap()
    }

    /// An assertion as Google's client libraries make it.
    fn assertion(&self, claims: Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.field("private_key_id").to_owned());
        let key = EncodingKey::from_rsa_pem(self.field("private_key").as_bytes()).unwrap();
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    }

    fn claims(&self) -> Value {
        let iat = now();
        json!({
            "iss": self.field("client_email"),
            "scope": "https://www.googleapis.com/auth/firebase.messaging",
            "aud": self.field("token_uri"),
            "iat": iat,
            "exp": iat + 3600,
        })
    }
}

async fn token_request(
    client: &reqwest::Client,
    fcm: &FcmStandIn,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let response = client
        .post(fcm.token_uri())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

async fn access_token(client: &reqwest::Client, fcm: &FcmStandIn) -> String {
    let account = ServiceAccount::of(fcm);
    let assertion = account.assertion(account.claims());
    let (status, body) = token_request(
        client,
        fcm,
        &[("grant_type", JWT_BEARER), ("assertion", &assertion)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

async fn send(
    client: &reqwest::Client,
    fcm: &FcmStandIn,
    project: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut request = client
        .post(format!("{}/v1/projects/{project}/messages:send", fcm.url()))
        .json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

fn data_message(token: &str) -> Value {
    json!({ "message": {
        "token": token,
        "data": { "type": "call", "call_id": "c1" },
        "android": { "priority": "high", "ttl": "30s", "collapse_key": "call-c1" },
    }})
}

#[tokio::test]
async fn fcm_grants_a_token_for_a_correct_assertion_and_records_the_send() {
    let started = Instant::now();
    let fcm = FcmStandIn::start("utd-test").await.unwrap();
    eprintln!(
        "FCM stand-in (with RSA key) started in {:?}",
        started.elapsed()
    );
    let client = reqwest::Client::new();

    let account = ServiceAccount::of(&fcm);
    assert_eq!(account.field("type"), "service_account");
    assert_eq!(account.field("project_id"), "utd-test");
    assert_eq!(account.field("token_uri"), fcm.token_uri());
    assert!(account
        .field("client_email")
        .ends_with("@utd-test.iam.gserviceaccount.com"));
    assert!(account
        .field("private_key")
        .starts_with("-----BEGIN PRIVATE KEY-----"));

    let assertion = account.assertion(account.claims());
    let (status, grant) = token_request(
        &client,
        &fcm,
        &[("grant_type", JWT_BEARER), ("assertion", &assertion)],
    )
    .await;
    assert_eq!(status, 200, "{grant}");
    assert_eq!(grant["token_type"], "Bearer");
    assert_eq!(grant["expires_in"], 3599);
    let token = grant["access_token"].as_str().unwrap();

    let (status, answer) = send(
        &client,
        &fcm,
        "utd-test",
        Some(token),
        data_message("fcm-token:A1"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let name = answer["name"].as_str().unwrap();
    assert!(name.starts_with("projects/utd-test/messages/"), "{name}");

    let messages = fcm.wait_for_messages(1, WAIT).await.unwrap();
    let m = &messages[0];
    assert_eq!(m.device_token, "fcm-token:A1");
    assert_eq!(m.data.get("type").map(String::as_str), Some("call"));
    assert_eq!(m.data.get("call_id").map(String::as_str), Some("c1"));
    assert_eq!(m.android_priority.as_deref(), Some("HIGH"));
    assert_eq!(m.ttl.as_deref(), Some("30s"));
    assert_eq!(m.collapse_key.as_deref(), Some("call-c1"));
    assert!(!m.has_notification);
    assert_eq!(name, format!("projects/utd-test/messages/{}", m.message_id));
    assert_eq!(fcm.token_grants(), 1);

    // HTTP/2 with prior knowledge is served too.
    let (status, _) = send(
        &h2_client(),
        &fcm,
        "utd-test",
        Some(token),
        data_message("fcm-token:B2"),
    )
    .await;
    assert_eq!(status, 200);
    // validate_only checks without sending.
    let mut dry = data_message("fcm-token:C3");
    dry["validate_only"] = json!(true);
    let (status, answer) = send(&client, &fcm, "utd-test", Some(token), dry).await;
    assert_eq!(status, 200);
    assert_eq!(answer["name"], "projects/utd-test/messages/fake_message_id");
    assert_eq!(fcm.messages().len(), 2);
    fcm.shutdown().await;
}

#[tokio::test]
async fn fcm_token_endpoint_refuses_bad_assertions() {
    let fcm = FcmStandIn::start("utd-test").await.unwrap();
    let client = reqwest::Client::new();
    let account = ServiceAccount::of(&fcm);

    // Tampered: another payload under the original signature.
    let good = account.assertion(account.claims());
    let parts: Vec<&str> = good.split('.').collect();
    let mut claims = account.claims();
    claims["scope"] = json!("https://www.googleapis.com/auth/cloud-platform");
    let forged_payload =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);

    let expired = {
        let mut c = account.claims();
        c["iat"] = json!(now() - 7200);
        c["exp"] = json!(now() - 3600);
        account.assertion(c)
    };
    let too_long = {
        let mut c = account.claims();
        c["exp"] = json!(now() + 7200);
        account.assertion(c)
    };
    let wrong_aud = {
        let mut c = account.claims();
        c["aud"] = json!("https://oauth2.googleapis.com/token");
        account.assertion(c)
    };
    let stranger = {
        let mut c = account.claims();
        c["iss"] = json!("someone@else.iam.gserviceaccount.com");
        account.assertion(c)
    };
    let wrong_kid = {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("0".repeat(40));
        let key = EncodingKey::from_rsa_pem(account.field("private_key").as_bytes()).unwrap();
        jsonwebtoken::encode(&header, &account.claims(), &key).unwrap()
    };
    let no_scope = {
        let mut c = account.claims();
        c.as_object_mut().unwrap().remove("scope");
        account.assertion(c)
    };

    for (assertion, error) in [
        (&tampered, "invalid_grant"),
        (&expired, "invalid_grant"),
        (&too_long, "invalid_grant"),
        (&wrong_aud, "invalid_grant"),
        (&stranger, "invalid_grant"),
        (&wrong_kid, "invalid_grant"),
        (&no_scope, "invalid_scope"),
    ] {
        let (status, body) = token_request(
            &client,
            &fcm,
            &[("grant_type", JWT_BEARER), ("assertion", assertion)],
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some(error)),
            "{body}"
        );
        assert!(body["error_description"].is_string());
    }
    let (status, body) = token_request(
        &client,
        &fcm,
        &[("grant_type", "client_credentials"), ("assertion", &good)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    assert_eq!(fcm.token_grants(), 0);

    // The untampered one still works.
    let (status, _) = token_request(
        &client,
        &fcm,
        &[("grant_type", JWT_BEARER), ("assertion", &good)],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(fcm.token_grants(), 1);
    fcm.shutdown().await;
}

#[tokio::test]
async fn fcm_send_refuses_bad_credentials_and_bad_messages() {
    let fcm = FcmStandIn::start("utd-test").await.unwrap();
    let client = reqwest::Client::new();
    let token = access_token(&client, &fcm).await;

    let (status, body) = send(&client, &fcm, "utd-test", None, data_message("t1")).await;
    assert_eq!(
        (status, body["error"]["status"].as_str()),
        (401, Some("UNAUTHENTICATED"))
    );
    let (status, body) = send(
        &client,
        &fcm,
        "utd-test",
        Some("ya29.made-up"),
        data_message("t1"),
    )
    .await;
    assert_eq!((status, body["error"]["code"].as_u64()), (401, Some(401)));
    assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
    let (status, body) = send(
        &client,
        &fcm,
        "other-project",
        Some(&token),
        data_message("t1"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["status"].as_str()),
        (403, Some("PERMISSION_DENIED"))
    );

    // A number where the data map takes strings: Google's documented answer.
    let (status, body) = send(
        &client,
        &fcm,
        "utd-test",
        Some(&token),
        json!({ "message": { "token": "t1", "data": { "n": 12 } } }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(
        body["error"]["message"],
        "Invalid value at 'message.data[0].value' (TYPE_STRING), 12"
    );
    assert_eq!(
        body["error"]["details"][0]["@type"],
        "type.googleapis.com/google.rpc.BadRequest"
    );

    let big = "x".repeat(4100);
    for bad in [
        json!({ "message": { "token": "t1", "topic": "news" } }),
        json!({ "message": { "data": { "a": "b" } } }),
        json!({ "message": { "token": "t1", "data": { "from": "me" } } }),
        json!({ "message": { "token": "t1", "data": { "google.x": "y" } } }),
        json!({ "message": { "token": "t1", "android": { "priority": "URGENT" } } }),
        json!({ "message": { "token": "t1", "android": { "ttl": "12" } } }),
        json!({ "message": { "token": "t1", "android": { "ttl": "-1s" } } }),
        json!({ "message": { "token": "t1", "android": { "ttl": "2419201s" } } }),
        json!({ "message": { "token": "t1", "data": { "pad": big } } }),
        json!({ "message": { "token": "t1", "colour": "red" } }),
        json!({ "message": { "token": "not a token!" } }),
        json!({ "msg": {} }),
    ] {
        let (status, body) = send(&client, &fcm, "utd-test", Some(&token), bad.clone()).await;
        assert_eq!(
            (status, body["error"]["status"].as_str()),
            (400, Some("INVALID_ARGUMENT")),
            "{bad} -> {body}"
        );
    }
    // Lowercase priority names are Google's too.
    let (status, _) = send(
        &client,
        &fcm,
        "utd-test",
        Some(&token),
        json!({ "message": { "token": "t1", "android": { "priority": "normal", "ttl": "12.5s" } } }),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        fcm.messages()[0].android_priority.as_deref(),
        Some("NORMAL")
    );

    // An expired access token is refused until a new one is fetched.
    fcm.expire_access_tokens();
    let (status, _) = send(&client, &fcm, "utd-test", Some(&token), data_message("t1")).await;
    assert_eq!(status, 401);
    let fresh = access_token(&client, &fcm).await;
    let (status, _) = send(&client, &fcm, "utd-test", Some(&fresh), data_message("t1")).await;
    assert_eq!(status, 200);
    assert_eq!(fcm.messages().len(), 2);
    assert_eq!(fcm.token_grants(), 2);
    fcm.shutdown().await;
}

#[tokio::test]
async fn fcm_answers_scripted_failures_in_googles_shape() {
    let fcm = FcmStandIn::start("utd-test").await.unwrap();
    let client = reqwest::Client::new();
    let token = access_token(&client, &fcm).await;

    fcm.fail_token("gone-token", 404, "UNREGISTERED");
    let (status, body) = send(
        &client,
        &fcm,
        "utd-test",
        Some(&token),
        data_message("gone-token"),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({ "error": {
            "code": 404,
            "message": "Requested entity was not found.",
            "status": "NOT_FOUND",
            "details": [{
                "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                "errorCode": "UNREGISTERED",
            }],
        }})
    );

    fcm.fail_next(1, 503, "UNAVAILABLE");
    let (status, body) = send(&client, &fcm, "utd-test", Some(&token), data_message("t1")).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["status"], "UNAVAILABLE");
    assert_eq!(body["error"]["details"][0]["errorCode"], "UNAVAILABLE");
    fcm.fail_next(1, 429, "QUOTA_EXCEEDED");
    let (status, body) = send(&client, &fcm, "utd-test", Some(&token), data_message("t1")).await;
    assert_eq!(status, 429);
    assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED");
    let (status, _) = send(&client, &fcm, "utd-test", Some(&token), data_message("t1")).await;
    assert_eq!(status, 200);
    assert_eq!(fcm.messages().len(), 1);
    fcm.shutdown().await;
}
