//! Helpers of the push dispatch tests: the APNs / FCM stand-ins wired into
//! an engine configuration, push-token registration, waiting on the outbox.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use utd_engine::admin_client::AppCredentials;
use utd_engine::{ApnsConfig, EngineConfig, FcmConfig, Plan};
use utd_testkit::push::{ApnsKey, ApnsStandIn, FcmStandIn};

use super::calls::{call, id, session};
use super::Harness;

/// Bundle id the APNs stand-in trusts.
pub const BUNDLE: &str = "com.example.app";

/// Long enough for anything that should happen on a loaded machine.
pub const WAIT: Duration = Duration::from_secs(30);

/// APNs credentials of `key`, pointed at `url`.
pub fn apns_config(key: &ApnsKey, url: &str) -> ApnsConfig {
    ApnsConfig::new(
        key.p8_pem.clone(),
        key.key_id.clone(),
        key.team_id.clone(),
        BUNDLE,
    )
    .with_endpoint(url)
}

/// FCM credentials of the stand-in's service account, pointed at it.
pub fn fcm_config(fcm: &FcmStandIn) -> FcmConfig {
    FcmConfig::from_service_account_json(&fcm.service_account_json())
        .expect("the stand-in's service account")
        .with_endpoint(fcm.url())
}

/// A test configuration with both services (APNs at `apns_url`).
pub fn config(key: &ApnsKey, apns_url: &str, fcm: &FcmStandIn) -> EngineConfig {
    let mut config = EngineConfig::for_tests();
    config.push.apns = Some(apns_config(key, apns_url));
    config.push.fcm = Some(fcm_config(fcm));
    config
}

/// A 64-hex-character APNs device token.
pub fn apns_token(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

/// An FCM registration token.
pub fn fcm_token(name: &str) -> String {
    format!("fcm-{name}:APA91b{}", "x".repeat(40))
}

/// A port nothing listens on (bound, then released).
pub fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A free loopback address for a fixed engine bind.
pub fn free_addr() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// `POST /api/v1/devices/push-token` (204 asserted).
pub async fn register(
    h: &Harness,
    bearer: &str,
    platform: &str,
    token: &str,
    device: Option<&str>,
) {
    let (s, b) = h
        .post(
            "/api/v1/devices/push-token",
            bearer,
            json!({"platform": platform, "token": token, "device_id": device}),
        )
        .await;
    assert_eq!(s, 204, "{b}");
}

/// Polls `check` until it holds (panics naming `what` after [`WAIT`]).
pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Rows in the push outbox.
pub async fn outbox_len(h: &Harness) -> i64 {
    h.counts().await["push_outbox"]
}

/// Registered push tokens.
pub async fn token_count(h: &Harness) -> i64 {
    h.counts().await["push_tokens"]
}

/// Rows of the push outbox of an engine configured with the file `db` (also
/// once it stopped).
pub async fn stored_outbox_len(db: &Path) -> i64 {
    super::db_i64(db, "SELECT COUNT(*) FROM push_outbox").await
}

/// Waits until some outbox row of `db` was attempted at least `n` times.
pub async fn wait_for_attempts(db: &Path, n: i64) {
    let sql = format!("SELECT COUNT(*) FROM push_outbox WHERE attempts >= {n}");
    wait_until(&format!("a push attempted {n} times"), || async {
        super::db_i64(db, &sql).await > 0
    })
    .await;
}

/// Wall clock, ms since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// An app with bob (caller) and alice (callee, a session per device).
pub struct Parties {
    pub app: AppCredentials,
    pub bob: String,
    pub alice: String,
}

pub async fn parties(h: &Harness) -> Parties {
    let app = h.app(Plan::Signaling).await;
    let bob = session(h, &app, "bob", Some("bob-phone"), Some("Bob")).await;
    let alice = session(h, &app, "alice", Some("ios-1"), Some("Alice")).await;
    Parties { app, bob, alice }
}

pub fn ring_ms(config: &EngineConfig) -> u64 {
    config.ring_timeout.as_millis() as u64
}

pub fn created_at(call: &Value) -> u64 {
    call["created_at_ms"].as_u64().expect("created_at_ms")
}

/// Alice with two Android devices and an iPhone, all rung by a call.
pub async fn rung(h: &Harness, p: &Parties, apns: &ApnsStandIn, fcm: &FcmStandIn) -> String {
    let before_apns = apns.pushes().len();
    let before_fcm = fcm.messages().len();
    let created = call(h, &p.bob, "alice").await;
    apns.wait_for_pushes(before_apns + 1, WAIT).await.unwrap();
    fcm.wait_for_messages(before_fcm + 2, WAIT).await.unwrap();
    wait_until("the call pushes delivered", || async {
        outbox_len(h).await == 0
    })
    .await;
    id(&created)
}

/// The `call_ended` messages of `call_id`, by device token.
pub fn endings(fcm: &FcmStandIn, call_id: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = fcm
        .messages()
        .into_iter()
        .filter(|m| m.data["type"] == "call_ended" && m.data["call_id"] == call_id)
        .map(|m| {
            assert_eq!(m.data.len(), 3, "{:?}", m.data);
            assert_eq!(m.android_priority.as_deref(), Some("HIGH"));
            assert_eq!(m.collapse_key.as_deref(), Some(call_id));
            assert!(!m.has_notification);
            let ttl: u64 = m
                .ttl
                .as_deref()
                .unwrap()
                .trim_end_matches('s')
                .parse()
                .unwrap();
            assert!((1..=60).contains(&ttl), "{ttl}");
            (m.device_token, m.data["reason"].clone())
        })
        .collect();
    out.sort();
    out
}

pub async fn setup_rung_devices(
    ring: Duration,
) -> (Harness, Parties, ApnsStandIn, FcmStandIn, [String; 2]) {
    let key = ApnsKey::generate();
    let apns = ApnsStandIn::start(&key, BUNDLE).await.unwrap();
    let fcm = FcmStandIn::start("utd-test").await.unwrap();
    let mut config = config(&key, &apns.url(), &fcm);
    config.ring_timeout = ring;
    let h = Harness::with_config(config).await;
    let p = parties(&h).await;
    let phones = [fcm_token("android-1"), fcm_token("android-2")];
    register(&h, &p.alice, "apns_voip", &apns_token(1), Some("ios-1")).await;
    register(&h, &p.alice, "fcm", &phones[0], Some("android-1")).await;
    register(&h, &p.alice, "fcm", &phones[1], Some("android-2")).await;
    (h, p, apns, fcm, phones)
}
