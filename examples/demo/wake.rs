//! Demo scene 5: a call that wakes a killed phone. The callee's phone
//! registered a VoIP token and its app was killed; the engine pushes the
//! call to the APNs stand-in; a new controller built from the payload alone
//! shows it, reconciles, takes the answer tapped before it was ready and
//! joins the call.

use utd_engine::admin_client::AdminClient;
use utd_engine::{EngineConfig, Plan, RunningEngine};
use utd_stream::calls::{UTDAcceptOutcome, UTDCallController, UTDCallsConfig, UTDPushAction};
use utd_stream::push::{UTDPushPlatform, UTDPushToken};
use utd_stream::types::UTDStreamType;
use utd_testkit::push::ApnsStandIn;

use crate::{say, DemoResult};

fn config(
    url: &str,
    app: &utd_engine::admin_client::AppCredentials,
    user: &str,
    device: &str,
    tokens: Vec<UTDPushToken>,
) -> UTDCallsConfig {
    UTDCallsConfig {
        app_id: app.app_id.clone(),
        app_key: app.app_key.clone(),
        base_url: url.to_owned(),
        token_base_url: None,
        user_id: user.to_owned(),
        user_name: Some(user.to_owned()),
        device_id: Some(device.to_owned()),
        push_tokens: tokens,
        state_directory: None,
    }
}

/// Runs the scene; `apns` is the stand-in the engine pushes to.
pub async fn run(config_: &EngineConfig, engine: &RunningEngine, apns: &ApnsStandIn) -> DemoResult {
    let url = engine.base_url();
    let admin = AdminClient::new(&url, &config_.admin_token);
    let app = admin.create_app("wake app", Plan::Signaling).await?;
    let token = UTDPushToken {
        platform: UTDPushPlatform::ApnsVoip,
        token: "5e".repeat(32),
    };
    let phone = UTDCallController::new(config(
        &url,
        &app,
        "nora",
        "nora-iphone",
        vec![token.clone()],
    ))?;
    phone.clone().init().await?;
    phone.dispose().await;
    say("wake: nora's iPhone registered its VoIP token, then the app was killed");

    let caller = UTDCallController::new(config(&url, &app, "omar", "omar-phone", vec![]))?;
    caller.clone().init().await?;
    let before = apns.pushes().len();
    // The phone's side starts as soon as the push is out, while the
    // caller's startCall still joins the call room.
    let starting = tokio::spawn(caller.clone().start_call(
        "nora".into(),
        Some("Nora".into()),
        UTDStreamType::AudioCall,
    ));
    let pushes = apns
        .wait_for_pushes(before + 1, std::time::Duration::from_secs(10))
        .await?;
    let push = pushes.get(before).ok_or("no push")?;
    let call_id = push.payload["call_id"]
        .as_str()
        .ok_or("no call id")?
        .to_owned();
    say(&format!(
        "wake: APNs got a {} push, topic {}, priority {}, collapse id {}",
        push.push_type,
        push.topic,
        push.priority,
        push.collapse_id.as_deref().unwrap_or("-")
    ));

    let woken = UTDCallController::new(config(&url, &app, "nora", "nora-iphone", vec![token]))?;
    match woken.handle_call_push(push.payload.to_string())? {
        UTDPushAction::ReportIncoming { call } => say(&format!(
            "wake: report to CallKit at once: {} calling, uuid {}",
            call.caller_name.as_deref().unwrap_or("?"),
            call.call_kit_uuid
        )),
        other => return Err(format!("unexpected push action {other:?}").into()),
    }
    woken.mark_reported(call_id.clone());
    say(&format!(
        "wake: reconcile → {:?}",
        woken.clone().reconcile(call_id.clone()).await?
    ));
    let accept = tokio::spawn(woken.clone().accept_incoming(call_id.clone()));
    say("wake: Accept tapped on the lock screen before the app was ready");
    woken.clone().init().await?;
    let outgoing = starting.await??;
    match accept.await?? {
        UTDAcceptOutcome::Joined { session } => say(&format!(
            "wake: joined; the caller sees {:?}, the callee {:?}",
            outgoing.status(),
            session.status()
        )),
        UTDAcceptOutcome::Over { reason } => say(&format!("wake: the call was over: {reason:?}")),
    }
    if let Some(t) = woken.call_timings(call_id.clone()) {
        let from = t.push_sent_at_ms.unwrap_or(0);
        let at = |v: Option<u64>| {
            v.map_or("-".to_owned(), |v| {
                format!("+{} ms", v.saturating_sub(from))
            })
        };
        say(&format!(
            "wake: push sent → received {} → reported {} → reconciled {} → answered {} → media {}",
            at(t.push_received_at_ms),
            at(t.reported_at_ms),
            at(t.reconciled_at_ms),
            at(t.answered_at_ms),
            at(t.media_connected_at_ms)
        ));
    }
    caller.clone().end().await?;
    woken.dispose().await;
    caller.dispose().await;
    Ok(())
}
