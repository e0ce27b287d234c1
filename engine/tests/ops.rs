//! What operators read: readiness (the database answers) and the Prometheus
//! metrics (requests by route template and status, open sockets).

mod common;

use common::{connected, Harness};
use utd_engine::Plan;

#[tokio::test]
async fn readiness_reports_the_database_and_metrics_count_requests_by_route_template() {
    let h = Harness::start().await;
    let (s, ready) = h.get("/api/v1/ready", "").await;
    assert_eq!(s, 200, "{ready}");
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["database"], "ok");
    if h.engine.is_cluster_node() {
        assert_eq!(ready["redis"], "ok", "{ready}");
    } else {
        assert!(
            ready.get("redis").is_none(),
            "a single node has no Redis: {ready}"
        );
    }

    let app = h.app(Plan::Signaling).await;
    let alice = h.token_for(&app, "alice").await;
    for _ in 0..3 {
        assert_eq!(h.get("/api/v1/me", &alice).await.0, 200);
    }
    assert_eq!(h.get("/api/v1/calls/call_nope", &alice).await.0, 404);
    let (_ws, _) = connected(&h, &alice).await;
    // A call: its room is created in LiveKit beside the reply (no LiveKit
    // here, so that call fails, and is timed all the same).
    let bob = h.token_for(&app, "bob").await;
    let (s, b) = h
        .post(
            "/api/v1/calls",
            &bob,
            serde_json::json!({"callee_identity": "alice", "type": "audio_call"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let metrics = || async {
        let resp = h.http.get(h.url("/metrics")).send().await.expect("request");
        resp.text().await.unwrap()
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !metrics()
        .await
        .contains("utd_livekit_call_seconds_count{method=\"CreateRoom\",outcome=\"failed\"} 1\n")
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{}",
            metrics().await
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let resp = h.http.get(h.url("/metrics")).send().await.expect("request");
    assert_eq!(resp.status(), 200);
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("utd_http_requests_total{route=\"/api/v1/me\",status=\"200\"} 3\n"),
        "{text}"
    );
    // The template, never the id.
    assert!(
        text.contains(
            "utd_http_requests_total{route=\"/api/v1/calls/{call_id}\",status=\"404\"} 1\n"
        ),
        "{text}"
    );
    assert!(!text.contains("call_nope"), "{text}");
    assert!(text.contains("utd_signal_sockets 1\n"), "{text}");
    assert!(text.contains("utd_sweeps_total{kind=\"ring\"} "), "{text}");
    assert!(
        text.contains("utd_http_request_seconds_count{route=\"/api/v1/me\"} 3\n"),
        "{text}"
    );
    h.engine.shutdown().await;
}
