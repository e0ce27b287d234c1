//! The reference UTD-Stream Engine: REST + signal WebSocket over SQLite or
//! PostgreSQL.
//!
//! The contract is `docs/engine-api.md` (and `docs/openapi.yaml`). Start it in
//! process with [`start`] and stop it with [`RunningEngine::shutdown`], or run
//! the `utd-engine` binary.

pub mod admin_client;
pub(crate) mod chat;
pub mod cli;
pub(crate) mod cluster;
pub mod config;
pub(crate) mod db;
pub(crate) mod grants;
pub(crate) mod http;
pub(crate) mod ids;
pub(crate) mod livekit;
pub mod logging;
pub mod metrics;
pub mod plans;
pub(crate) mod push;
pub(crate) mod ratelimit;
pub(crate) mod signal;
mod state;
pub(crate) mod uploads;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::{TcpListener, TcpSocket};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use config::{
    ApnsConfig, ClusterConfig, ConnectionUrl, DatabaseLocation, EngineConfig, FcmConfig, PushConfig,
};
pub use plans::Plan;

use state::{AppState, Shared};

/// A running engine. Dropping it without [`RunningEngine::shutdown`] leaves the
/// server running until the runtime stops.
pub struct RunningEngine {
    local_addr: SocketAddr,
    state: AppState,
    server: JoinHandle<()>,
}

/// How long `start` keeps retrying a fixed port that is still held by a
/// previous engine that is shutting down.
const BIND_RETRY_FOR: Duration = Duration::from_secs(5);
/// Upper bound on a graceful shutdown before connections are dropped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

fn bind_once(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // SO_REUSEADDR lets a restarted engine take the same port while old
    // connections sit in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let deadline = tokio::time::Instant::now() + BIND_RETRY_FOR;
    loop {
        match bind_once(addr) {
            Ok(l) => return Ok(l),
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrInUse
                    && addr.port() != 0
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e).with_context(|| format!("cannot listen on {addr}")),
        }
    }
}

fn ws_url_for(config: &EngineConfig, local_addr: SocketAddr) -> String {
    let base = match &config.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => format!("http://{local_addr}"),
    };
    let base = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        base
    };
    format!("{base}/api/v1/signal")
}

/// Opens the database, binds the listener and serves until shut down.
pub async fn start(config: EngineConfig) -> anyhow::Result<RunningEngine> {
    let push = push::Push::new(&config.push).context("invalid push configuration")?;
    let location = config.database.clone();
    let db = tokio::task::spawn_blocking(move || db::Db::open(&location))
        .await
        .context("database open task failed")?
        .context("cannot open the database")?;
    let listener = bind(config.bind).await?;
    let local_addr = listener.local_addr()?;
    let room_client = livekit::room_client(
        &config.livekit_url,
        &config.livekit_api_key,
        &config.livekit_api_secret,
    );
    let metrics = Arc::new(metrics::Metrics::default());
    let cluster = match &config.cluster {
        Some(cluster) => Some(cluster::connect(cluster, metrics.clone()).await?),
        None => None,
    };
    let state: AppState = Arc::new(Shared {
        db,
        ws_url: ws_url_for(&config, local_addr),
        config,
        limiter: ratelimit::RateLimiter::default(),
        hub: signal::hub::Hub::default(),
        room_client,
        tracker: TaskTracker::new(),
        shutdown: CancellationToken::new(),
        push,
        grants: grants::Grants::default(),
        metrics,
        sessions: http::session_cache::SessionCache::default(),
    });
    if let Some((link, receivers)) = cluster {
        state.hub.join_cluster(link);
        cluster::spawn(&state, receivers);
    }
    push::prepare(&state)
        .await
        .context("cannot read the push outbox")?;
    // Calls whose ring deadline passed while no engine ran expire now; then
    // one sweeper expires every call at its deadline, whichever node made it.
    http::calls::start_ring_sweeper(&state)
        .await
        .context("cannot expire due calls")?;
    // After the first sweep: pushes of calls that expired while the engine
    // was down are dropped by then.
    push::spawn_dispatcher(&state);
    chat::spawn_sweeps(&state);
    uploads::spawn_sweeps(&state);
    // Publish permissions a stopped engine (or a dead node) left unsent.
    grants::spawn_sweep(&state);
    let app = http::router(state.clone());
    let server = tokio::spawn(http::serve::serve(
        listener,
        app,
        state.config.http_header_timeout,
        state.shutdown.clone(),
    ));
    tracing::info!(%local_addr, "engine listening");
    Ok(RunningEngine {
        local_addr,
        state,
        server,
    })
}

impl RunningEngine {
    /// `http://IP:PORT` of the REST API.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// Whether this engine is a node of a cluster (it has Redis).
    pub fn is_cluster_node(&self) -> bool {
        self.state.hub.cluster().is_some()
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The admin bearer this engine accepts.
    pub fn admin_token(&self) -> &str {
        &self.state.config.admin_token
    }

    /// URL of the signal WebSocket.
    pub fn ws_url(&self) -> String {
        self.state.ws_url.clone()
    }

    /// Number of open signal connections.
    pub fn signal_connections(&self) -> usize {
        self.state.hub.connection_count()
    }

    /// Row counts of the engine's tables (tests use it to prove that a
    /// refused request wrote nothing).
    pub async fn row_counts(&self) -> anyhow::Result<BTreeMap<String, i64>> {
        Ok(self.state.db.call(db::row_counts).await?)
    }

    /// Graceful stop: closes signal sockets with 1001, lets in-flight requests
    /// finish, and releases the port before returning.
    pub async fn shutdown(self) {
        self.state.hub.close_all(1001, "server_shutdown");
        self.state.shutdown.cancel();
        self.state.tracker.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, self.state.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("signal connections did not close in time");
        }
        let mut server = self.server;
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut server)
            .await
            .is_err()
        {
            tracing::warn!("HTTP connections did not drain in time; aborting them");
            server.abort();
            let _ = server.await;
        }
        if let Some(link) = self.state.hub.cluster() {
            link.node.release().await;
        }
        tracing::info!("engine stopped");
    }
}
