//! Redis pub/sub between engine nodes: a channel per user, per room and per
//! watched identity, subscribed by the nodes holding such a socket, plus one
//! channel every node hears.
//!
//! Publishing and (un)subscribing are queued to one task each, so the hub can
//! call them without awaiting and their order is kept. Pub/sub is
//! at-most-once: a node that loses Redis closes its sockets with 1012 so the
//! clients reconnect and catch up from the database, as after a restart.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::PushInfo;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

/// Most messages sent to Redis in one pipeline.
const PUBLISH_BATCH: usize = 256;

/// What one node tells the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub(crate) enum Event {
    /// A message for every socket of a user.
    User {
        app: String,
        identity: String,
        text: String,
    },
    /// A message for every subscriber of a room.
    Room {
        app: String,
        room: String,
        text: String,
    },
    /// A user went online or offline (for the watchers).
    Presence {
        app: String,
        identity: String,
        online: bool,
        last_seen_ms: Option<u64>,
    },
    /// Close every socket of a user (ban).
    CloseUser {
        app: String,
        identity: String,
        code: u16,
        reason: String,
    },
    /// Close the sockets opened with one session (logout, revocation).
    CloseSession {
        app: String,
        identity: String,
        session_sha256_hex: String,
        code: u16,
        reason: String,
    },
    /// Close every socket of an app (plan change, app deleted).
    CloseApp {
        app: String,
        code: u16,
        reason: String,
    },
    /// Forget cached session lookups (logout, ban, app changes).
    ForgetSessions(crate::http::session_cache::ForgetWire),
}

impl Event {
    /// The channel this event travels on.
    pub(crate) fn channel(&self) -> String {
        match self {
            Event::User { app, identity, .. }
            | Event::CloseUser { app, identity, .. }
            | Event::CloseSession { app, identity, .. } => user_channel(app, identity),
            Event::Room { app, room, .. } => room_channel(app, room),
            Event::Presence { app, identity, .. } => presence_channel(app, identity),
            Event::CloseApp { .. } | Event::ForgetSessions(_) => ALL_CHANNEL.to_owned(),
        }
    }
}

/// An event with the node that sent it (which already delivered it to its
/// own sockets and skips it when it comes back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Envelope {
    /// Origin node id.
    pub origin: String,
    /// The event.
    #[serde(flatten)]
    pub event: Event,
}

/// The channel every node subscribes to.
pub(crate) const ALL_CHANNEL: &str = "utd:all";

// The unit separator cannot appear in app ids, identities or room names
// (all validated printable), so two keys never share a channel.
pub(crate) fn user_channel(app: &str, identity: &str) -> String {
    format!("utd:u:{app}\u{1f}{identity}")
}

pub(crate) fn room_channel(app: &str, room: &str) -> String {
    format!("utd:r:{app}\u{1f}{room}")
}

pub(crate) fn presence_channel(app: &str, identity: &str) -> String {
    format!("utd:p:{app}\u{1f}{identity}")
}

enum Subscription {
    Add(String, oneshot::Sender<()>),
    Remove(String),
    /// Reconnect (and so resubscribe) after Redis went away.
    Reconnect,
}

/// The node's Redis connections and the queues in front of them.
pub(crate) struct RedisBus {
    node_id: String,
    commands: ConnectionManager,
    publish: mpsc::UnboundedSender<(String, String)>,
    subscriptions: mpsc::UnboundedSender<Subscription>,
}

impl RedisBus {
    /// Connects (twice: commands, and a RESP3 connection for subscriptions
    /// that resubscribes by itself after a reconnect). Returns the bus and
    /// the stream of what arrives on the subscribed channels.
    pub(crate) async fn connect(
        url: &str,
        node_id: String,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> redis::RedisResult<(Arc<RedisBus>, mpsc::UnboundedReceiver<PushInfo>)> {
        let commands = ConnectionManager::new(redis::Client::open(url)?).await?;
        let (push_tx, push_rx) = mpsc::unbounded_channel();
        let mut info = redis::IntoConnectionInfo::into_connection_info(url)?;
        let redis_settings = info
            .redis_settings()
            .clone()
            .set_protocol(redis::ProtocolVersion::RESP3);
        info = info.set_redis_settings(redis_settings);
        let config = ConnectionManagerConfig::new()
            .set_push_sender(push_tx)
            .set_automatic_resubscription();
        let mut subscriber =
            ConnectionManager::new_with_config(redis::Client::open(info)?, config).await?;
        subscriber.subscribe(ALL_CHANNEL).await?;

        let (publish, publish_rx) = mpsc::unbounded_channel();
        tokio::spawn(publish_loop(commands.clone(), publish_rx, metrics));
        let (subscriptions, subscriptions_rx) = mpsc::unbounded_channel();
        tokio::spawn(subscription_loop(subscriber, subscriptions_rx));
        Ok((
            Arc::new(RedisBus {
                node_id,
                commands,
                publish,
                subscriptions,
            }),
            push_rx,
        ))
    }

    /// This node's id.
    pub(crate) fn node_id(&self) -> &str {
        &self.node_id
    }

    /// A connection for commands and scripts (cheap clone, multiplexed).
    pub(crate) fn commands(&self) -> ConnectionManager {
        self.commands.clone()
    }

    /// Queues `event` for the other nodes.
    pub(crate) fn publish(&self, event: Event) {
        let channel = event.channel();
        let envelope = Envelope {
            origin: self.node_id.clone(),
            event,
        };
        match serde_json::to_string(&envelope) {
            Ok(payload) => {
                // Fails only when the engine is stopping.
                let _ = self.publish.send((channel, payload));
            }
            Err(e) => tracing::error!(error = %e, "cannot encode a cluster event"),
        }
    }

    /// Subscribes this node to `channel` (counted: one per local interest);
    /// the receiver completes once Redis confirmed the subscription.
    pub(crate) fn subscribe(&self, channel: String) -> oneshot::Receiver<()> {
        let (ack, done) = oneshot::channel();
        let _ = self.subscriptions.send(Subscription::Add(channel, ack));
        done
    }

    /// Drops one local interest in `channel` (unsubscribed at zero).
    pub(crate) fn unsubscribe(&self, channel: String) {
        let _ = self.subscriptions.send(Subscription::Remove(channel));
    }

    /// Makes the subscribing connection reconnect (it resubscribes itself).
    pub(crate) fn reconnect(&self) {
        let _ = self.subscriptions.send(Subscription::Reconnect);
    }
}

async fn publish_loop(
    mut conn: ConnectionManager,
    mut queue: mpsc::UnboundedReceiver<(String, String)>,
    metrics: Arc<crate::metrics::Metrics>,
) {
    let mut batch = Vec::with_capacity(PUBLISH_BATCH);
    while queue.recv_many(&mut batch, PUBLISH_BATCH).await > 0 {
        let mut pipe = redis::pipe();
        let batch_len = batch.len();
        for (channel, payload) in batch.drain(..) {
            pipe.publish(channel, payload).ignore();
        }
        let sent = batch_len as u64;
        match pipe.query_async::<()>(&mut conn).await {
            Ok(()) => metrics.count("cluster_published", &[], sent),
            Err(e) => {
                // At-most-once: the receivers' clients catch up on reconnect.
                tracing::warn!(error = %e, "cluster publish failed");
                metrics.count("cluster_publish_failures", &[], sent);
            }
        }
    }
}

async fn subscription_loop(
    mut conn: ConnectionManager,
    mut queue: mpsc::UnboundedReceiver<Subscription>,
) {
    let mut counts: HashMap<String, usize> = HashMap::new();
    while let Some(command) = queue.recv().await {
        match command {
            Subscription::Add(channel, ack) => {
                let count = counts.entry(channel.clone()).or_default();
                *count += 1;
                if *count == 1 {
                    if let Err(e) = conn.subscribe(&channel).await {
                        tracing::warn!(error = %e, "cluster subscribe failed");
                    }
                }
                let _ = ack.send(());
            }
            Subscription::Remove(channel) => {
                if let Some(count) = counts.get_mut(&channel) {
                    *count -= 1;
                    if *count == 0 {
                        counts.remove(&channel);
                        if let Err(e) = conn.unsubscribe(&channel).await {
                            tracing::warn!(error = %e, "cluster unsubscribe failed");
                        }
                    }
                }
            }
            Subscription::Reconnect => {
                // Any command makes the manager reconnect; it then
                // resubscribes to every channel by itself.
                let mut delay = Duration::from_millis(50);
                loop {
                    match redis::cmd("PING").query_async::<String>(&mut conn).await {
                        Ok(_) => break,
                        Err(_) => {
                            tokio::time::sleep(delay).await;
                            delay = (delay * 2).min(Duration::from_secs(2));
                        }
                    }
                }
                tracing::info!("cluster bus reconnected to Redis");
            }
        }
    }
}

/// Decodes a pub/sub message into its envelope (None for anything else).
pub(crate) fn decode(push: &PushInfo) -> Option<Envelope> {
    if push.kind != redis::PushKind::Message {
        return None;
    }
    let payload = push.data.get(1)?;
    let text: String = redis::from_redis_value_ref(payload).ok()?;
    match serde_json::from_str(&text) {
        Ok(envelope) => Some(envelope),
        Err(e) => {
            tracing::warn!(error = %e, "ignored a malformed cluster message");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_travel_on_their_key_channel_and_round_trip() {
        let event = Event::CloseSession {
            app: "app_1".into(),
            identity: "alice".into(),
            session_sha256_hex: "00ff".into(),
            code: 4401,
            reason: "logged_out".into(),
        };
        assert_eq!(event.channel(), user_channel("app_1", "alice"));
        let envelope = Envelope {
            origin: "node-a".into(),
            event,
        };
        let text = serde_json::to_string(&envelope).unwrap();
        assert!(text.contains("\"k\":\"close_session\""), "{text}");
        assert_eq!(serde_json::from_str::<Envelope>(&text).unwrap(), envelope);
        assert_ne!(user_channel("a", "b"), room_channel("a", "b"));
    }
}
