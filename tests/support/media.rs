//! A real livekit-server wired to a real engine (webhooks included), for the
//! room-session tests.

use std::net::SocketAddr;

use utd_engine::admin_client::AppCredentials;
use utd_testkit::LiveKitServer;

use super::{plan_named, Engine};

/// The engine route LiveKit posts its webhooks to (docs/engine-api.md §9).
const WEBHOOK_PATH: &str = "/api/v1/livekit/webhook";

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
        // The engine's port is chosen first so LiveKit knows where to post.
        let port = utd_testkit::ports::free_tcp_port().expect("a free port");
        let livekit = LiveKitServer::builder()
            .with_webhook(format!("http://127.0.0.1:{port}{WEBHOOK_PATH}"))
            .start()
            .expect("livekit-server starts");
        let engine = Engine::start_with(|config| {
            config.bind = SocketAddr::from(([127, 0, 0, 1], port));
            config.livekit_url = livekit.ws_url();
            config.livekit_api_key = livekit.api_key().to_owned();
            config.livekit_api_secret = livekit.api_secret().to_owned();
            adjust(config);
        })
        .await;
        MediaStack { engine, livekit }
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
