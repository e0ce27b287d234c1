//! Presence across nodes, kept in Redis.
//!
//! Each user has a sorted set of the nodes holding a socket of theirs, scored
//! by when that claim expires; the node refreshes its claims every third of
//! the TTL. One index of every claim by expiry lets any node find the claims
//! of a node that died (`SIGKILL`: nothing was cleaned up) and turn those
//! users offline once the TTL has passed. Each transition is decided inside
//! one Lua script, so exactly one node announces it. Time is Redis's own
//! (`TIME`), so node clocks do not matter.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use redis::Script;
use tokio::sync::mpsc;

use super::bus::{Event, RedisBus};
use crate::state::AppState;

/// The index of every claim by expiry.
const INDEX: &str = "utd:presence:expiry";
/// Most expired claims one sweep handles (the next sweep takes the rest).
const SWEEP_BATCH: usize = 500;
/// Claims refreshed concurrently (the connection pipelines them).
const REFRESH_CHUNK: usize = 200;

// KEYS: user set, index. ARGV: node, ttl ms, index member.
// Returns 1 when the user was offline everywhere before this claim.
const CLAIM: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local live = redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
local expires = now + tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], expires, ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 4)
redis.call('ZADD', KEYS[2], expires, ARGV[3])
if live == 0 then return 1 end
return 0
";

// KEYS: user set, index. ARGV: node, index member.
// Returns 1 when no node holds the user any more.
const RELEASE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[2])
if redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf') == 0 then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
";

// KEYS: index. ARGV: batch size. Index members are `node US user-set-key`.
// Returns the user sets whose last live claim expired.
const SWEEP: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local gone = {}
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[1], member)
  local sep = string.find(member, '\31', 1, true)
  if sep then
    local node = string.sub(member, 1, sep - 1)
    local user = string.sub(member, sep + 1)
    local score = redis.call('ZSCORE', user, node)
    if score and tonumber(score) <= now then
      redis.call('ZREM', user, node)
      if redis.call('ZCOUNT', user, '(' .. now, '+inf') == 0 then
        redis.call('DEL', user)
        table.insert(gone, user)
      end
    end
  end
end
return gone
";

// KEYS: user sets. Returns 1/0 per key: whether some claim is live.
const ONLINE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('ZCOUNT', key, '(' .. now, '+inf') > 0 then out[i] = 1 else out[i] = 0 end
end
return out
";

const USER_PREFIX: &str = "utd:presence:user:";

fn user_key(app: &str, identity: &str) -> String {
    format!("{USER_PREFIX}{app}\u{1f}{identity}")
}

fn parse_user_key(key: &str) -> Option<(String, String)> {
    let rest = key.strip_prefix(USER_PREFIX)?;
    let (app, identity) = rest.split_once('\u{1f}')?;
    Some((app.to_owned(), identity.to_owned()))
}

fn index_member(node: &str, user_key: &str) -> String {
    format!("{node}\u{1f}{user_key}")
}

/// A local change the presence task applies in order.
#[derive(Debug)]
pub(crate) enum Change {
    /// The first socket of a user on this node opened.
    Up { app: String, identity: String },
    /// The last socket of a user on this node closed at `at_ms`.
    Down {
        app: String,
        identity: String,
        at_ms: u64,
    },
}

/// The node's handle on shared presence.
pub(crate) struct SharedPresence {
    bus: Arc<RedisBus>,
    ttl: Duration,
    changes: mpsc::UnboundedSender<Change>,
    claim: Script,
    release: Script,
    sweep: Script,
    online: Script,
}

impl SharedPresence {
    /// The handle and the receiving end of its change queue (see [`run`]).
    pub(crate) fn new(
        bus: Arc<RedisBus>,
        ttl: Duration,
    ) -> (Arc<SharedPresence>, mpsc::UnboundedReceiver<Change>) {
        let (changes, rx) = mpsc::unbounded_channel();
        (
            Arc::new(SharedPresence {
                bus,
                ttl,
                changes,
                claim: Script::new(CLAIM),
                release: Script::new(RELEASE),
                sweep: Script::new(SWEEP),
                online: Script::new(ONLINE),
            }),
            rx,
        )
    }

    /// Queues a local change (the hub calls this without awaiting).
    pub(crate) fn change(&self, change: Change) {
        let _ = self.changes.send(change);
    }

    /// Whether each identity has a live socket on some node.
    pub(crate) async fn online(
        &self,
        app: &str,
        identities: &[String],
    ) -> redis::RedisResult<Vec<bool>> {
        if identities.is_empty() {
            return Ok(Vec::new());
        }
        let mut invocation = self.online.prepare_invoke();
        for identity in identities {
            invocation.key(user_key(app, identity));
        }
        let flags: Vec<i64> = invocation.invoke_async(&mut self.bus.commands()).await?;
        Ok(flags.into_iter().map(|f| f != 0).collect())
    }

    async fn claim(&self, app: &str, identity: &str) -> redis::RedisResult<bool> {
        let key = user_key(app, identity);
        let node = self.bus.node_id();
        let became_online: i64 = self
            .claim
            .key(&key)
            .key(INDEX)
            .arg(node)
            .arg(self.ttl.as_millis() as u64)
            .arg(index_member(node, &key))
            .invoke_async(&mut self.bus.commands())
            .await?;
        Ok(became_online == 1)
    }

    async fn release(&self, app: &str, identity: &str) -> redis::RedisResult<bool> {
        let key = user_key(app, identity);
        let node = self.bus.node_id();
        let gone: i64 = self
            .release
            .key(&key)
            .key(INDEX)
            .arg(node)
            .arg(index_member(node, &key))
            .invoke_async(&mut self.bus.commands())
            .await?;
        Ok(gone == 1)
    }

    async fn sweep_once(&self) -> redis::RedisResult<Vec<(String, String)>> {
        let gone: Vec<String> = self
            .sweep
            .key(INDEX)
            .arg(SWEEP_BATCH)
            .invoke_async(&mut self.bus.commands())
            .await?;
        Ok(gone.iter().filter_map(|k| parse_user_key(k)).collect())
    }
}

/// Applies local changes in order, refreshes this node's claims and sweeps
/// expired ones, until shutdown.
pub(crate) async fn run(
    state: AppState,
    presence: Arc<SharedPresence>,
    mut changes: mpsc::UnboundedReceiver<Change>,
) {
    let mut refresh = tokio::time::interval(presence.ttl / 3);
    let mut sweep = tokio::time::interval((presence.ttl / 4).min(Duration::from_secs(1)));
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            change = changes.recv() => match change {
                Some(change) => apply(&state, &presence, change).await,
                None => return,
            },
            _ = refresh.tick() => refresh_claims(&state, &presence).await,
            _ = sweep.tick() => sweep_expired(&state, &presence).await,
        }
    }
}

async fn apply(state: &AppState, presence: &SharedPresence, change: Change) {
    match change {
        Change::Up { app, identity } => match presence.claim(&app, &identity).await {
            Ok(true) => announce(state, presence, app, identity, true, None),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "presence claim failed"),
        },
        Change::Down {
            app,
            identity,
            at_ms,
        } => match presence.release(&app, &identity).await {
            Ok(true) => announce(state, presence, app, identity, false, Some(at_ms)),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "presence release failed"),
        },
    }
}

async fn refresh_claims(state: &AppState, presence: &SharedPresence) {
    let users = state.hub.local_users();
    for chunk in users.chunks(REFRESH_CHUNK) {
        let results = join_all(
            chunk
                .iter()
                .map(|(app, identity)| presence.claim(app, identity)),
        )
        .await;
        for ((app, identity), result) in chunk.iter().zip(results) {
            match result {
                // Declared offline while this node could not refresh (a
                // partition longer than the TTL): online again.
                Ok(true) if state.hub.is_online(app, identity) => {
                    announce(state, presence, app.clone(), identity.clone(), true, None);
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "presence refresh failed");
                    return;
                }
            }
        }
    }
}

async fn sweep_expired(state: &AppState, presence: &SharedPresence) {
    match presence.sweep_once().await {
        Ok(gone) => {
            let now = crate::ids::now_ms();
            for (app, identity) in gone {
                tracing::info!(app_id = %app, identity, "offline: its node stopped refreshing");
                let (a, i) = (app.clone(), identity.clone());
                if let Err(e) = state
                    .db
                    .call(move |c| crate::db::presence::set_last_seen(c, &a, &i, now))
                    .await
                {
                    tracing::warn!(error = %e, "could not persist last seen");
                }
                announce(state, presence, app, identity, false, Some(now));
            }
        }
        Err(e) => tracing::warn!(error = %e, "presence sweep failed"),
    }
}

/// Tells this node's watchers and every other node's.
fn announce(
    state: &AppState,
    presence: &SharedPresence,
    app: String,
    identity: String,
    online: bool,
    last_seen_ms: Option<u64>,
) {
    state
        .hub
        .deliver_presence(&app, &identity, online, last_seen_ms);
    presence.bus.publish(Event::Presence {
        app,
        identity,
        online,
        last_seen_ms,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_keys_round_trip_and_index_members_split_at_the_first_separator() {
        let key = user_key("app_1", "alice@example");
        assert_eq!(
            parse_user_key(&key),
            Some(("app_1".into(), "alice@example".into()))
        );
        let member = index_member("node-a", &key);
        let (node, rest) = member.split_once('\u{1f}').unwrap();
        assert_eq!((node, rest), ("node-a", key.as_str()));
        assert_eq!(parse_user_key("utd:other"), None);
    }
}
