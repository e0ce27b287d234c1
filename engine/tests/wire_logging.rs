//! At `RUST_LOG=trace` the engine's log shows its own events but never what
//! crossed the wire: WebSocket message text, bearer tokens in headers or
//! frames. The WebSocket crate logs every message it reads at trace level;
//! before the engine's rule (`utd_engine::logging`) a client's frames and the
//! tokens in them reached the log. One test per binary: it owns the process's
//! global subscriber.

mod common;

use common::{connected, next_msg, send, Harness};
use serde_json::json;
use tracing_subscriber::util::SubscriberInitExt as _;
use utd_engine::logging::{subscriber, MemoryLog};
use utd_engine::Plan;

#[tokio::test]
async fn trace_logging_shows_no_frame_content_or_token() {
    let log = MemoryLog::default();
    subscriber("json", Some("trace"), log.clone())
        .try_init()
        .expect("the only subscriber of this test binary");

    let h = Harness::start().await;
    let app = h.app(Plan::Pro).await;
    let bearer = h.token_for(&app, "alice").await;
    let (mut ws, _) = connected(&h, &bearer).await;
    let marker = "frame-content-marker-5f1d";
    send(
        &mut ws,
        json!({"type": "echo", "ref": "e1", "payload": {"text": marker, "token": bearer}}),
    )
    .await;
    assert_eq!(next_msg(&mut ws).await.unwrap()["type"], "echo");
    let (status, _) = h.get("/api/v1/me", &bearer).await;
    assert_eq!(status, 200);
    drop(ws);
    h.engine.shutdown().await;

    let contents = log.contents();
    assert!(
        contents.contains("signal connected"),
        "the engine's own events are logged: {} bytes",
        contents.len()
    );
    assert!(
        !contents.contains(marker),
        "a client's message text reached the log"
    );
    assert!(
        !contents.contains(&bearer),
        "a bearer token reached the log"
    );
}
