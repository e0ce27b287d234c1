//! Test support: starts the real livekit-server (and, in `utd-stack`, the
//! engine) on free loopback ports and stops them when the test ends.
//!
//! ```no_run
//! let server = utd_testkit::LiveKitServer::start()?;
//! println!("LiveKit at {}", server.ws_url());
//! // dropped here: the process is killed and reaped
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod balancer;
pub mod database;
pub mod livekit;
pub mod ports;
pub mod push;
pub mod s3;
pub mod services;
pub mod signals;
pub mod test_engine;
pub mod wired;

pub use livekit::{livekit_server_binary, LiveKitServer, LiveKitServerBuilder};
pub use push::{ApnsKey, ApnsStandIn, FcmStandIn};
pub use wired::WiredLiveKit;

/// Blocks until SIGTERM or SIGINT (the launcher binaries serve until then).
pub fn wait_for_stop_signal() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        Ok(())
    })
}
