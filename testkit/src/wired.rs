//! A livekit-server wired to an engine that is not started yet: the
//! engine's port is chosen first so LiveKit knows where to post its
//! webhooks, then the engine's configuration is pointed at LiveKit.

use std::net::SocketAddr;

use anyhow::Result;
use utd_engine::EngineConfig;

use crate::ports::free_tcp_port;
use crate::LiveKitServer;

/// The engine route LiveKit posts its webhooks to (docs/engine-api.md §9).
pub const WEBHOOK_PATH: &str = "/api/v1/livekit/webhook";

/// livekit-server plus the address the engine must bind for its webhooks.
#[derive(Debug)]
pub struct WiredLiveKit {
    /// The running media server. It is tied to the thread that started it
    /// (PR_SET_PDEATHSIG): start it from a thread that outlives its use.
    pub server: LiveKitServer,
    /// Where the engine must listen (a loopback port free a moment ago).
    pub engine_bind: SocketAddr,
}

impl WiredLiveKit {
    /// Picks the engine's port and starts LiveKit posting webhooks to it.
    pub fn start() -> Result<Self> {
        let engine_bind = SocketAddr::from(([127, 0, 0, 1], free_tcp_port()?));
        let server = LiveKitServer::builder()
            .with_webhook(format!("http://{engine_bind}{WEBHOOK_PATH}"))
            .start()?;
        Ok(Self {
            server,
            engine_bind,
        })
    }

    /// Points `config` at this server: bind address, LiveKit URL and keys.
    pub fn configure(&self, config: &mut EngineConfig) {
        config.bind = self.engine_bind;
        config.livekit_url = self.server.ws_url();
        config.livekit_api_key = self.server.api_key().to_owned();
        config.livekit_api_secret = self.server.api_secret().to_owned();
    }
}
