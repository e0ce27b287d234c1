//! Demo scene 1: sessions, plan flags, presence, an engine restart under
//! connected clients, a plan gate and a ban.

use utd_engine::admin_client::AdminClient;
use utd_engine::{EngineConfig, Plan, RunningEngine};
use utd_stream::types::UTDConnectionState;
use utd_stream::UTDStreamClient;

use crate::{say, wait_until};

/// Runs the scene; returns the engine (restarted once on the same port).
pub async fn run(
    config: &EngineConfig,
    engine: RunningEngine,
) -> Result<RunningEngine, Box<dyn std::error::Error>> {
    let url = engine.base_url();
    let admin = AdminClient::new(&url, &config.admin_token);
    let app = admin.create_app("demo app", Plan::Signaling).await?;
    say(&format!(
        "created app {} on the Signaling plan (the app ships only id + key)",
        app.app_id
    ));

    let alice = UTDStreamClient::new(app.app_id.clone(), app.app_key.clone(), url.clone(), None)?;
    let bob = UTDStreamClient::new(app.app_id.clone(), app.app_key.clone(), url.clone(), None)?;
    alice
        .clone()
        .authenticate("alice".into(), Some("Alice".into()), None)
        .await?;
    bob.clone()
        .authenticate("bob".into(), Some("Bob".into()), None)
        .await?;
    let caps = alice.capabilities();
    say(&format!(
        "alice authenticated: plan={:?} signaling={:?} chat={:?} history_days={:?}",
        caps.plan,
        caps.signaling_enabled,
        caps.chat_enabled,
        caps.limits.and_then(|l| l.history_days)
    ));

    alice.clone().connect().await?;
    alice.clone().watch_presence(vec!["bob".into()]).await?;
    say("alice connected to signalling and watches bob");
    bob.clone().connect().await?;
    wait_until("alice sees bob online", || {
        alice
            .presence()
            .iter()
            .any(|p| p.identity == "bob" && p.online)
    })
    .await?;
    say("bob connected → alice sees bob online");

    admin.set_plan(&app.app_id, Plan::Pro, true).await?;
    engine.shutdown().await;
    say("engine stopped under connected clients (plan upgraded to Pro just before)");
    wait_until("alice reconnecting", || {
        matches!(
            alice.connection_state(),
            UTDConnectionState::Reconnecting { .. }
        )
    })
    .await?;
    say(&format!("alice state: {:?}", alice.connection_state()));
    let engine = utd_engine::start(config.clone()).await?;
    wait_until("alice reconnected", || {
        alice.connection_state() == UTDConnectionState::Connected
    })
    .await?;
    say(&format!(
        "engine restarted → alice reconnected by herself; chat now {:?}",
        alice.chat_enabled()
    ));

    let free_app = admin.create_app("free app", Plan::Free).await?;
    let carol = UTDStreamClient::new(
        free_app.app_id.clone(),
        free_app.app_key.clone(),
        url.clone(),
        None,
    )?;
    carol
        .clone()
        .authenticate("carol".into(), None, None)
        .await?;
    match carol.clone().connect().await {
        Err(e) if e.is_signaling_disabled() => say(&format!(
            "carol (Free plan) → isSignalingDisabled: \"{e}\" → show an upsell"
        )),
        other => return Err(format!("expected a plan gate, got {other:?}").into()),
    }

    admin.ban(&app.app_id, "bob").await?;
    wait_until("bob dropped", || {
        matches!(bob.connection_state(), UTDConnectionState::Failed { .. })
    })
    .await?;
    say(&format!(
        "bob banned → his connection state: {:?}",
        bob.connection_state()
    ));
    match bob.clone().authenticate("bob".into(), None, None).await {
        Err(e) if e.is_banned() => say("bob tries to sign in again → isBanned"),
        other => return Err(format!("expected a ban, got {other:?}").into()),
    }

    alice.clone().disconnect().await;
    Ok(engine)
}
