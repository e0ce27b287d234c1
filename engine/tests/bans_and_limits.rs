//! Bans are enforced on REST and on the signal socket; rate limits return
//! 429 with Retry-After.

mod common;

use common::{connected, error_code, expect_close, status_json, Harness};
use serde_json::json;
use utd_engine::Plan;

#[tokio::test]
async fn banned_user_is_blocked_on_rest_and_ws() {
    let h = Harness::start().await;
    let app = h.app(Plan::Signaling).await;
    let bearer = h.token_for(&app, "mallory").await;
    let (mut ws, _) = connected(&h, &bearer).await;

    h.admin.ban(&app.app_id, "mallory").await.unwrap();
    // The open socket is closed with 4403 banned.
    assert_eq!(expect_close(&mut ws).await, (4403, "banned".to_owned()));

    let before = h.counts().await;
    // The old bearer says why.
    let (status, e) = h.get("/api/v1/me", &bearer).await;
    assert_eq!((status, error_code(&e).as_str()), (403, "banned"));
    // A fresh mint is refused.
    let (status, e) = h.mint(&app, "mallory").await;
    assert_eq!((status, error_code(&e).as_str()), (403, "banned"));
    // So is a room token through app headers.
    let resp = h
        .http
        .post(h.url("/api/v1/token"))
        .header("X-UTD-App-Id", &app.app_id)
        .header("X-UTD-App-Key", &app.app_key)
        .json(&json!({"identity": "mallory", "room_name": "r", "stream_type": "live_stream"}))
        .send()
        .await
        .unwrap();
    let (status, e) = status_json(resp).await;
    assert_eq!((status, error_code(&e).as_str()), (403, "banned"));
    // And a new socket.
    let mut ws = h.ws(Some(&bearer)).await;
    assert_eq!(expect_close(&mut ws).await, (4403, "banned".to_owned()));
    assert_eq!(h.counts().await, before);

    // Other users are unaffected; unbanning allows a new session.
    assert_eq!(h.mint(&app, "alice").await.0, 200);
    h.admin.unban(&app.app_id, "mallory").await.unwrap();
    assert_eq!(h.mint(&app, "mallory").await.0, 200);
    // The sessions revoked by the ban stay revoked.
    let (status, e) = h.get("/api/v1/me", &bearer).await;
    assert_eq!((status, error_code(&e).as_str()), (401, "unauthenticated"));
    h.engine.shutdown().await;
}

#[tokio::test]
async fn rate_limit_returns_429_with_retry_after() {
    let h = Harness::start().await;
    let app = h.app(Plan::Signaling).await;
    let bearer = h.token_for(&app, "alice").await;
    h.admin.set_rate_limits(&app.app_id, 3, 1000).await.unwrap();
    let mut statuses = vec![];
    let mut limited = None;
    for _ in 0..6 {
        let resp = h
            .http
            .get(h.url("/api/v1/me"))
            .bearer_auth(&bearer)
            .send()
            .await
            .unwrap();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let (status, body) = status_json(resp).await;
        statuses.push(status);
        if status == 429 {
            limited = Some((retry_after, body));
        }
    }
    // The bucket (3/min, refilled after the mint above used one) admits a
    // burst, then refuses.
    assert!(statuses.contains(&200), "{statuses:?}");
    assert_eq!(*statuses.last().unwrap(), 429, "{statuses:?}");
    let (retry_after, body) = limited.unwrap();
    assert_eq!(error_code(&body), "rate_limited");
    let ms = body["error"]["retry_after_ms"]
        .as_u64()
        .expect("retry_after_ms");
    assert!(ms > 0 && ms <= 20_000, "{ms}");
    let secs: u64 = retry_after.expect("Retry-After header").parse().unwrap();
    assert_eq!(secs, ms.div_ceil(1000).max(1));

    // The signal socket is refused the same way, with the delay in the reason.
    let mut ws = h.ws(Some(&bearer)).await;
    let (code, reason) = expect_close(&mut ws).await;
    assert_eq!(code, 4429);
    let delay: u64 = reason
        .strip_prefix("rate_limited:")
        .unwrap()
        .parse()
        .unwrap();
    assert!(delay > 0);

    // Another user of the app still gets through (per-user bucket).
    assert_eq!(h.mint(&app, "bob").await.0, 200);

    // The per-app bucket limits everyone.
    h.admin.set_rate_limits(&app.app_id, 1000, 2).await.unwrap();
    let mut last = 0;
    for i in 0..5 {
        last = h.mint(&app, &format!("user{i}")).await.0;
    }
    assert_eq!(last, 429);
    h.engine.shutdown().await;
}
