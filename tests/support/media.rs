//! A real livekit-server wired to a real engine (webhooks included), for the
//! room-session tests.

use utd_engine::admin_client::AppCredentials;
use utd_testkit::{LiveKitServer, WiredLiveKit};

use super::{plan_named, Engine};

/// livekit-server + engine. Drop order: engine first, then LiveKit.
pub struct MediaStack {
    /// The engine (SQLite file, loopback port).
    pub engine: Engine,
    /// The media server. Started on the test's thread, which outlives it.
    pub livekit: LiveKitServer,
}

impl MediaStack {
    /// Starts LiveKit (posting webhooks to the engine's port) and the engine.
    pub async fn start() -> MediaStack {
        Self::start_with(|_| {}).await
    }

    /// Same, after `adjust` edits the engine's configuration.
    pub async fn start_with(adjust: impl FnOnce(&mut utd_engine::EngineConfig)) -> MediaStack {
        let wired = WiredLiveKit::start().expect("livekit-server starts");
        let engine = Engine::start_with(|config| {
            wired.configure(config);
            adjust(config);
        })
        .await;
        MediaStack {
            engine,
            livekit: wired.server,
        }
    }

    /// An app on a plan with signalling (seats and the stage need it).
    pub async fn app(&self) -> AppCredentials {
        self.engine
            .admin()
            .create_app("rooms", plan_named("signaling"))
            .await
            .expect("create app")
    }
}
