//! State shared by every handler and socket task.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::EngineConfig;
use crate::db::Db;
use crate::push::Push;
use crate::ratelimit::RateLimiter;
use crate::signal::hub::Hub;

/// Everything a request handler needs.
pub(crate) struct Shared {
    pub db: Db,
    pub config: EngineConfig,
    pub limiter: RateLimiter,
    pub hub: Hub,
    /// LiveKit RoomService (permission updates).
    pub room_client: livekit_api::services::room::RoomClient,
    /// Public URL of the signal WebSocket (`ws_url` in room tokens).
    pub ws_url: String,
    /// Tracks socket tasks so shutdown can wait for their close frames.
    pub tracker: TaskTracker,
    /// Cancelled when the engine shuts down.
    pub shutdown: CancellationToken,
    /// APNs / FCM dispatch (engine-api.md §4).
    pub push: Push,
    /// Seat and stage permissions on their way to LiveKit.
    pub grants: crate::grants::Grants,
    /// Counters and latencies served on `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Sessions looked up in the last moments.
    pub sessions: crate::http::session_cache::SessionCache,
}

/// Handler state.
pub(crate) type AppState = Arc<Shared>;
