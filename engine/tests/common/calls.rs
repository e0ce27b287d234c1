//! Helpers of the call tests: sessions with device ids, creating and acting
//! on calls, reading call pushes, LiveKit token claims.

use std::time::Duration;

use livekit_api::access_token::TokenVerifier;
use serde_json::{json, Value};

use utd_engine::admin_client::AppCredentials;

use super::{next_msg, status_json, Harness, Ws};

/// A session with an optional device id and display name.
pub async fn session(
    h: &Harness,
    app: &AppCredentials,
    identity: &str,
    device: Option<&str>,
    name: Option<&str>,
) -> String {
    let resp = h
        .http
        .post(h.url("/api/v1/auth/session"))
        .header("X-UTD-App-Id", &app.app_id)
        .header("X-UTD-App-Key", &app.app_key)
        .json(&json!({ "identity": identity, "device_id": device, "name": name }))
        .send()
        .await
        .expect("request");
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 200, "{body}");
    body["user_token"].as_str().unwrap().to_owned()
}

pub async fn create(h: &Harness, bearer: &str, body: Value) -> (u16, Value) {
    h.post("/api/v1/calls", bearer, body).await
}

/// Creates an audio call to `callee`; returns the reply (201 asserted).
pub async fn call(h: &Harness, bearer: &str, callee: &str) -> Value {
    let (s, b) = create(
        h,
        bearer,
        json!({"callee_identity": callee, "type": "audio_call"}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    b
}

pub async fn act(h: &Harness, bearer: &str, call_id: &str, action: &str) -> (u16, Value) {
    h.post(
        &format!("/api/v1/calls/{call_id}/{action}"),
        bearer,
        json!({}),
    )
    .await
}

pub fn id(call: &Value) -> String {
    call["call_id"].as_str().expect("call_id").to_owned()
}

/// The Call object of a reply (without `join`).
pub fn without_join(reply: &Value) -> Value {
    let mut v = reply.clone();
    v.as_object_mut().unwrap().remove("join");
    v
}

/// The next message, which must be `kind`; returns its `call`.
pub async fn next_call(ws: &mut Ws, kind: &str) -> Value {
    let m = next_msg(ws).await.expect("a message");
    assert_eq!(m["type"], kind, "{m}");
    let keys: Vec<&String> = m.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["call", "type"], "{m}");
    m["call"].clone()
}

/// Asserts that nothing but pings arrives for `ms`.
pub async fn quiet(ws: &mut Ws, ms: u64) {
    use futures_util::StreamExt as _;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return,
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t)))) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                assert_eq!(v["type"], "ping", "unexpected message {v}");
            }
            Ok(Some(Ok(_))) => {}
            Ok(other) => panic!("socket ended: {other:?}"),
        }
    }
}

pub fn claims(token: &str, key: &str, secret: &str) -> livekit_api::access_token::Claims {
    TokenVerifier::with_api_key(key, secret)
        .verify(token)
        .expect("a token signed with the engine's LiveKit key")
}

pub fn assert_call_id(value: &Value) {
    let s = value.as_str().expect("a string");
    let rest = s.strip_prefix("call_").expect("call_ prefix");
    assert_eq!(rest.len(), 22, "{s}");
    assert!(
        rest.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{s}"
    );
}

/// Drives a fresh call into `from`; returns its id.
pub async fn setup(h: &Harness, bob: &str, alice: &str, from: &str) -> String {
    let call_id = id(&call(h, bob, "alice").await);
    let steps: &[(&str, &str)] = match from {
        "initiating" => &[],
        "ringing" => &[("callee", "ringing")],
        "active" => &[("callee", "accept")],
        "rejected" => &[("callee", "reject")],
        "busy" => &[("callee", "busy")],
        "cancelled" => &[("caller", "cancel")],
        "ended" => &[("callee", "accept"), ("caller", "end")],
        other => panic!("no setup for {other}"),
    };
    for (who, action) in steps {
        let bearer = if *who == "caller" { bob } else { alice };
        let (s, b) = act(h, bearer, &call_id, action).await;
        assert_eq!(s, 200, "setup {from}: {action}: {b}");
    }
    let (_, b) = h.get(&format!("/api/v1/calls/{call_id}"), bob).await;
    assert_eq!(b["status"], from, "{b}");
    call_id
}
