//! Helpers of the chat tests: Pro apps with room for bursts, plan limits,
//! requests of every method, conversations and messages, and reading chat
//! pushes off signal sockets.

use std::path::Path;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use utd_engine::admin_client::AppCredentials;
use utd_engine::Plan;

use super::{status_json, Harness, Ws};

/// A Pro app whose rate limits leave room for the bursts of the tests.
pub async fn chat_app(h: &Harness) -> AppCredentials {
    let app = h.app(Plan::Pro).await;
    h.admin
        .set_rate_limits(&app.app_id, 1_000_000, 1_000_000)
        .await
        .unwrap();
    app
}

/// Sets the app's plan with limit overrides (`{"max_friends": 3, …}`).
pub async fn set_plan(h: &Harness, app: &AppCredentials, plan: &str, limits: Value) {
    let resp = h
        .http
        .put(h.url(&format!("/admin/v1/apps/{}/plan", app.app_id)))
        .bearer_auth(h.engine.admin_token())
        .json(&json!({"plan": plan, "limits": limits}))
        .send()
        .await
        .unwrap();
    let (s, b) = status_json(resp).await;
    assert_eq!(s, 200, "{b}");
}

/// Any request with a bearer and an optional JSON body.
pub async fn req(
    h: &Harness,
    method: reqwest::Method,
    path: &str,
    bearer: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = h.http.request(method, h.url(path)).bearer_auth(bearer);
    if let Some(b) = body {
        r = r.json(&b);
    }
    status_json(r.send().await.expect("request")).await
}

pub async fn put(h: &Harness, path: &str, bearer: &str, body: Option<Value>) -> (u16, Value) {
    req(h, reqwest::Method::PUT, path, bearer, body).await
}

pub async fn patch(h: &Harness, path: &str, bearer: &str, body: Value) -> (u16, Value) {
    req(h, reqwest::Method::PATCH, path, bearer, Some(body)).await
}

pub async fn delete(h: &Harness, path: &str, bearer: &str) -> (u16, Value) {
    req(h, reqwest::Method::DELETE, path, bearer, None).await
}

pub fn conv_path(id: &str) -> String {
    format!("/api/v1/chat/conversations/{id}")
}

/// Opens the direct conversation with `peer` (200 or 201); returns it.
pub async fn direct(h: &Harness, bearer: &str, peer: &str) -> Value {
    let (s, b) = h
        .post(
            "/api/v1/chat/conversations/direct",
            bearer,
            json!({"identity": peer}),
        )
        .await;
    assert!(s == 200 || s == 201, "{s} {b}");
    b
}

/// Creates a group (201 asserted); returns it.
pub async fn group(h: &Harness, bearer: &str, title: &str, members: &[&str]) -> Value {
    let (s, b) = h
        .post(
            "/api/v1/chat/conversations",
            bearer,
            json!({"kind": "group", "title": title, "members": members}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    b
}

pub fn id(v: &Value) -> String {
    v["conversation_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no conversation_id: {v}"))
        .to_owned()
}

/// Sends a text message; returns (status, body).
pub async fn send_text(
    h: &Harness,
    bearer: &str,
    conv: &str,
    client_id: &str,
    text: &str,
) -> (u16, Value) {
    h.post(
        &format!("{}/messages", conv_path(conv)),
        bearer,
        json!({"client_message_id": client_id, "text": text}),
    )
    .await
}

/// Sends a text message (201 asserted); returns the message.
pub async fn say(h: &Harness, bearer: &str, conv: &str, client_id: &str, text: &str) -> Value {
    let (s, b) = send_text(h, bearer, conv, client_id, text).await;
    assert_eq!(s, 201, "{b}");
    b
}

/// `GET …/messages?query` (200 asserted).
pub async fn page(h: &Harness, bearer: &str, conv: &str, query: &str) -> Value {
    let (s, b) = h
        .get(&format!("{}/messages?{query}", conv_path(conv)), bearer)
        .await;
    assert_eq!(s, 200, "{b}");
    b
}

pub fn seqs(page: &Value) -> Vec<u64> {
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect()
}

/// The caller's conversation list (first page, 200 asserted).
pub async fn list(h: &Harness, bearer: &str) -> Value {
    let (s, b) = h.get("/api/v1/chat/conversations", bearer).await;
    assert_eq!(s, 200, "{b}");
    b
}

/// The next server message of type `kind` (skipping others), within 10 s.
pub async fn next_of(ws: &mut Ws, kind: &str) -> Value {
    next_of_within(ws, kind, Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("no {kind} within 10 s"))
}

/// Answers a server `ping` (so a socket read for longer than two
/// heartbeats stays open); true when `v` was one.
async fn answered_ping(ws: &mut Ws, v: &Value) -> bool {
    if v["type"] != "ping" {
        return false;
    }
    let pong = json!({"type": "pong", "ts_ms": v["ts_ms"]}).to_string();
    let _ = ws.send(Message::Text(pong.into())).await;
    true
}

/// The next server message of type `kind` within `wait`, if any (pings
/// answered on the way).
pub async fn next_of_within(ws: &mut Ws, kind: &str, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next()).await.ok()??;
        if let Ok(Message::Text(t)) = frame {
            let v: Value = serde_json::from_str(t.as_str()).expect("json");
            if answered_ping(ws, &v).await {
                continue;
            }
            if v["type"] == kind {
                return Some(v);
            }
        }
    }
}

/// Every server message (pings answered, not returned) arriving within `wait`.
pub async fn drain(ws: &mut Ws, wait: Duration) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut out = Vec::new();
    while let Ok(Some(frame)) = tokio::time::timeout_at(deadline, ws.next()).await {
        if let Ok(Message::Text(t)) = frame {
            let v: Value = serde_json::from_str(t.as_str()).expect("json");
            if !answered_ping(ws, &v).await {
                out.push(v);
            }
        }
    }
    out
}

/// Runs `sql` on the engine's database (the engine keeps running).
pub async fn sql(db: &Path, sql: &str) {
    super::db_execute(db, sql).await;
}

/// One integer from the engine's database.
pub async fn count(db: &Path, sql: &str) -> i64 {
    super::db_i64(db, sql).await
}
