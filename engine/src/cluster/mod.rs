//! The engine past one process: several nodes share one PostgreSQL database
//! and one Redis (docs/architecture.md, "Several nodes").
//!
//! The database holds everything durable, as with SQLite. Redis carries what
//! crosses nodes: the fan-out of signal messages ([`bus`]), who is online
//! ([`presence`]), the rate-limit buckets ([`limits`]) and chat's typers
//! ([`typing`]). With no cluster
//! configured none of this exists and the hub delivers in process.

pub(crate) mod bus;
pub(crate) mod limits;
pub(crate) mod nodes;
pub(crate) mod presence;
pub(crate) mod typing;

use std::sync::Arc;

use anyhow::Context as _;
use redis::PushInfo;
use tokio::sync::mpsc;

use crate::config::ClusterConfig;
use crate::metrics::Metrics;
use crate::state::AppState;
use bus::{Envelope, RedisBus};
use presence::{Change, SharedPresence};

/// This node's link to the others.
pub(crate) struct ClusterLink {
    /// Pub/sub between nodes.
    pub bus: Arc<RedisBus>,
    /// Shared presence.
    pub presence: Arc<SharedPresence>,
    /// Shared rate limits.
    pub limiter: limits::SharedLimiter,
    /// Shared chat typers.
    pub typing: Arc<typing::SharedTyping>,
    /// This node's hold on its id.
    pub node: Arc<nodes::NodeId>,
}

/// What [`connect`] hands to [`spawn`] once the engine's state exists.
pub(crate) struct Receivers {
    pushes: mpsc::UnboundedReceiver<PushInfo>,
    changes: mpsc::UnboundedReceiver<Change>,
}

/// Connects to the cluster's Redis (fails the start when it cannot).
pub(crate) async fn connect(
    config: &ClusterConfig,
    metrics: Arc<Metrics>,
) -> anyhow::Result<(ClusterLink, Receivers)> {
    // Messages published by Redis scripts carry the empty origin, which
    // must not be mistaken for this node's own.
    anyhow::ensure!(!config.node_id.is_empty(), "the node id must not be empty");
    let (bus, pushes) = RedisBus::connect(config.redis.expose(), config.node_id.clone(), metrics)
        .await
        .context("cannot connect to Redis")?;
    let node = Arc::new(nodes::NodeId::take(bus.clone(), config.presence_ttl).await?);
    let (presence, changes) = SharedPresence::new(bus.clone(), config.presence_ttl);
    let limiter = limits::SharedLimiter::new(bus.clone());
    let typing = Arc::new(typing::SharedTyping::new(bus.clone()));
    Ok((
        ClusterLink {
            bus,
            presence,
            limiter,
            typing,
            node,
        },
        Receivers { pushes, changes },
    ))
}

/// Starts delivering what other nodes publish, and the presence task.
pub(crate) fn spawn(state: &AppState, receivers: Receivers) {
    let Some(link) = state.hub.cluster() else {
        return;
    };
    tokio::spawn(presence::run(
        state.clone(),
        link.presence.clone(),
        receivers.changes,
    ));
    tokio::spawn(typing::run(state.clone(), link.typing.clone()));
    tokio::spawn(nodes::run(state.clone(), link.node.clone()));
    tokio::spawn(deliver_incoming(state.clone(), receivers.pushes));
}

async fn deliver_incoming(state: AppState, mut pushes: mpsc::UnboundedReceiver<PushInfo>) {
    let Some(link) = state.hub.cluster() else {
        return;
    };
    let node = link.bus.node_id().to_owned();
    loop {
        let push = tokio::select! {
            _ = state.shutdown.cancelled() => return,
            push = pushes.recv() => match push {
                Some(push) => push,
                None => return,
            },
        };
        if push.kind == redis::PushKind::Disconnection {
            // Whatever was published meanwhile is lost for this node's
            // sockets: their clients reconnect (to any node) and catch up
            // from the database, as after a restart.
            tracing::warn!("lost Redis: closing this node's signal sockets (1012)");
            state.metrics.count("cluster_disconnects", &[], 1);
            state.hub.close_all(1012, "try_again");
            link.bus.reconnect();
            continue;
        }
        let Some(Envelope { origin, event }) = bus::decode(&push) else {
            continue;
        };
        if origin == node {
            continue;
        }
        state.metrics.count("cluster_received", &[], 1);
        if let bus::Event::ForgetSessions(wire) = &event {
            if let Some(what) = wire.parse() {
                state.sessions.forget_here(&what);
            }
            continue;
        }
        state.hub.deliver(event);
    }
}

/// For each identity, whether it has a socket on any node.
pub(crate) async fn online_flags(
    state: &AppState,
    app_id: &str,
    identities: &[String],
) -> Vec<bool> {
    let local: Vec<bool> = identities
        .iter()
        .map(|i| state.hub.is_online(app_id, i))
        .collect();
    let Some(link) = state.hub.cluster() else {
        return local;
    };
    match link.presence.online(app_id, identities).await {
        Ok(shared) => local.iter().zip(shared).map(|(l, s)| *l || s).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "presence lookup failed");
            local
        }
    }
}
