//! Clients that push the engine's limits: a big presence watch, an oversized
//! frame, silent HTTP connections, malformed requests and trace logging.
//! Each test names the defect it guards against (issue 14).

mod common;

use std::time::Duration;

use common::{connected, next_msg, send, Harness};
use futures_util::SinkExt as _;
use serde_json::json;
use tokio::io::AsyncReadExt as _;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use utd_engine::Plan;

/// The contract allows 500 identities per `presence.watch`; the SDK replays
/// its whole watch set in one message after every reconnect. The reply burst
/// used to overflow the connection's outbound queue (256) and close the
/// socket with 4008 slow_consumer.
#[tokio::test]
async fn a_watch_of_500_identities_is_answered_in_full_without_a_close() {
    let h = Harness::start().await;
    let app = h.app(Plan::Signaling).await;
    let alice = h.token_for(&app, "alice").await;
    let (mut ws, _) = connected(&h, &alice).await;
    let identities: Vec<String> = (0..500).map(|i| format!("user-{i}")).collect();
    send(
        &mut ws,
        json!({"type": "presence.watch", "identities": identities, "ref": "w"}),
    )
    .await;
    let mut seen = std::collections::BTreeSet::new();
    loop {
        let msg = next_msg(&mut ws)
            .await
            .unwrap_or_else(|close| panic!("closed after {} presences: {close:?}", seen.len()));
        match msg["type"].as_str() {
            Some("presence") => {
                seen.insert(msg["identity"].as_str().unwrap_or_default().to_owned());
            }
            Some("ack") => break,
            _ => panic!("unexpected {msg}"),
        }
    }
    assert_eq!(seen.len(), 500, "one presence per identity before the ack");
    // Still open and answering.
    send(
        &mut ws,
        json!({"type": "echo", "ref": "e", "payload": {"x": 1}}),
    )
    .await;
    assert_eq!(next_msg(&mut ws).await.unwrap()["type"], "echo");
    h.engine.shutdown().await;
}

/// A frame over the 64 KiB limit is refused with the WebSocket close code
/// for it (1009 message too big), not a TCP reset.
#[tokio::test]
async fn a_frame_over_the_limit_is_closed_with_1009() {
    let h = Harness::start().await;
    let app = h.app(Plan::Signaling).await;
    let alice = h.token_for(&app, "alice").await;
    let (mut ws, _) = connected(&h, &alice).await;
    let big = json!({"type": "echo", "ref": "big", "payload": "x".repeat(70 * 1024)});
    // The engine may close before the whole frame is read: a failed send is
    // part of the expected outcome.
    let _ = ws.send(Message::Text(big.to_string().into())).await;
    match next_msg(&mut ws).await {
        Err((code, _)) => assert_eq!(code, 1009, "close code for an oversized frame"),
        Ok(msg) => panic!("expected a close, got {msg}"),
    }
    h.engine.shutdown().await;
}

/// A connection that opens and never sends a request head is closed after
/// the header-read timeout, so silent sockets cannot exhaust the file limit.
#[tokio::test]
async fn a_silent_http_connection_is_closed_by_the_engine() {
    let mut config = utd_engine::EngineConfig::for_tests();
    config.http_header_timeout = Duration::from_millis(500);
    let h = Harness::with_config(config).await;
    let mut stream = TcpStream::connect(h.engine.local_addr())
        .await
        .expect("connect");
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut byte))
        .await
        .expect("the engine closes a silent connection within 5 s");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "closed, not answered: {read:?}"
    );
    // A real request still goes through.
    let (status, _) = h.get("/api/v1/health", "").await;
    assert_eq!(status, 200);
    h.engine.shutdown().await;
}

/// Sends `request` raw and reads the whole answer (the engine closes the
/// connection after a request it cannot parse).
async fn raw_exchange(h: &Harness, request: &[u8]) -> (u16, String, serde_json::Value) {
    use tokio::io::AsyncWriteExt as _;
    let mut stream = TcpStream::connect(h.engine.local_addr())
        .await
        .expect("connect");
    // The engine may answer (and close) before all of an oversized head is
    // written: a failed write is expected then.
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("an HTTP answer: {answer:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {head:?}"));
    let body =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: a JSON body: {answer:?}"));
    (status, head.to_owned(), body)
}

/// Hyper answers what it cannot parse by itself; those answers used to have
/// empty bodies instead of the contract's JSON error shape.
#[tokio::test]
async fn requests_hyper_cannot_parse_get_the_json_error_shape() {
    let h = Harness::start().await;
    let (status, head, body) = raw_exchange(&h, b"GARBAGE\r\n\r\n").await;
    assert_eq!(status, 400, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    assert_eq!(body["error"]["code"], "invalid_argument", "{body}");
    assert!(body["error"]["message"].is_string());

    let long_uri = format!(
        "GET /api/v1/health?{} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(70_000)
    );
    let (status, head, body) = raw_exchange(&h, long_uri.as_bytes()).await;
    assert_eq!(status, 414, "{head}");
    assert_eq!(body["error"]["code"], "invalid_argument", "{body}");

    let big_head = format!(
        "GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "b".repeat(600_000)
    );
    let (status, head, body) = raw_exchange(&h, big_head.as_bytes()).await;
    assert_eq!(status, 431, "{head}");
    assert_eq!(body["error"]["code"], "invalid_argument", "{body}");

    // A normal request still gets its normal answer.
    let (status, _) = h.get("/api/v1/health", "").await;
    assert_eq!(status, 200);
    h.engine.shutdown().await;
}
