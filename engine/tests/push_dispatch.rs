//! Push dispatch (engine-api.md §4): a call rings the callee's iOS devices
//! through APNs (VoIP) and Android devices through FCM, via a durable
//! outbox; dead tokens are forgotten, failures retried until the ring
//! deadline, pending pushes survive a restart, and the end of the ringing
//! reaches the FCM devices that were rung. Against the loopback stand-ins
//! of utd-testkit, which check requests as Apple and Google do.

mod common;

use std::time::Duration;

use common::calls::{act, call, id, session};
use common::push::*;
use common::Harness;
use serde_json::{json, Value};
use utd_engine::{ApnsConfig, DatabaseLocation, EngineConfig};
use utd_testkit::push::{ApnsKey, ApnsStandIn, FcmMessage, FcmStandIn};

#[tokio::test]
async fn a_call_pushes_to_the_callees_apns_and_fcm_devices_exactly_as_specified() {
    let key = ApnsKey::generate();
    let apns = ApnsStandIn::start(&key, BUNDLE).await.unwrap();
    let fcm = FcmStandIn::start("utd-test").await.unwrap();
    let config = config(&key, &apns.url(), &fcm);
    let ring = ring_ms(&config);
    let h = Harness::with_config(config).await;
    let p = parties(&h).await;
    let ios = apns_token(1);
    let android = fcm_token("a1");
    register(&h, &p.alice, "apns_voip", &ios, Some("ios-1")).await;
    register(&h, &p.alice, "fcm", &android, Some("android-1")).await;
    // Neither the caller's tokens nor a regular APNs token ring.
    register(&h, &p.bob, "fcm", &fcm_token("bob"), Some("bob-phone")).await;
    register(&h, &p.alice, "apns", &apns_token(9), Some("ios-1")).await;

    let created = call(&h, &p.bob, "alice").await;
    let call_id = id(&created);
    let deadline = created_at(&created) + ring;

    let push = apns.wait_for_pushes(1, WAIT).await.unwrap().remove(0);
    assert_eq!(push.device_token, ios);
    assert_eq!(push.push_type, "voip");
    assert_eq!(push.topic, format!("{BUNDLE}.voip"));
    assert_eq!(push.priority, 10);
    assert_eq!(push.expiration, deadline / 1000);
    assert_eq!(push.collapse_id.as_deref(), Some(call_id.as_str()));
    let sent_at = push.payload["sent_at_ms"].as_u64().expect("sent_at_ms");
    assert!(sent_at >= created_at(&created) && sent_at <= push.received_at_ms);
    assert_eq!(
        push.payload,
        json!({"type": "call", "call_id": call_id, "caller_identity": "bob",
               "caller_name": "Bob", "call_type": "audio_call", "sent_at_ms": sent_at,
               "ring_expires_at_ms": deadline})
    );

    let msg = fcm.wait_for_messages(1, WAIT).await.unwrap().remove(0);
    assert_eq!(msg.device_token, android);
    assert!(!msg.has_notification, "data-only");
    assert_eq!(msg.android_priority.as_deref(), Some("HIGH"));
    assert_eq!(msg.collapse_key.as_deref(), Some(call_id.as_str()));
    let ttl: u64 = msg
        .ttl
        .as_deref()
        .unwrap()
        .trim_end_matches('s')
        .parse()
        .unwrap();
    assert!(ttl >= 1 && ttl <= ring / 1000, "{ttl}");
    let sent_at = msg.data["sent_at_ms"].clone();
    let want: Vec<(&str, String)> = vec![
        ("call_id", call_id.clone()),
        ("call_type", "audio_call".into()),
        ("caller_identity", "bob".into()),
        ("caller_name", "Bob".into()),
        ("ring_expires_at_ms", deadline.to_string()),
        ("sent_at_ms", sent_at),
        ("type", "call".into()),
    ];
    let want = want.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    assert_eq!(msg.data, want);

    // Delivered rows leave the outbox; nothing else was sent.
    wait_until("an empty outbox", || async { outbox_len(&h).await == 0 }).await;
    assert_eq!(apns.requests().len(), 1);
    assert_eq!(fcm.messages().len(), 1);
    h.engine.shutdown().await;
}

#[tokio::test]
async fn the_call_reply_does_not_wait_for_the_providers() {
    // A listener that accepts connections and never answers.
    let hang = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let key = ApnsKey::generate();
    let mut config = EngineConfig::for_tests();
    let url = format!("http://{}", hang.local_addr().unwrap());
    config.push.apns = Some(apns_config(&key, &url));
    let h = Harness::with_config(config).await;
    let p = parties(&h).await;
    register(&h, &p.alice, "apns_voip", &apns_token(1), Some("ios-1")).await;

    let created = call(&h, &p.bob, "alice").await;
    // Answered while the push is still unsent.
    assert_eq!(outbox_len(&h).await, 1);
    // Ending the call drops it (never ring a dead call); shutdown does not
    // wait for the hanging request either.
    let (s, b) = act(&h, &p.bob, &id(&created), "cancel").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(outbox_len(&h).await, 0);
    h.engine.shutdown().await;
    drop(hang);
}

#[tokio::test]
async fn dead_tokens_are_deleted_and_not_pushed_again() {
    let key = ApnsKey::generate();
    let apns = ApnsStandIn::start(&key, BUNDLE).await.unwrap();
    let fcm = FcmStandIn::start("utd-test").await.unwrap();
    let h = Harness::with_config(config(&key, &apns.url(), &fcm)).await;
    let p = parties(&h).await;
    let (ios_dead, ios_bad, ios_ok) = (apns_token(1), apns_token(2), apns_token(3));
    let (android_dead, android_ok) = (fcm_token("dead"), fcm_token("ok"));
    apns.fail_token(&ios_dead, 410, "Unregistered");
    apns.fail_token(&ios_bad, 400, "BadDeviceToken");
    fcm.fail_token(&android_dead, 404, "UNREGISTERED");
    register(&h, &p.alice, "apns_voip", &ios_dead, Some("ios-1")).await;
    register(&h, &p.alice, "apns_voip", &ios_bad, Some("ios-2")).await;
    register(&h, &p.alice, "apns_voip", &ios_ok, Some("ios-3")).await;
    register(&h, &p.alice, "fcm", &android_dead, Some("android-1")).await;
    register(&h, &p.alice, "fcm", &android_ok, Some("android-2")).await;

    let first = call(&h, &p.bob, "alice").await;
    wait_until("the dead tokens deleted", || async {
        token_count(&h).await == 2
    })
    .await;
    wait_until("an empty outbox", || async { outbox_len(&h).await == 0 }).await;
    assert_eq!(apns.pushes().len(), 1);
    assert_eq!(fcm.messages().len(), 1);
    let (s, _) = act(&h, &p.bob, &id(&first), "cancel").await;
    assert_eq!(s, 200);

    call(&h, &p.bob, "alice").await;
    let pushes = apns.wait_for_pushes(2, WAIT).await.unwrap();
    let messages: Vec<FcmMessage> = fcm
        .wait_for_messages(3, WAIT)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.data["type"] == "call")
        .collect();
    wait_until("an empty outbox", || async { outbox_len(&h).await == 0 }).await;
    assert!(pushes.iter().all(|p| p.device_token == ios_ok));
    assert!(messages.iter().all(|m| m.device_token == android_ok));
    // One request each to the dead tokens: the first call's.
    let requests = apns.requests();
    for dead in [&ios_dead, &ios_bad] {
        assert_eq!(
            requests.iter().filter(|r| &r.device_token == dead).count(),
            1
        );
    }
    assert_eq!(apns.requests().len(), 4);
    h.engine.shutdown().await;
}

#[tokio::test]
async fn apns_unreachable_at_call_time_is_retried_and_delivered_when_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("engine.sqlite3");
    let key = ApnsKey::generate();
    let fcm = FcmStandIn::start("utd-test").await.unwrap();
    let port = dead_port();
    let mut config = config(&key, &format!("http://127.0.0.1:{port}"), &fcm);
    config.database = DatabaseLocation::File(db.clone());
    let h = Harness::with_config(config).await;
    let p = parties(&h).await;
    register(&h, &p.alice, "apns_voip", &apns_token(1), Some("ios-1")).await;
    let created = call(&h, &p.bob, "alice").await;

    wait_for_attempts(&db, 2).await;
    let apns = ApnsStandIn::start_on(port, &key, BUNDLE).await.unwrap();
    let push = apns.wait_for_pushes(1, WAIT).await.unwrap().remove(0);
    assert_eq!(push.payload["call_id"], created["call_id"]);
    wait_until("an empty outbox", || async { outbox_len(&h).await == 0 }).await;
    assert_eq!(apns.requests().len(), 1);
    h.engine.shutdown().await;
}

#[tokio::test]
async fn apns_never_back_is_given_up_at_the_ring_deadline() {
    let key = ApnsKey::generate();
    let fcm = FcmStandIn::start("utd-test").await.unwrap();
    let port = dead_port();
    let mut config = config(&key, &format!("http://127.0.0.1:{port}"), &fcm);
    config.ring_timeout = Duration::from_secs(3);
    let h = Harness::with_config(config).await;
    let p = parties(&h).await;
    register(&h, &p.alice, "apns_voip", &apns_token(1), Some("ios-1")).await;
    let created = call(&h, &p.bob, "alice").await;
    let call_id = id(&created);

    wait_until("the push given up", || async { outbox_len(&h).await == 0 }).await;
    let apns = ApnsStandIn::start_on(port, &key, BUNDLE).await.unwrap();
    wait_until("the call missed", || async {
        let (_, b) = h.get(&format!("/api/v1/calls/{call_id}"), &p.bob).await;
        b["status"] == "missed"
    })
    .await;
    h.engine.shutdown().await;
    assert!(apns.requests().is_empty(), "{:?}", apns.requests());
}

#[tokio::test]
async fn provider_429_and_503_are_retried() {
    let key = ApnsKey::generate();
    let apns = ApnsStandIn::start(&key, BUNDLE).await.unwrap();
    let fcm = FcmStandIn::start("utd-test").await.unwrap();
    let h = Harness::with_config(config(&key, &apns.url(), &fcm)).await;
    let p = parties(&h).await;
    register(&h, &p.alice, "apns_voip", &apns_token(1), Some("ios-1")).await;
    register(&h, &p.alice, "fcm", &fcm_token("a1"), Some("android-1")).await;
    apns.fail_next(1, 429, "TooManyRequests");
    apns.fail_next(2, 503, "ServiceUnavailable");
    fcm.fail_next(1, 429, "QUOTA_EXCEEDED");
    fcm.fail_next(1, 503, "UNAVAILABLE");

    call(&h, &p.bob, "alice").await;
    apns.wait_for_pushes(1, WAIT).await.unwrap();
    fcm.wait_for_messages(1, WAIT).await.unwrap();
    let statuses: Vec<u16> = apns.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 503, 503, 200]);
    wait_until("an empty outbox", || async { outbox_len(&h).await == 0 }).await;
    h.engine.shutdown().await;
}

/// The restart tests: a file database and a fixed port; APNs is down while
/// the first engine runs.
async fn down_then_restart(
    ring: Duration,
) -> (tempfile::TempDir, EngineConfig, ApnsKey, u16, Value) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("engine.sqlite3");
    let key = ApnsKey::generate();
    let port = dead_port();
    let mut config = EngineConfig::for_tests();
    config.push.apns = Some(apns_config(&key, &format!("http://127.0.0.1:{port}")));
    config.database = DatabaseLocation::File(db.clone());
    config.bind = free_addr();
    config.ring_timeout = ring;
    let h = Harness::with_config(config.clone()).await;
    let p = parties(&h).await;
    register(&h, &p.alice, "apns_voip", &apns_token(1), Some("ios-1")).await;
    let created = call(&h, &p.bob, "alice").await;
    wait_for_attempts(&db, 1).await;
    h.engine.shutdown().await;
    assert_eq!(
        stored_outbox_len(&db).await,
        1,
        "still queued after shutdown"
    );
    (dir, config, key, port, created)
}

#[tokio::test]
async fn a_push_pending_at_shutdown_is_sent_after_restart_while_still_ringing() {
    let (_dir, config, key, port, created) = down_then_restart(Duration::from_secs(60)).await;
    let apns = ApnsStandIn::start_on(port, &key, BUNDLE).await.unwrap();
    let h = Harness::with_config(config).await;
    let push = apns.wait_for_pushes(1, WAIT).await.unwrap().remove(0);
    assert_eq!(push.payload["call_id"], created["call_id"]);
    assert_eq!(
        push.payload["ring_expires_at_ms"],
        json!(created_at(&created) + 60_000)
    );
    wait_until("an empty outbox", || async { outbox_len(&h).await == 0 }).await;
    h.engine.shutdown().await;
}

#[tokio::test]
async fn a_push_whose_deadline_passed_while_down_is_dropped() {
    // Long enough that the first engine is still retrying when it stops.
    let ring = Duration::from_secs(6);
    let (_dir, config, key, port, created) = down_then_restart(ring).await;
    // The engine stays down past the ring deadline.
    let deadline = created_at(&created) + ring.as_millis() as u64;
    let now = now_ms();
    tokio::time::sleep(Duration::from_millis(deadline.saturating_sub(now) + 50)).await;
    let apns = ApnsStandIn::start_on(port, &key, BUNDLE).await.unwrap();
    let h = Harness::with_config(config).await;
    wait_until("the push dropped", || async { outbox_len(&h).await == 0 }).await;
    h.engine.shutdown().await;
    assert!(apns.requests().is_empty(), "{:?}", apns.requests());
}

#[tokio::test]
async fn a_push_still_queued_when_the_call_is_cancelled_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("engine.sqlite3");
    let key = ApnsKey::generate();
    let fcm = FcmStandIn::start("utd-test").await.unwrap();
    let port = dead_port();
    let mut config = config(&key, &format!("http://127.0.0.1:{port}"), &fcm);
    config.database = DatabaseLocation::File(db.clone());
    let h = Harness::with_config(config).await;
    let p = parties(&h).await;
    register(&h, &p.alice, "apns_voip", &apns_token(1), Some("ios-1")).await;
    let created = call(&h, &p.bob, "alice").await;
    wait_for_attempts(&db, 1).await;
    let (s, _) = act(&h, &p.bob, &id(&created), "cancel").await;
    assert_eq!(s, 200);
    assert_eq!(outbox_len(&h).await, 0);
    let apns = ApnsStandIn::start_on(port, &key, BUNDLE).await.unwrap();
    h.engine.shutdown().await;
    assert!(apns.requests().is_empty(), "{:?}", apns.requests());
    assert!(fcm.messages().is_empty());
}

#[tokio::test]
async fn the_end_of_the_ringing_reaches_the_rung_fcm_devices_with_its_reason() {
    let (h, p, apns, fcm, phones) = setup_rung_devices(Duration::from_secs(30)).await;
    let both = |reason: &str| {
        let mut v: Vec<(String, String)> = phones
            .iter()
            .map(|t| (t.clone(), reason.to_owned()))
            .collect();
        v.sort();
        v
    };

    // Cancelled by the caller.
    let call_id = rung(&h, &p, &apns, &fcm).await;
    let (s, _) = act(&h, &p.bob, &call_id, "cancel").await;
    assert_eq!(s, 200);
    fcm.wait_for_messages(4, WAIT).await.unwrap();
    assert_eq!(endings(&fcm, &call_id), both("cancelled"));

    // Answered on android-1: only android-2 is told.
    let call_id = rung(&h, &p, &apns, &fcm).await;
    let on_android = session(&h, &p.app, "alice", Some("android-1"), None).await;
    let (s, b) = act(&h, &on_android, &call_id, "accept").await;
    assert_eq!(s, 200, "{b}");
    fcm.wait_for_messages(7, WAIT).await.unwrap();
    assert_eq!(
        endings(&fcm, &call_id),
        [(phones[1].clone(), "answered_elsewhere".to_owned())]
    );
    // Hanging up later sends nothing more.
    let (s, _) = act(&h, &p.bob, &call_id, "end").await;
    assert_eq!(s, 200);

    // Declined (from the iPhone), then busy.
    for (action, n) in [("reject", 11), ("busy", 15)] {
        let call_id = rung(&h, &p, &apns, &fcm).await;
        let (s, _) = act(&h, &p.alice, &call_id, action).await;
        assert_eq!(s, 200);
        fcm.wait_for_messages(n, WAIT).await.unwrap();
        assert_eq!(endings(&fcm, &call_id), both("declined_elsewhere"));
    }
    wait_until("an empty outbox", || async { outbox_len(&h).await == 0 }).await;
    assert_eq!(fcm.messages().len(), 15);
    // APNs never gets call_ended.
    assert!(apns.pushes().iter().all(|p| p.payload["type"] == "call"));
    assert_eq!(apns.pushes().len(), 4);
    h.engine.shutdown().await;
}

#[tokio::test]
async fn a_missed_call_ends_the_ringing_on_the_rung_fcm_devices() {
    let (h, p, apns, fcm, phones) = setup_rung_devices(Duration::from_secs(3)).await;
    let call_id = rung(&h, &p, &apns, &fcm).await;
    fcm.wait_for_messages(4, WAIT).await.unwrap();
    let mut want: Vec<(String, String)> = phones
        .iter()
        .map(|t| (t.clone(), "missed".to_owned()))
        .collect();
    want.sort();
    assert_eq!(endings(&fcm, &call_id), want);
    let (_, b) = h.get(&format!("/api/v1/calls/{call_id}"), &p.bob).await;
    assert_eq!(b["status"], "missed");
    h.engine.shutdown().await;
}

#[tokio::test]
async fn without_credentials_nothing_is_sent_and_calls_work_as_before() {
    let key = ApnsKey::generate();
    let apns = ApnsStandIn::start(&key, BUNDLE).await.unwrap();
    let fcm = FcmStandIn::start("utd-test").await.unwrap();
    let h = Harness::start().await;
    let p = parties(&h).await;
    register(&h, &p.alice, "apns_voip", &apns_token(1), Some("ios-1")).await;
    register(&h, &p.alice, "fcm", &fcm_token("a1"), Some("android-1")).await;
    let created = call(&h, &p.bob, "alice").await;
    assert_eq!(outbox_len(&h).await, 0);
    let (s, b) = act(&h, &p.alice, &id(&created), "accept").await;
    assert_eq!((s, b["status"].as_str()), (200, Some("active")));
    let (s, _) = act(&h, &p.bob, &id(&created), "end").await;
    assert_eq!(s, 200);
    assert_eq!(outbox_len(&h).await, 0);
    assert_eq!(h.counts().await["push_deliveries"], 0);
    h.engine.shutdown().await;
    assert!(apns.requests().is_empty());
    assert!(fcm.messages().is_empty());
    assert_eq!(fcm.token_grants(), 0);
}

#[tokio::test]
async fn only_the_configured_service_is_used() {
    let key = ApnsKey::generate();
    let apns = ApnsStandIn::start(&key, BUNDLE).await.unwrap();
    let fcm = FcmStandIn::start("utd-test").await.unwrap();
    let mut config = EngineConfig::for_tests();
    config.push.fcm = Some(fcm_config(&fcm));
    let h = Harness::with_config(config).await;
    let p = parties(&h).await;
    register(&h, &p.alice, "apns_voip", &apns_token(1), Some("ios-1")).await;
    register(&h, &p.alice, "fcm", &fcm_token("a1"), Some("android-1")).await;
    call(&h, &p.bob, "alice").await;
    fcm.wait_for_messages(1, WAIT).await.unwrap();
    wait_until("an empty outbox", || async { outbox_len(&h).await == 0 }).await;
    h.engine.shutdown().await;
    assert!(apns.requests().is_empty());
}

#[tokio::test]
async fn the_provider_token_and_the_access_token_are_reused_across_pushes() {
    let key = ApnsKey::generate();
    let apns = ApnsStandIn::start(&key, BUNDLE).await.unwrap();
    let fcm = FcmStandIn::start("utd-test").await.unwrap();
    let h = Harness::with_config(config(&key, &apns.url(), &fcm)).await;
    let p = parties(&h).await;
    for n in 0..3u8 {
        register(
            &h,
            &p.alice,
            "apns_voip",
            &apns_token(n),
            Some(&format!("ios-{n}")),
        )
        .await;
        register(
            &h,
            &p.alice,
            "fcm",
            &fcm_token(&n.to_string()),
            Some(&format!("a-{n}")),
        )
        .await;
    }
    for _ in 0..4 {
        call(&h, &p.bob, "alice").await;
    }
    apns.wait_for_pushes(12, WAIT).await.unwrap();
    fcm.wait_for_messages(12, WAIT).await.unwrap();
    assert_eq!(apns.provider_tokens_seen(), 1);
    assert_eq!(fcm.token_grants(), 1);
    h.engine.shutdown().await;
}

#[tokio::test]
async fn a_new_token_of_a_device_replaces_its_old_one() {
    let key = ApnsKey::generate();
    let apns = ApnsStandIn::start(&key, BUNDLE).await.unwrap();
    let fcm = FcmStandIn::start("utd-test").await.unwrap();
    let h = Harness::with_config(config(&key, &apns.url(), &fcm)).await;
    let p = parties(&h).await;
    register(&h, &p.alice, "fcm", &fcm_token("old"), Some("android-1")).await;
    register(&h, &p.alice, "apns_voip", &apns_token(1), Some("android-1")).await;
    register(&h, &p.alice, "fcm", &fcm_token("new"), Some("android-1")).await;
    assert_eq!(token_count(&h).await, 2, "other platforms stay");
    call(&h, &p.bob, "alice").await;
    let msg = fcm.wait_for_messages(1, WAIT).await.unwrap().remove(0);
    assert_eq!(msg.device_token, fcm_token("new"));
    wait_until("an empty outbox", || async { outbox_len(&h).await == 0 }).await;
    assert_eq!(fcm.messages().len(), 1);
    h.engine.shutdown().await;
}

#[tokio::test]
async fn start_fails_clearly_on_a_malformed_key_or_service_account() {
    let mut config = EngineConfig::for_tests();
    config.push.apns = Some(ApnsConfig::new("not a key", "KEYID", "TEAM", BUNDLE));
    let e = format!("{:#}", utd_engine::start(config).await.err().unwrap());
    assert!(e.contains("APNs key"), "{e}");
    let e = utd_engine::FcmConfig::from_service_account_json(r#"{"type":"service_account"}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("project_id"), "{e}");
}

#[tokio::test]
async fn a_refused_credential_is_refreshed_once_and_the_push_retried() {
    let key = ApnsKey::generate();
    let apns = ApnsStandIn::start(&key, BUNDLE).await.unwrap();
    let fcm = FcmStandIn::start("utd-test").await.unwrap();
    let h = Harness::with_config(config(&key, &apns.url(), &fcm)).await;
    let p = parties(&h).await;
    register(&h, &p.alice, "apns_voip", &apns_token(1), Some("ios-1")).await;
    register(&h, &p.alice, "fcm", &fcm_token("a1"), Some("android-1")).await;

    call(&h, &p.bob, "alice").await;
    apns.wait_for_pushes(1, WAIT).await.unwrap();
    fcm.wait_for_messages(1, WAIT).await.unwrap();
    wait_until("an empty outbox", || async { outbox_len(&h).await == 0 }).await;
    assert_eq!(fcm.token_grants(), 1);

    // Apple says the provider token expired; Google that the access token did.
    apns.fail_next(1, 403, "ExpiredProviderToken");
    fcm.expire_access_tokens();
    call(&h, &p.bob, "alice").await;
    apns.wait_for_pushes(2, WAIT).await.unwrap();
    fcm.wait_for_messages(2, WAIT).await.unwrap();
    let statuses: Vec<u16> = apns.requests().iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [200, 403, 200],
        "retried at once, in the same attempt"
    );
    assert_eq!(fcm.token_grants(), 2, "a new access token after the 401");
    wait_until("an empty outbox", || async { outbox_len(&h).await == 0 }).await;
    h.engine.shutdown().await;
}

/// Whether some outbox row of `db` is leased (claimed by a dispatcher).
async fn leased(db: &std::path::Path) -> bool {
    common::db_i64(
        db,
        "SELECT COUNT(*) FROM push_outbox WHERE lease_owner IS NOT NULL",
    )
    .await
        > 0
}

#[test]
fn a_push_claimed_by_an_engine_killed_mid_attempt_is_sent_by_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("engine.sqlite3");
    let key = ApnsKey::generate();
    // The first engine lives on its own runtime, dropped mid-attempt: its
    // tasks vanish without releasing their leases, as in a SIGKILL.
    let first = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (config, port, created) = first.block_on(async {
        // APNs accepts the connection and never answers.
        let hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = hole.local_addr().unwrap().port();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = hole.accept().await {
                held.push(socket);
            }
        });
        let mut config = EngineConfig::for_tests();
        config.push.apns = Some(apns_config(&key, &format!("http://127.0.0.1:{port}")));
        config.database = DatabaseLocation::File(db.clone());
        config.bind = free_addr();
        let h = Harness::with_config(config.clone()).await;
        let p = parties(&h).await;
        register(&h, &p.alice, "apns_voip", &apns_token(1), Some("ios-1")).await;
        let created = call(&h, &p.bob, "alice").await;
        wait_until("the push claimed", || async { leased(&db).await }).await;
        (config, port, created)
    });
    first.shutdown_timeout(Duration::from_secs(1));

    let second = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    second.block_on(async {
        assert!(
            leased(&db).await,
            "the dead engine's lease is still on the row"
        );
        let apns = ApnsStandIn::start_on(port, &key, BUNDLE).await.unwrap();
        let h = Harness::with_config(config).await;
        let push = apns.wait_for_pushes(1, WAIT).await.unwrap().remove(0);
        assert_eq!(push.payload["call_id"], created["call_id"]);
        // Still inside the 30 s ring.
        assert!(push.received_at_ms < created_at(&created) + 30_000);
        h.engine.shutdown().await;
    });
}
