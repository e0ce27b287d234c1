//! Demo scene 3: a 1:1 call to a user signed in on two devices: both ring,
//! one answers, the other is told and stops; then a call nobody answers.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use utd_engine::admin_client::AdminClient;
use utd_engine::{EngineConfig, Plan, RunningEngine};
use utd_stream::session::exported::UTDCallInvitationListener;
use utd_stream::types::{UTDCall, UTDCallStatus, UTDStreamType};
use utd_stream::UTDStreamClient;

use crate::{say, wait_until, DemoResult};

/// Remembers the last invitation a device got.
#[derive(Default)]
struct Ringer(Mutex<Option<UTDCall>>);

impl UTDCallInvitationListener for Ringer {
    fn on_invitation(&self, call: UTDCall) {
        if let Ok(mut last) = self.0.lock() {
            *last = Some(call);
        }
    }
}

impl Ringer {
    fn rang_for(&self, call_id: &str) -> bool {
        self.0
            .lock()
            .map(|last| last.as_ref().is_some_and(|c| c.call_id == call_id))
            .unwrap_or(false)
    }
}

/// Runs the scene against the running engine (and its livekit-server).
pub async fn run(config: &EngineConfig, engine: &RunningEngine) -> DemoResult {
    let url = engine.base_url();
    let admin = AdminClient::new(&url, &config.admin_token);
    let app = admin.create_app("calls app", Plan::Signaling).await?;
    let signed_in = |identity: &'static str, device: &'static str| {
        let (app_id, app_key, url) = (app.app_id.clone(), app.app_key.clone(), url.clone());
        async move {
            let client = UTDStreamClient::new(app_id, app_key, url, None)?;
            client
                .clone()
                .authenticate(
                    identity.into(),
                    Some(identity.to_uppercase()),
                    Some(device.into()),
                )
                .await?;
            client.clone().connect().await?;
            let ringer = Arc::new(Ringer::default());
            let subscription = client.observe_call_invitations(ringer.clone());
            Ok::<_, Box<dyn std::error::Error>>((client, ringer, subscription))
        }
    };
    let (kim, _, _kim_sub) = signed_in("kim", "kim-phone").await?;
    let (phone, phone_rings, _phone_sub) = signed_in("lee", "lee-phone").await?;
    let (tablet, tablet_rings, _tablet_sub) = signed_in("lee", "lee-tablet").await?;

    let caller = kim.call_session(UTDStreamType::VideoCall)?;
    let started = Instant::now();
    let call = caller
        .clone()
        .start(
            "lee".into(),
            Some("Lee".into()),
            Some(r#"{"topic":"demo"}"#.into()),
        )
        .await?;
    wait_until("both of lee's devices ring", || {
        phone_rings.rang_for(&call.call_id) && tablet_rings.rang_for(&call.call_id)
    })
    .await?;
    say(&format!(
        "kim video-calls lee → the invitation reaches lee's phone and tablet in {:.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    ));
    let on_phone = phone.call_session(UTDStreamType::VideoCall)?;
    let on_tablet = tablet.call_session(UTDStreamType::VideoCall)?;
    on_phone.clone().ringing(call.call_id.clone()).await?;
    on_tablet.clone().ringing(call.call_id.clone()).await?;
    on_phone.clone().accept(call.call_id.clone()).await?;
    wait_until("the tablet stops ringing", || {
        on_tablet.status() == Some(UTDCallStatus::AnsweredElsewhere)
    })
    .await?;
    wait_until("kim sees the answer", || {
        caller.status() == Some(UTDCallStatus::Active)
    })
    .await?;
    say(&format!(
        "lee answers on the phone → kim: {}, phone: {}, tablet: {} (stops ringing)",
        shown(caller.status()),
        shown(on_phone.status()),
        shown(on_tablet.status())
    ));
    match on_tablet.clone().accept(call.call_id.clone()).await {
        Err(e) => say(&format!("the tablet tries to answer too → {e}")),
        Ok(_) => return Err("the tablet answered a call answered elsewhere".into()),
    }
    caller.clone().end().await?;
    wait_until("the phone hears the hang-up", || {
        on_phone.status() == Some(UTDCallStatus::Ended)
    })
    .await?;
    say(&format!(
        "kim hangs up → phone: {} (end reason {})",
        shown(on_phone.status()),
        on_phone
            .call()
            .and_then(|c| c.end_reason)
            .map_or_else(|| "none".to_owned(), |r| format!("{r:?}"))
    ));

    let unanswered = kim.call_session(UTDStreamType::AudioCall)?;
    let call = unanswered.clone().start("lee".into(), None, None).await?;
    let waited = Instant::now();
    wait_until("the engine's ring timeout", || {
        unanswered.status() == Some(UTDCallStatus::Missed)
    })
    .await?;
    say(&format!(
        "a call nobody answers becomes {} after {:.1} s (engine ring timeout); call {}",
        shown(unanswered.status()),
        waited.elapsed().as_secs_f64(),
        call.call_id
    ));
    for session in [caller, on_phone, on_tablet, unanswered] {
        session.dispose().await;
    }
    Ok(())
}

fn shown(status: Option<UTDCallStatus>) -> String {
    status.map_or_else(|| "none".to_owned(), |s| s.wire_value())
}
