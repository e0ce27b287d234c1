//! Proves the APNs stand-in checks what Apple checks and answers Apple's
//! documented errors, driven by a plain HTTP/2 client that signs its own
//! provider tokens.

mod push_common;

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use push_common::{device_token, h2_client, now, BUNDLE, WAIT};
use reqwest::StatusCode;
use serde_json::{json, Value};
use utd_testkit::push::{ApnsKey, ApnsStandIn};

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
