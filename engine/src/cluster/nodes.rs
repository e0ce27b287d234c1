//! The live nodes of a cluster, by id.
//!
//! A node skips what comes back on the bus with its own id, and presence
//! claims are filed under it, so two running nodes with one id would each
//! drop the other's messages without a word. A node therefore holds a key
//! for its id in Redis, with a random token of this process and a TTL
//! refreshed every third of it: a second node with the same id waits for
//! the key (a node restarted after `SIGKILL` reuses its id once the old
//! key expires) and then refuses to start with a clear error. A graceful
//! shutdown releases the key at once.

use std::sync::Arc;
use std::time::Duration;

use redis::Script;

use super::bus::RedisBus;
use crate::state::AppState;

// KEYS: node key. ARGV: this process's token, ttl ms.
// Returns 1 when this process holds the id (taken or refreshed), else 0.
const HOLD: &str = r"
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
return 1
";

// KEYS: node key. ARGV: this process's token. Deletes the key if ours.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
";

/// How often a node that finds its id held asks again while it waits.
const RETRY_EVERY: Duration = Duration::from_millis(250);

/// This node's hold on its id.
pub(crate) struct NodeId {
    bus: Arc<RedisBus>,
    token: String,
    ttl: Duration,
    hold: Script,
}

impl NodeId {
    /// Takes the node id, waiting up to the TTL (and a second) for a
    /// previous holder's key to expire; fails when it stays held.
    pub(crate) async fn take(bus: Arc<RedisBus>, ttl: Duration) -> anyhow::Result<NodeId> {
        let node = NodeId {
            bus,
            token: format!("{:032x}", rand::random::<u128>()),
            ttl,
            hold: Script::new(HOLD),
        };
        let deadline = tokio::time::Instant::now() + ttl + Duration::from_secs(1);
        loop {
            if node.hold().await? {
                return Ok(node);
            }
            if tokio::time::Instant::now() >= deadline {
                anyhow::bail!(
                    "the node id {:?} is held by another running node; give each node its own \
                     --node-id",
                    node.bus.node_id()
                );
            }
            tokio::time::sleep(RETRY_EVERY).await;
        }
    }

    async fn hold(&self) -> redis::RedisResult<bool> {
        let held: i64 = self
            .hold
            .key(node_key(self.bus.node_id()))
            .arg(&self.token)
            .arg(self.ttl.as_millis() as u64)
            .invoke_async(&mut self.bus.commands())
            .await?;
        Ok(held == 1)
    }

    /// Gives the id up (graceful shutdown), so a replacement starts at once.
    pub(crate) async fn release(&self) {
        let released: redis::RedisResult<i64> = Script::new(RELEASE)
            .key(node_key(self.bus.node_id()))
            .arg(&self.token)
            .invoke_async(&mut self.bus.commands())
            .await;
        if let Err(e) = released {
            tracing::warn!(error = %e, "could not release the node id");
        }
    }
}

fn node_key(node_id: &str) -> String {
    format!("utd:node:{node_id}")
}

/// Refreshes the hold every third of the TTL until shutdown.
pub(crate) async fn run(state: AppState, node: Arc<NodeId>) {
    let mut refresh = tokio::time::interval(node.ttl / 3);
    refresh.tick().await;
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = refresh.tick() => match node.hold().await {
                Ok(true) => {}
                // Only after this node could not refresh for a whole TTL
                // (a partition) and another took the id meanwhile.
                Ok(false) => {
                    tracing::error!(node_id = node.bus.node_id(), "another node holds this node's id");
                    state.metrics.count("cluster_node_id_conflicts", &[], 1);
                }
                Err(e) => tracing::warn!(error = %e, "could not refresh the node id"),
            },
        }
    }
}
