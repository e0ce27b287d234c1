//! The SDK never holds the server secret, never puts it (or bearer tokens)
//! in logs or errors, and redacts tokens in Debug output.

mod support;

use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use support::wire_tap::WireTap;
use support::Engine;
use utd_stream::logging::{subscribe_logs, UTDLogLevel, UTDLogListener, UTDLogRecord};
use utd_stream::UTDStreamClient;

struct Collect(Mutex<mpsc::Sender<UTDLogRecord>>);

impl UTDLogListener for Collect {
    fn on_log(&self, record: UTDLogRecord) {
        if let Ok(tx) = self.0.lock() {
            let _ = tx.send(record);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_secret_and_bearers_never_leave_through_wire_logs_or_errors() {
    let engine = Engine::start().await;
    let app = engine.app("signaling").await;
    let tap = WireTap::start(
        engine
            .url()
            .trim_start_matches("http://")
            .parse()
            .expect("addr"),
    )
    .await;

    let (tx, logs) = mpsc::channel();
    let subscription = subscribe_logs(UTDLogLevel::Trace, Arc::new(Collect(Mutex::new(tx))));

    let client = UTDStreamClient::new(
        app.app_id.clone(),
        app.app_key.clone(),
        format!("http://{}", tap.addr),
        None,
    )
    .expect("client");
    let bearer = client
        .clone()
        .authenticate("alice".into(), None, None)
        .await
        .expect("auth");
    client.clone().connect().await.expect("connect");
    client
        .clone()
        .watch_presence(vec!["bob".into()])
        .await
        .expect("watch");
    let refused = client
        .clone()
        .authenticate("not valid!".into(), None, None)
        .await
        .expect_err("invalid identity");
    engine.admin().ban(&app.app_id, "alice").await.expect("ban");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let banned = client
        .clone()
        .authenticate("alice".into(), None, None)
        .await
        .expect_err("banned");
    client.clone().disconnect().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    subscription.cancel();

    let wire = tap.sent_text();
    assert!(
        wire.contains(&app.app_key),
        "sanity: the tap saw the SDK's requests"
    );
    assert!(
        !wire.contains(&app.server_secret),
        "server secret never on the wire"
    );

    let log_text: String = logs
        .try_iter()
        .map(|r| format!("{}\n", r.message))
        .collect();
    assert!(
        !log_text.is_empty(),
        "sanity: trace logging produced records"
    );
    let errors = format!("{refused:?} {refused} {banned:?} {banned}");
    let debug = format!("{client:?}");
    for (place, text) in [
        ("logs", &log_text),
        ("errors", &errors),
        ("client Debug", &debug),
    ] {
        assert!(
            !text.contains(&app.server_secret),
            "server secret in {place}"
        );
        assert!(!text.contains(&bearer), "bearer in {place}: {text}");
        assert!(!text.contains(&app.app_key), "app key in {place}: {text}");
    }
}
