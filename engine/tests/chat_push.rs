//! Message notifications to offline members (chat-api.md "Pushes to
//! offline members"): an APNs alert and an FCM notification through the
//! push outbox, against the loopback stand-ins of utd-testkit (which check
//! requests as Apple and Google do); none for members with an open
//! connection, and none once the message was read.

mod common;

use std::time::Duration;

use common::chat::*;
use common::push::*;
use common::{connected, Harness};
use serde_json::json;
use utd_engine::EngineConfig;
use utd_testkit::push::{ApnsKey, ApnsStandIn, FcmStandIn};

#[tokio::test]
async fn an_offline_member_gets_an_apns_alert_and_an_fcm_notification_collapsed_per_conversation() {
    let key = ApnsKey::generate();
    let apns = ApnsStandIn::start(&key, BUNDLE).await.unwrap();
    let fcm = FcmStandIn::start("utd-test").await.unwrap();
    let h = Harness::with_config(config(&key, &apns.url(), &fcm)).await;
    let app = chat_app(&h).await;
    let alice = h.token_for(&app, "alice").await;
    let bob = h.token_for(&app, "bob").await;
    let ios = apns_token(1);
    let android = fcm_token("bob");
    register(&h, &bob, "apns", &ios, Some("iphone")).await;
    register(&h, &bob, "fcm", &android, Some("pixel")).await;
    // A VoIP token never gets a chat alert (iOS would want a call reported).
    register(&h, &bob, "apns_voip", &apns_token(2), Some("iphone")).await;
    // The sender's own devices get nothing.
    register(&h, &alice, "fcm", &fcm_token("alice"), Some("alice-phone")).await;

    let cid = id(&direct(&h, &alice, "bob").await);
    let m = say(&h, &alice, &cid, "m1", "hello bob").await;
    let push = apns.wait_for_pushes(1, WAIT).await.unwrap().remove(0);
    assert_eq!(push.device_token, ios);
    assert_eq!(push.push_type, "alert");
    assert_eq!(push.topic, BUNDLE);
    assert_eq!(push.priority, 10);
    assert_eq!(push.collapse_id.as_deref(), Some(cid.as_str()));
    let in_a_day = (now_ms() / 1000) + 24 * 3600;
    assert!(
        push.expiration > in_a_day - 60 && push.expiration <= in_a_day,
        "{}",
        push.expiration
    );
    assert_eq!(
        push.payload,
        json!({"aps": {"alert": {"title": "alice", "body": "hello bob"}, "badge": 1,
                       "sound": "default", "thread-id": cid, "mutable-content": 1},
               "type": "chat.message", "conversation_id": cid,
               "message_id": m["message_id"], "seq": 1, "sender_identity": "alice"})
    );

    let msg = fcm.wait_for_messages(1, WAIT).await.unwrap().remove(0);
    assert_eq!(msg.device_token, android);
    assert!(msg.has_notification);
    assert_eq!(msg.notification_title.as_deref(), Some("alice"));
    assert_eq!(msg.notification_body.as_deref(), Some("hello bob"));
    assert_eq!(msg.notification_tag.as_deref(), Some(cid.as_str()));
    assert_eq!(msg.notification_count, Some(1));
    assert_eq!(msg.collapse_key.as_deref(), Some(cid.as_str()));
    assert_eq!(msg.android_priority.as_deref(), Some("HIGH"));
    let ttl: u64 = msg
        .ttl
        .as_deref()
        .unwrap()
        .trim_end_matches('s')
        .parse()
        .unwrap();
    assert!(ttl > 24 * 3600 - 60 && ttl <= 24 * 3600, "{ttl}");
    let want: Vec<(String, String)> = vec![
        ("conversation_id".into(), cid.clone()),
        (
            "message_id".into(),
            m["message_id"].as_str().unwrap().to_owned(),
        ),
        ("sender_identity".into(), "alice".into()),
        ("seq".into(), "1".into()),
        ("type".into(), "chat.message".into()),
    ];
    assert_eq!(msg.data, want.into_iter().collect());
    wait_until("an empty outbox", || async { outbox_len(&h).await == 0 }).await;

    // A group names itself and the sender; the badge counts everything.
    let gid = id(&group(&h, &alice, "Climbing", &["bob"]).await);
    say(&h, &alice, &gid, "g1", "Saturday?").await;
    let push = apns.wait_for_pushes(2, WAIT).await.unwrap().remove(1);
    assert_eq!(
        push.payload["aps"]["alert"],
        json!({"title": "Climbing", "body": "alice: Saturday?"})
    );
    assert_eq!(push.payload["aps"]["badge"], 2);
    assert_eq!(push.collapse_id.as_deref(), Some(gid.as_str()));
    fcm.wait_for_messages(2, WAIT).await.unwrap();

    // Bob comes online: the WebSocket carries it, no notification.
    let (mut wb, _) = connected(&h, &bob).await;
    say(&h, &alice, &cid, "m2", "you there?").await;
    next_of(&mut wb, "chat.message").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(outbox_len(&h).await, 0);
    assert_eq!(apns.requests().len(), 2);
    assert_eq!(fcm.messages().len(), 2);
    assert!(fcm.messages().iter().all(|m| m.device_token == android));
    h.engine.shutdown().await;
}

#[tokio::test]
async fn a_notification_whose_message_was_read_or_deleted_meanwhile_is_dropped() {
    // APNs unreachable: the notification waits in the outbox, retried.
    let key = ApnsKey::generate();
    let mut config = EngineConfig::for_tests();
    config.push.apns = Some(apns_config(
        &key,
        &format!("http://127.0.0.1:{}", dead_port()),
    ));
    let h = Harness::with_config(config).await;
    let app = chat_app(&h).await;
    let alice = h.token_for(&app, "alice").await;
    let bob = h.token_for(&app, "bob").await;
    register(&h, &bob, "apns", &apns_token(1), Some("iphone")).await;
    let cid = id(&direct(&h, &alice, "bob").await);

    say(&h, &alice, &cid, "m1", "one").await;
    assert_eq!(outbox_len(&h).await, 1);
    // Read on another device: the next attempt finds nothing to say.
    let (s, _) = h
        .post(
            &format!("{}/read", conv_path(&cid)),
            &bob,
            json!({"seq": 1}),
        )
        .await;
    assert_eq!(s, 200);
    wait_until("the read notification dropped", || async {
        outbox_len(&h).await == 0
    })
    .await;

    let m = say(&h, &alice, &cid, "m2", "two").await;
    assert_eq!(outbox_len(&h).await, 1);
    let path = format!(
        "{}/messages/{}",
        conv_path(&cid),
        m["message_id"].as_str().unwrap()
    );
    let (s, _) = delete(&h, &path, &alice).await;
    assert_eq!(s, 200);
    wait_until("the deleted notification dropped", || async {
        outbox_len(&h).await == 0
    })
    .await;
    h.engine.shutdown().await;
}
