//! Replies outside the engine contract become typed errors, never panics
//! or hangs. The "engine" here is a raw socket that answers with exactly
//! the bytes under test: a narrow parser test, not a stand-in for the
//! engine (every feature is tested against the real one elsewhere).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use utd_stream::{UTDErrorCode, UTDStreamClient};

/// Serves `reply` (a full HTTP response) to every connection.
async fn serve(reply: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let _ = socket.write_all(reply.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

async fn authenticate_against(reply: &'static str) -> std::sync::Arc<utd_stream::UTDStreamError> {
    let url = serve(reply).await;
    let client = UTDStreamClient::new("app".into(), "key".into(), url, None).expect("client");
    tokio::time::timeout(
        Duration::from_secs(10),
        client.authenticate("u1".into(), None, None),
    )
    .await
    .expect("no hang")
    .expect_err("malformed reply is an error")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_success_status_with_a_broken_body_is_a_protocol_error() {
    let err = authenticate_against(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 9\r\n\r\n{\"user_to",
    )
    .await;
    assert_eq!(err.code(), UTDErrorCode::Protocol, "{err:?}");
    assert!(err.message().contains("does not match the contract"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_success_body_missing_fields_is_a_protocol_error_without_echoing_it() {
    let err = authenticate_against(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 30\r\n\r\n{\"user_token\":\"utdst_SECRET1\"}",
    )
    .await;
    assert_eq!(err.code(), UTDErrorCode::Protocol, "{err:?}");
    assert!(
        !err.message().contains("utdst_SECRET1"),
        "a success body is never echoed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_status_without_a_contract_body_keeps_its_status() {
    let err = authenticate_against(
        "HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/html\r\ncontent-length: 11\r\n\r\n<b>oops</b>",
    )
    .await;
    assert_eq!(err.code(), UTDErrorCode::Server);
    assert_eq!(err.status_code(), Some(502));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_mid_reply_is_a_network_error() {
    let err =
        authenticate_against("HTTP/1.1 200 OK\r\ncontent-length: 500\r\n\r\n{\"partial\":").await;
    assert!(err.is_network(), "{err:?}");
}
