//! The signal WebSocket: hello, presence across users and devices, echo,
//! errors, heartbeats and auth close codes.

mod common;

use std::time::Duration;

use common::{connected, expect_close, next_msg, send, Harness};
use serde_json::{json, Value};
use utd_engine::{EngineConfig, Plan};

#[tokio::test]
async fn hello_carries_the_session() {
    let h = Harness::start().await;
    let app = h.app(Plan::Pro).await;
    let bearer = h.token_for(&app, "alice").await;
    let (_ws, hello) = connected(&h, &bearer).await;
    assert_eq!(hello["identity"], "alice");
    assert_eq!(hello["heartbeat_ms"], 5000);
    assert_eq!(hello["session"]["signaling_enabled"], true);
    assert_eq!(hello["session"]["device_id"], "dev-1");
    assert!(hello["session"].get("user_token").is_none());
    h.engine.shutdown().await;
}

#[tokio::test]
async fn presence_is_seen_by_a_second_user_across_devices() {
    let h = Harness::start().await;
    let app = h.app(Plan::Signaling).await;
    let alice = h.token_for(&app, "alice").await;
    let bob_phone = h.token_for(&app, "bob").await;
    let bob_tablet = h.token_for(&app, "bob").await;

    let (mut wa, _) = connected(&h, &alice).await;
    send(
        &mut wa,
        json!({"type": "presence.watch", "identities": ["bob"], "ref": "w1"}),
    )
    .await;
    let p = next_msg(&mut wa).await.unwrap();
    assert_eq!(
        p,
        json!({"type": "presence", "identity": "bob", "online": false, "last_seen_ms": null})
    );
    assert_eq!(
        next_msg(&mut wa).await.unwrap(),
        json!({"type": "ack", "ref": "w1"})
    );

    // Bob's first device brings him online.
    let (mut wb1, _) = connected(&h, &bob_phone).await;
    let p = next_msg(&mut wa).await.unwrap();
    assert_eq!(
        (p["identity"].clone(), p["online"].clone()),
        (json!("bob"), json!(true))
    );
    assert_eq!(p["last_seen_ms"], Value::Null);

    // A second device is not a change; closing one of two is not either.
    let (mut wb2, _) = connected(&h, &bob_tablet).await;
    wb1.close(None).await.unwrap();
    let _ = expect_close(&mut wb1).await;

    // A message round trip proves no presence event was queued meanwhile.
    send(
        &mut wa,
        json!({"type": "echo", "ref": 7, "payload": {"x": 1}}),
    )
    .await;
    assert_eq!(
        next_msg(&mut wa).await.unwrap(),
        json!({"type": "echo", "ref": 7, "payload": {"x": 1}})
    );

    // Closing the last device takes bob offline with a last-seen time.
    let before = utd_now_ms();
    wb2.close(None).await.unwrap();
    let _ = expect_close(&mut wb2).await;
    let p = next_msg(&mut wa).await.unwrap();
    assert_eq!(p["online"], false, "{p}");
    let seen = p["last_seen_ms"].as_u64().expect("last_seen_ms");
    assert!(seen + 1000 >= before, "{seen} vs {before}");

    // A new watcher gets the persisted last-seen immediately.
    let carol = h.token_for(&app, "carol").await;
    let (mut wc, _) = connected(&h, &carol).await;
    send(
        &mut wc,
        json!({"type": "presence.watch", "identities": ["bob", "alice"]}),
    )
    .await;
    let first = next_msg(&mut wc).await.unwrap();
    let second = next_msg(&mut wc).await.unwrap();
    assert_eq!(first["identity"], "bob");
    assert_eq!(first["last_seen_ms"].as_u64(), Some(seen));
    assert_eq!(second["identity"], "alice");
    assert_eq!(second["online"], true);

    // After unwatch, changes are no longer pushed.
    send(
        &mut wa,
        json!({"type": "presence.unwatch", "identities": ["bob"], "ref": "u"}),
    )
    .await;
    assert_eq!(
        next_msg(&mut wa).await.unwrap(),
        json!({"type": "ack", "ref": "u"})
    );
    let (_wb3, _) = connected(&h, &bob_phone).await;
    send(&mut wa, json!({"type": "echo", "ref": "after"})).await;
    assert_eq!(next_msg(&mut wa).await.unwrap()["ref"], "after");
    h.engine.shutdown().await;
}

fn utd_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test]
async fn bad_messages_get_errors_and_the_connection_stays_open() {
    let h = Harness::start().await;
    let app = h.app(Plan::Signaling).await;
    let bearer = h.token_for(&app, "alice").await;
    let (mut ws, _) = connected(&h, &bearer).await;
    send(&mut ws, json!({"type": "teleport", "ref": "t1"})).await;
    let e = next_msg(&mut ws).await.unwrap();
    assert_eq!(e["type"], "error");
    assert_eq!(e["code"], "invalid_argument");
    assert_eq!(e["ref"], "t1");
    ws.send_text("not json").await;
    assert_eq!(next_msg(&mut ws).await.unwrap()["code"], "invalid_argument");
    send(
        &mut ws,
        json!({"type": "presence.watch", "identities": ["bad identity"]}),
    )
    .await;
    assert_eq!(next_msg(&mut ws).await.unwrap()["code"], "invalid_argument");
    send(&mut ws, json!({"type": "pong", "ts_ms": 1, "ref": "p"})).await;
    assert_eq!(
        next_msg(&mut ws).await.unwrap(),
        json!({"type": "ack", "ref": "p"})
    );
    h.engine.shutdown().await;
}

trait SendText {
    async fn send_text(&mut self, text: &str);
}

impl SendText for common::Ws {
    async fn send_text(&mut self, text: &str) {
        use futures_util::SinkExt;
        self.send(tokio_tungstenite::tungstenite::Message::Text(text.into()))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn auth_failures_close_with_documented_codes() {
    let h = Harness::start().await;
    let app = h.app(Plan::Signaling).await;
    let mut ws = h.ws(None).await;
    assert_eq!(
        expect_close(&mut ws).await,
        (4401, "unauthenticated".to_owned())
    );
    let mut ws = h
        .ws(Some("utdst_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
        .await;
    assert_eq!(
        expect_close(&mut ws).await,
        (4401, "unauthenticated".to_owned())
    );

    // Logging out closes the sockets of that session only.
    let bearer = h.token_for(&app, "alice").await;
    let other = h.token_for(&app, "alice").await;
    let (mut ws1, _) = connected(&h, &bearer).await;
    let (mut ws2, _) = connected(&h, &other).await;
    let resp = h
        .http
        .delete(h.url("/api/v1/auth/session"))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    assert_eq!(
        expect_close(&mut ws1).await,
        (4401, "unauthenticated".to_owned())
    );
    send(&mut ws2, json!({"type": "echo", "ref": "still"})).await;
    assert_eq!(next_msg(&mut ws2).await.unwrap()["ref"], "still");
    h.engine.shutdown().await;
}

#[tokio::test]
async fn silent_clients_are_closed_after_two_missed_heartbeats() {
    let mut config = EngineConfig::for_tests();
    config.heartbeat_interval = Duration::from_millis(200);
    let h = Harness::with_config(config).await;
    let app = h.app(Plan::Signaling).await;
    let bearer = h.token_for(&app, "alice").await;
    let (mut quiet, hello) = connected(&h, &bearer).await;
    assert_eq!(hello["heartbeat_ms"], 200);
    // A client that answers pings stays connected meanwhile.
    let (mut chatty, _) = connected(&h, &bearer).await;
    let started = std::time::Instant::now();
    let keep = tokio::spawn(async move {
        use futures_util::{SinkExt, StreamExt};
        let mut pings = 0;
        while let Some(Ok(msg)) = chatty.next().await {
            if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if v["type"] == "ping" {
                    pings += 1;
                    let pong = json!({"type": "pong", "ts_ms": v["ts_ms"]}).to_string();
                    if chatty.send(pong.into()).await.is_err() || pings >= 8 {
                        break;
                    }
                }
            }
        }
        pings
    });
    // `expect_close` skips pings without answering them.
    assert_eq!(
        expect_close(&mut quiet).await,
        (4408, "heartbeat_timeout".to_owned())
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(
        keep.await.unwrap(),
        8,
        "the answering client kept receiving pings"
    );
    h.engine.shutdown().await;
}

#[tokio::test]
async fn slow_consumers_are_closed() {
    let mut config = EngineConfig::for_tests();
    config.ws_queue_capacity = 4;
    // A reply waits up to one heartbeat for room in the queue before the
    // connection is closed as slow: short here, so the client below is still
    // not reading when that happens.
    config.heartbeat_interval = Duration::from_secs(1);
    let h = Harness::with_config(config).await;
    let app = h.app(Plan::Signaling).await;
    let bearer = h.token_for(&app, "alice").await;
    let (mut ws, _) = connected(&h, &bearer).await;
    // Big echoes, never read: the socket buffers fill, then the queue.
    let payload = "x".repeat(60_000);
    for i in 0..400 {
        use futures_util::SinkExt;
        let msg = json!({"type": "echo", "ref": i, "payload": payload}).to_string();
        let sent = tokio::time::timeout(Duration::from_secs(2), ws.send(msg.into())).await;
        if !matches!(sent, Ok(Ok(()))) {
            break;
        }
    }
    assert_eq!(
        expect_close(&mut ws).await,
        (4008, "slow_consumer".to_owned())
    );
    h.engine.shutdown().await;
}
