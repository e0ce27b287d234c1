//! The engine with push credentials pointed at the APNs and FCM stand-ins,
//! plus livekit-server: the stack of the wake-from-killed tests.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use utd_engine::admin_client::AppCredentials;
use utd_engine::config::{ApnsConfig, FcmConfig};
use utd_stream::calls::{UTDCallControllerEvent, UTDCallControllerListener, UTDCallsConfig};
use utd_stream::push::{UTDPushPlatform, UTDPushToken};
use utd_testkit::push::{ApnsKey, ApnsStandIn, FcmStandIn};

use super::media::MediaStack;
use super::Engine;

/// The app's bundle id (VoIP topic `<bundle>.voip`).
pub const BUNDLE_ID: &str = "dev.utdstream.e2e";

/// livekit-server, the engine and both push stand-ins.
pub struct PushStack {
    /// Engine + LiveKit.
    pub media: MediaStack,
    /// Apple's stand-in.
    pub apns: ApnsStandIn,
    /// Google's stand-in.
    pub fcm: FcmStandIn,
}

impl PushStack {
    /// Starts everything; `adjust` edits the engine's configuration.
    pub async fn start_with(adjust: impl FnOnce(&mut utd_engine::EngineConfig)) -> PushStack {
        let key = ApnsKey::generate();
        let apns = ApnsStandIn::start(&key, BUNDLE_ID)
            .await
            .expect("APNs stand-in starts");
        let fcm = FcmStandIn::start("utd-e2e")
            .await
            .expect("FCM stand-in starts");
        let apns_config = ApnsConfig::new(
            key.p8_pem.clone(),
            key.key_id.clone(),
            key.team_id.clone(),
            BUNDLE_ID,
        )
        .with_endpoint(apns.url());
        let fcm_config = FcmConfig::from_service_account_json(&fcm.service_account_json())
            .expect("service account parses")
            .with_endpoint(fcm.url());
        let media = MediaStack::start_with(|config| {
            config.push.apns = Some(apns_config);
            config.push.fcm = Some(fcm_config);
            adjust(config);
        })
        .await;
        PushStack { media, apns, fcm }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.media.engine
    }
}

/// A VoIP token (APNs tokens are hex).
pub fn voip_token(n: u32) -> UTDPushToken {
    UTDPushToken {
        platform: UTDPushPlatform::ApnsVoip,
        token: format!("{n:064x}"),
    }
}

/// An FCM registration token.
pub fn fcm_token(n: u32) -> UTDPushToken {
    UTDPushToken {
        platform: UTDPushPlatform::Fcm,
        token: format!("fcm:{n:08}:APA91b-e2e-registration-token"),
    }
}

/// The calls-kit configuration of `user` on device `device`.
pub fn calls_config(
    engine: &Engine,
    app: &AppCredentials,
    user: &str,
    device: &str,
    push_tokens: Vec<UTDPushToken>,
    state_directory: Option<&Path>,
) -> UTDCallsConfig {
    UTDCallsConfig {
        app_id: app.app_id.clone(),
        app_key: app.app_key.clone(),
        base_url: engine.url(),
        token_base_url: None,
        user_id: user.to_owned(),
        user_name: Some(format!("{user} (e2e)")),
        device_id: Some(device.to_owned()),
        push_tokens,
        state_directory: state_directory.map(|d| d.display().to_string()),
    }
}

/// Collects a controller's events.
#[derive(Default)]
pub struct Events(Mutex<Vec<UTDCallControllerEvent>>);

impl UTDCallControllerListener for Events {
    fn on_event(&self, event: UTDCallControllerEvent) {
        self.0.lock().unwrap().push(event);
    }
}

impl Events {
    /// Everything so far.
    pub fn all(&self) -> Vec<UTDCallControllerEvent> {
        self.0.lock().unwrap().clone()
    }

    /// How many `incomingCall` events named `call_id`.
    pub fn incoming(&self, call_id: &str) -> usize {
        self.all()
            .iter()
            .filter(|e| matches!(e, UTDCallControllerEvent::IncomingCall { call } if call.call_id == call_id))
            .count()
    }

    /// The reasons of `callEnded` events naming `call_id`.
    pub fn ended(&self, call_id: &str) -> Vec<utd_stream::types::UTDCallEndReason> {
        self.all()
            .into_iter()
            .filter_map(|e| match e {
                UTDCallControllerEvent::CallEnded {
                    call_id: Some(id),
                    reason,
                } if id == call_id => Some(reason),
                _ => None,
            })
            .collect()
    }

    /// Waits until `probe` holds of the events.
    pub async fn wait(&self, what: &str, probe: impl Fn(&[UTDCallControllerEvent]) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let all = self.all();
            if probe(&all) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; events: {all:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Collects events of `controller` from now on.
pub fn record(
    controller: &utd_stream::calls::UTDCallController,
) -> (Arc<Events>, Arc<utd_stream::UTDSubscription>) {
    let events = Arc::new(Events::default());
    let subscription = controller.observe_events(events.clone());
    (events, subscription)
}
