//! End to end through the real engine: authentication, plan capability
//! flags, presence, reconnect after an engine restart, bans, plan gates,
//! rate limits, and transport failures.

mod support;

use std::time::Duration;

use support::{client, eventually, within, Engine};
use utd_stream::types::UTDConnectionState;
use utd_stream::{UTDErrorCode, UTDStreamClient};

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authenticate_returns_a_bearer_and_the_plan_flags_of_each_plan() {
    let engine = Engine::start().await;
    let expectations = [
        ("free", Some(false), Some(false)),
        ("signaling", Some(true), Some(false)),
        ("pro", Some(true), Some(true)),
        ("enterprise", Some(true), Some(true)),
    ];
    for (plan, signaling, chat) in expectations {
        let app = engine.app(plan).await;
        let client = client(&engine, &app);
        assert_eq!(client.identity(), None);
        let token = client
            .clone()
            .authenticate("alice".into(), Some("Alice".into()), Some("phone-1".into()))
            .await
            .expect("authenticate");
        assert!(
            token.starts_with("utdst_"),
            "plan {plan}: bearer has the engine's prefix"
        );
        assert_eq!(client.identity().as_deref(), Some("alice"));
        assert_eq!(client.signaling_enabled(), signaling, "plan {plan}");
        assert_eq!(client.chat_enabled(), chat, "plan {plan}");
        let caps = client.capabilities();
        assert_eq!(caps.plan.as_deref(), Some(plan));
        assert!(caps.limits.is_some(), "plan {plan} reports limits");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_are_null_when_the_engine_does_not_report_them() {
    let engine = Engine::start().await;
    let app = engine.app("pro").await;
    engine
        .admin()
        .set_plan(&app.app_id, support::plan_named("pro"), false)
        .await
        .expect("set plan without reporting");
    let client = client(&engine, &app);
    client
        .clone()
        .authenticate("bob".into(), None, None)
        .await
        .expect("authenticate");
    assert_eq!(client.signaling_enabled(), None);
    assert_eq!(client.chat_enabled(), None);
    assert_eq!(client.plan_limits(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_user_sees_presence_come_and_go() {
    let engine = Engine::start().await;
    let app = engine.app("signaling").await;
    let alice = client(&engine, &app);
    let bob = client(&engine, &app);
    alice
        .clone()
        .authenticate("alice".into(), None, None)
        .await
        .expect("alice auth");
    bob.clone()
        .authenticate("bob".into(), None, None)
        .await
        .expect("bob auth");
    alice.clone().connect().await.expect("alice connects");
    assert_eq!(alice.connection_state(), UTDConnectionState::Connected);

    alice
        .clone()
        .watch_presence(vec!["bob".into()])
        .await
        .expect("watch");
    eventually(WAIT, "bob reported offline", || {
        alice
            .presence()
            .iter()
            .any(|p| p.identity == "bob" && !p.online)
    })
    .await;

    bob.clone().connect().await.expect("bob connects");
    eventually(WAIT, "bob seen online", || {
        alice
            .presence()
            .iter()
            .any(|p| p.identity == "bob" && p.online)
    })
    .await;

    bob.clone().disconnect().await;
    eventually(WAIT, "bob seen offline with a last-seen time", || {
        alice
            .presence()
            .iter()
            .any(|p| p.identity == "bob" && !p.online && p.last_seen_ms.is_some())
    })
    .await;

    alice
        .clone()
        .unwatch_presence(vec!["bob".into()])
        .await
        .expect("unwatch");
    assert!(alice.presence().is_empty());
    alice.clone().disconnect().await;
    assert_eq!(alice.connection_state(), UTDConnectionState::Disconnected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_reconnects_by_itself_after_an_engine_restart_with_fresh_flags() {
    let mut engine = Engine::start().await;
    let app = engine.app("signaling").await;
    let alice = client(&engine, &app);
    let bob = client(&engine, &app);
    alice
        .clone()
        .authenticate("alice".into(), None, None)
        .await
        .expect("auth");
    bob.clone()
        .authenticate("bob".into(), None, None)
        .await
        .expect("auth");
    alice.clone().connect().await.expect("connect");
    alice
        .clone()
        .watch_presence(vec!["bob".into()])
        .await
        .expect("watch");
    assert_eq!(alice.chat_enabled(), Some(false));

    // The plan changes while alice is connected; she learns it on reconnect.
    engine
        .admin()
        .set_plan(&app.app_id, support::plan_named("pro"), true)
        .await
        .expect("upgrade");
    engine.stop().await;
    eventually(WAIT, "alice notices the engine is gone", || {
        matches!(
            alice.connection_state(),
            UTDConnectionState::Reconnecting { .. }
        )
    })
    .await;

    engine.restart().await;
    eventually(WAIT, "alice reconnected by herself", || {
        alice.connection_state() == UTDConnectionState::Connected
    })
    .await;
    assert_eq!(
        alice.chat_enabled(),
        Some(true),
        "flags refreshed from the reconnect"
    );

    // The watch was replayed: bob coming online is still seen.
    bob.clone().connect().await.expect("bob connects");
    eventually(WAIT, "bob seen online after the restart", || {
        alice
            .presence()
            .iter()
            .any(|p| p.identity == "bob" && p.online)
    })
    .await;
    alice.clone().disconnect().await;
    bob.clone().disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_banned_user_is_refused_everywhere_and_a_connected_one_is_dropped() {
    let engine = Engine::start().await;
    let app = engine.app("signaling").await;
    let mallory = client(&engine, &app);
    mallory
        .clone()
        .authenticate("mallory".into(), None, None)
        .await
        .expect("auth");
    mallory.clone().connect().await.expect("connect");

    engine
        .admin()
        .ban(&app.app_id, "mallory")
        .await
        .expect("ban");
    eventually(WAIT, "connected client told it is banned", || {
        matches!(&mallory.connection_state(), UTDConnectionState::Failed { code, .. } if code == "banned")
    })
    .await;

    let err = mallory
        .clone()
        .authenticate("mallory".into(), None, None)
        .await
        .expect_err("banned user cannot mint");
    assert!(err.is_banned() && err.is_forbidden(), "{err:?}");
    assert_eq!(err.status_code(), Some(403));
    assert!(!err.is_feature_disabled());

    engine
        .admin()
        .unban(&app.app_id, "mallory")
        .await
        .expect("unban");
    mallory
        .clone()
        .authenticate("mallory".into(), None, None)
        .await
        .expect("unbanned again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_without_signalling_surfaces_the_upsell_helpers() {
    let engine = Engine::start().await;
    let app = engine.app("free").await;
    let client = client(&engine, &app);
    client
        .clone()
        .authenticate("carol".into(), None, None)
        .await
        .expect("auth works on free");
    assert_eq!(client.signaling_enabled(), Some(false));

    let err = client
        .clone()
        .connect()
        .await
        .expect_err("signalling is gated");
    assert!(err.is_feature_disabled(), "{err:?}");
    assert!(err.is_signaling_disabled() && !err.is_chat_disabled());
    assert!(err.is_forbidden() && !err.is_banned());
    assert_eq!(err.capability().as_deref(), Some("signaling"));
    assert!(matches!(
        client.connection_state(),
        UTDConnectionState::Failed { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_surface_is_rate_limited_with_a_delay() {
    let engine = Engine::start().await;
    let app = engine.app("pro").await;
    engine
        .admin()
        .set_rate_limits(&app.app_id, 3, 1000)
        .await
        .expect("limits");
    let client = client(&engine, &app);
    let mut limited = None;
    for _ in 0..10 {
        if let Err(e) = client.clone().authenticate("dave".into(), None, None).await {
            limited = Some(e);
            break;
        }
    }
    let err = limited.expect("the 4th request within a minute is limited");
    assert!(err.is_rate_limited(), "{err:?}");
    assert_eq!(err.status_code(), Some(429));
    let delay = err.retry_after_ms().expect("a retry delay");
    assert!(delay > 0 && delay <= 60_000, "delay {delay} ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_engine_is_a_network_error_not_a_hang() {
    let client = UTDStreamClient::new(
        "app".into(),
        "key".into(),
        "http://127.0.0.1:1".into(),
        None,
    )
    .expect("client");
    let err = within(WAIT, "authenticate against a closed port", async {
        client.clone().authenticate("erin".into(), None, None).await
    })
    .await
    .expect_err("nothing listens on port 1");
    assert!(err.is_network(), "{err:?}");
    assert_eq!(err.code(), UTDErrorCode::Network);

    let err = client
        .clone()
        .connect()
        .await
        .expect_err("not authenticated");
    assert_eq!(err.code(), UTDErrorCode::InvalidState);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_app_key_and_disposed_client_are_typed() {
    let engine = Engine::start().await;
    let app = engine.app("pro").await;
    let wrong = UTDStreamClient::new(app.app_id.clone(), "pk_wrong".into(), engine.url(), None)
        .expect("client");
    let err = wrong
        .clone()
        .authenticate("frank".into(), None, None)
        .await
        .expect_err("wrong key");
    assert_eq!(err.code(), UTDErrorCode::Unauthenticated);
    assert_eq!(err.status_code(), Some(401));

    let good = client(&engine, &app);
    good.dispose();
    let err = good
        .clone()
        .authenticate("frank".into(), None, None)
        .await
        .expect_err("disposed");
    assert_eq!(err.code(), UTDErrorCode::Disposed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_state_listeners_get_the_current_value_first() {
    use std::sync::{Arc, Mutex};
    use utd_stream::client::UTDConnectionStateListener;

    struct Record(Mutex<Vec<UTDConnectionState>>);
    impl UTDConnectionStateListener for Record {
        fn on_connection_state(&self, state: UTDConnectionState) {
            if let Ok(mut seen) = self.0.lock() {
                seen.push(state);
            }
        }
    }

    let engine = Engine::start().await;
    let app = engine.app("signaling").await;
    let client = client(&engine, &app);
    let record = Arc::new(Record(Mutex::new(Vec::new())));
    let subscription = client.observe_connection_state(record.clone());
    eventually(WAIT, "the current state delivered first", || {
        record
            .0
            .lock()
            .map(|s| s.first() == Some(&UTDConnectionState::Disconnected))
            .unwrap_or(false)
    })
    .await;
    client
        .clone()
        .authenticate("gina".into(), None, None)
        .await
        .expect("auth");
    client.clone().connect().await.expect("connect");
    eventually(WAIT, "connected delivered", || {
        record
            .0
            .lock()
            .map(|s| s.last() == Some(&UTDConnectionState::Connected))
            .unwrap_or(false)
    })
    .await;
    subscription.cancel();
    let seen_before = record.0.lock().map(|s| s.len()).unwrap_or(0);
    client.clone().disconnect().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        record.0.lock().map(|s| s.len()).unwrap_or(0),
        seen_before,
        "nothing after cancel"
    );
}
