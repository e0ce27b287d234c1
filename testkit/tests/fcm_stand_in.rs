//! Proves the FCM stand-in checks what Google checks (the OAuth assertion,
//! the access token, the message shape) and answers Google's documented
//! errors, driven by a plain HTTP client that signs its own assertions.

mod push_common;

use std::time::Instant;

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use push_common::{h2_client, now, WAIT};
use serde_json::{json, Value};
use utd_testkit::push::FcmStandIn;

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
