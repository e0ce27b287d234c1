//! Every refused request gets its documented error code and writes nothing.

mod common;

use std::time::Duration;

use common::{error_code, status_json, Harness};
use serde_json::json;
use utd_engine::{EngineConfig, Plan};

#[tokio::test]
async fn malformed_bodies_are_invalid_argument_and_write_nothing() {
    let h = Harness::start().await;
    let app = h.app(Plan::Pro).await;
    let before = h.counts().await;
    let cases: Vec<(&str, &str)> = vec![
        ("application/json", "{\"identity\": "),
        ("application/json", "[1,2]"),
        ("application/json", "{\"identity\":\"a\",\"admin\":true}"),
        ("application/json", "{\"identity\":\"has space\"}"),
        ("application/json", "{\"identity\":\"\"}"),
        ("text/plain", "{\"identity\":\"alice\"}"),
    ];
    for (content_type, body) in cases {
        let resp = h
            .http
            .post(h.url("/api/v1/auth/session"))
            .header("X-UTD-App-Id", &app.app_id)
            .header("X-UTD-App-Key", &app.app_key)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, v) = status_json(resp).await;
        assert_eq!(status, 400, "{content_type} {body}: {v}");
        assert_eq!(error_code(&v), "invalid_argument");
    }
    // An oversized body is refused the same way.
    let big = json!({ "identity": "a", "name": "x".repeat(70_000) });
    let resp = h
        .http
        .post(h.url("/api/v1/auth/session"))
        .header("X-UTD-App-Id", &app.app_id)
        .header("X-UTD-App-Key", &app.app_key)
        .json(&big)
        .send()
        .await
        .unwrap();
    let (status, v) = status_json(resp).await;
    assert_eq!((status, error_code(&v).as_str()), (400, "invalid_argument"));
    assert_eq!(h.counts().await, before);
    h.engine.shutdown().await;
}

#[tokio::test]
async fn wrong_or_missing_app_key_is_unauthenticated() {
    let h = Harness::start().await;
    let app = h.app(Plan::Pro).await;
    let other = h.app(Plan::Pro).await;
    let before = h.counts().await;
    for (id, key) in [
        (app.app_id.as_str(), "pk_wrong"),
        (app.app_id.as_str(), other.app_key.as_str()),
        ("0000000000", app.app_key.as_str()),
    ] {
        let resp = h
            .http
            .post(h.url("/api/v1/auth/session"))
            .header("X-UTD-App-Id", id)
            .header("X-UTD-App-Key", key)
            .json(&json!({ "identity": "alice" }))
            .send()
            .await
            .unwrap();
        let (status, v) = status_json(resp).await;
        assert_eq!((status, error_code(&v).as_str()), (401, "unauthenticated"));
    }
    let resp = h
        .http
        .post(h.url("/api/v1/auth/session"))
        .json(&json!({ "identity": "alice" }))
        .send()
        .await
        .unwrap();
    let (status, v) = status_json(resp).await;
    assert_eq!((status, error_code(&v).as_str()), (401, "unauthenticated"));
    assert_eq!(h.counts().await, before);
    h.engine.shutdown().await;
}

#[tokio::test]
async fn forged_and_revoked_bearers_are_unauthenticated() {
    let h = Harness::start().await;
    let app = h.app(Plan::Pro).await;
    let real = h.token_for(&app, "alice").await;
    let before = h.counts().await;
    // Same shape as a real token but never issued; a tampered real one; junk.
    let mut tampered = real.clone();
    tampered.pop();
    tampered.push(if real.ends_with('A') { 'B' } else { 'A' });
    for forged in [
        "utdst_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned(),
        tampered,
        "not-a-token".to_owned(),
    ] {
        let (status, v) = h.get("/api/v1/me", &forged).await;
        assert_eq!((status, error_code(&v).as_str()), (401, "unauthenticated"));
        let body = json!({"room_name": "r", "stream_type": "live_stream", "as_host": true});
        let (status, v) = h.post("/api/v1/token", &forged, body).await;
        assert_eq!((status, error_code(&v).as_str()), (401, "unauthenticated"));
        let body = json!({"platform": "fcm", "token": "t"});
        let (status, v) = h.post("/api/v1/devices/push-token", &forged, body).await;
        assert_eq!((status, error_code(&v).as_str()), (401, "unauthenticated"));
    }
    assert_eq!(h.counts().await, before);

    // Logout revokes exactly that bearer.
    let resp = h
        .http
        .delete(h.url("/api/v1/auth/session"))
        .bearer_auth(&real)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    let (status, v) = h.get("/api/v1/me", &real).await;
    assert_eq!((status, error_code(&v).as_str()), (401, "unauthenticated"));
    h.engine.shutdown().await;
}

#[tokio::test]
async fn expired_bearer_is_unauthenticated() {
    let mut config = EngineConfig::for_tests();
    config.session_ttl = Duration::from_millis(400);
    let h = Harness::with_config(config).await;
    let app = h.app(Plan::Pro).await;
    let token = h.token_for(&app, "alice").await;
    let (status, _) = h.get("/api/v1/me", &token).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let before = h.counts().await;
    let (status, v) = h.get("/api/v1/me", &token).await;
    assert_eq!((status, error_code(&v).as_str()), (401, "unauthenticated"));
    let body = json!({"room_name": "r", "stream_type": "audio_room"});
    let (status, v) = h.post("/api/v1/token", &token, body).await;
    assert_eq!((status, error_code(&v).as_str()), (401, "unauthenticated"));
    assert_eq!(h.counts().await, before);
    h.engine.shutdown().await;
}

#[tokio::test]
async fn another_apps_bearer_is_unauthenticated() {
    let h = Harness::start().await;
    let app_a = h.app(Plan::Pro).await;
    let app_b = h.app(Plan::Pro).await;
    let bearer_b = h.token_for(&app_b, "bob").await;
    let before = h.counts().await;
    for path in ["/api/v1/me"] {
        let resp = h
            .http
            .get(h.url(path))
            .header("X-UTD-App-Id", &app_a.app_id)
            .header("X-UTD-App-Key", &app_a.app_key)
            .bearer_auth(&bearer_b)
            .send()
            .await
            .unwrap();
        let (status, v) = status_json(resp).await;
        assert_eq!((status, error_code(&v).as_str()), (401, "unauthenticated"));
    }
    let resp = h
        .http
        .post(h.url("/api/v1/token"))
        .header("X-UTD-App-Id", &app_a.app_id)
        .header("X-UTD-App-Key", &app_a.app_key)
        .bearer_auth(&bearer_b)
        .json(&json!({"room_name": "r", "stream_type": "live_stream", "as_host": true}))
        .send()
        .await
        .unwrap();
    let (status, v) = status_json(resp).await;
    assert_eq!((status, error_code(&v).as_str()), (401, "unauthenticated"));
    assert_eq!(h.counts().await, before);
    h.engine.shutdown().await;
}

#[tokio::test]
async fn routing_misses_and_admin_auth_use_the_error_shape() {
    let h = Harness::start().await;
    let resp = h.http.get(h.url("/api/v1/nope")).send().await.unwrap();
    let (status, v) = status_json(resp).await;
    assert_eq!((status, error_code(&v).as_str()), (404, "not_found"));
    // A route that exists, without a bearer.
    let resp = h
        .http
        .get(h.url("/api/v1/chat/conversations"))
        .send()
        .await
        .unwrap();
    let (status, v) = status_json(resp).await;
    assert_eq!((status, error_code(&v).as_str()), (401, "unauthenticated"));
    let resp = h.http.delete(h.url("/api/v1/health")).send().await.unwrap();
    let (status, v) = status_json(resp).await;
    assert_eq!((status, error_code(&v).as_str()), (405, "invalid_argument"));
    let resp = h.http.get(h.url("/api/v1/signal")).send().await.unwrap();
    let (status, v) = status_json(resp).await;
    assert_eq!((status, error_code(&v).as_str()), (400, "invalid_argument"));
    let resp = h
        .http
        .post(h.url("/admin/v1/apps"))
        .bearer_auth("wrong")
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    let (status, v) = status_json(resp).await;
    assert_eq!((status, error_code(&v).as_str()), (401, "unauthenticated"));
    assert_eq!(h.counts().await["apps"], 0);
    h.engine.shutdown().await;
}
