//! Chat typers across nodes, kept in Redis.
//!
//! Members of one conversation may type on different nodes, and each member
//! must see the one list of everybody typing. Each conversation has a sorted
//! set of its typers scored by when they expire, plus the list its members
//! were last shown and whom to show it to. Every change runs one Lua script
//! that applies it, drops expired typers, and, when the list differs from
//! the one shown, publishes the new list to every member's user channel from
//! inside the script: Redis runs scripts one at a time, so the lists reach
//! every node in the order of the changes, whichever nodes made them.
//!
//! Expiry: the node that applied a start expires that typer once due (it
//! asks after the reply plus the expiry, which is never early on Redis's
//! clock), so each typer's expiry is pushed on its own and on time, as in
//! one process. A node may die before that: an index of conversations by
//! their first expiry is swept by every node twice a second, by the same
//! script, so a dead node's typers expire too. A list is pushed only when it
//! differs from the one shown, so nothing is pushed twice. Time is Redis's
//! own (`TIME`).

use std::sync::Arc;
use std::time::Duration;

use redis::Script;

use super::bus::{user_channel, RedisBus};
use crate::state::AppState;

/// Conversations by the first expiry among their typers.
const INDEX: &str = "utd:typing:expiry";
/// How often each node sweeps the index (the backstop for typers whose
/// node died; live nodes settle their own typers on time).
const SWEEP_EVERY: Duration = Duration::from_millis(500);
/// Most conversations one sweep settles (the next sweep takes the rest).
const SWEEP_BATCH: usize = 200;

// The messages the script publishes are what `Hub::deliver` expects from
// the bus: a `bus::Envelope` of an `Event::User`, with the empty origin (so
// every node delivers it, the one that ran the script too), whose text is
// `chat::typing::typing_message`. The cluster tests decode both.
//
// KEYS: index. ARGV[1]: 'start', 'stop', 'expire' or 'sweep'.
// start / stop: ARGV[2] typers key, ARGV[3] identity, ARGV[4] expiry ms,
// ARGV[5] app, ARGV[6] conversation id, ARGV[7] user channel prefix,
// ARGV[8] members joined by the unit separator.
// expire: ARGV[2] typers key, ARGV[3] identity (removed if due; the other
// typers due have expiries of their own coming). sweep: ARGV[2] batch size.
// Returns how many lists were pushed.
const TYPING: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local US = '\31'

local function split(s)
  local out = {}
  for part in string.gmatch(s, '[^' .. US .. ']+') do table.insert(out, part) end
  return out
end

-- Drops the expired typers of `key` (with `prune`), pushes the list when it
-- is not the one shown, and files the conversation under its next expiry.
local function settle(key, prune)
  local meta = key .. US .. 'meta'
  if prune then redis.call('ZREMRANGEBYSCORE', key, '-inf', now) end
  local typers = redis.call('ZRANGE', key, 0, -1)
  table.sort(typers)
  local list = table.concat(typers, US)
  local pushed = 0
  local shown = redis.call('HGET', meta, 'shown') or ''
  if list ~= shown then
    local v = redis.call('HMGET', meta, 'app', 'conversation', 'prefix', 'members')
    if v[1] and v[2] and v[3] and v[4] then
      local names = {}
      for i, who in ipairs(typers) do names[i] = cjson.encode(who) end
      local text = '{"type":"typing","conversation_id":' .. cjson.encode(v[2])
        .. ',"typers":[' .. table.concat(names, ',') .. ']}'
      for _, member in ipairs(split(v[4])) do
        local envelope = cjson.encode({origin = '', k = 'user', app = v[1],
          identity = member, text = text})
        redis.call('PUBLISH', v[3] .. member, envelope)
      end
      pushed = 1
    end
    redis.call('HSET', meta, 'shown', list)
  end
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if first[2] then
    local ttl = tonumber(first[2]) - now + 60000
    redis.call('ZADD', KEYS[1], first[2], key)
    redis.call('PEXPIRE', key, ttl)
    redis.call('PEXPIRE', meta, ttl)
  else
    redis.call('ZREM', KEYS[1], key)
    redis.call('DEL', key, meta)
  end
  return pushed
end

if ARGV[1] == 'sweep' then
  local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
  local pushed = 0
  for _, key in ipairs(due) do pushed = pushed + settle(key, true) end
  return pushed
end

local key = ARGV[2]
if ARGV[1] == 'expire' then
  local score = redis.call('ZSCORE', key, ARGV[3])
  if score and tonumber(score) <= now then redis.call('ZREM', key, ARGV[3]) end
  return settle(key, false)
end
if ARGV[1] == 'start' then
  redis.call('ZADD', key, now + tonumber(ARGV[4]), ARGV[3])
else
  redis.call('ZREM', key, ARGV[3])
end
redis.call('HSET', key .. US .. 'meta', 'app', ARGV[5], 'conversation', ARGV[6],
  'prefix', ARGV[7], 'members', ARGV[8])
return settle(key, true)
"#;

/// One member's change of their typing state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// Started or kept typing: shown until `EXPIRY` from now.
    Start,
    /// Stopped (or left the conversation, or every socket closed).
    Stop,
}

/// The node's handle on the shared typers.
pub(crate) struct SharedTyping {
    bus: Arc<RedisBus>,
    script: Script,
}

impl SharedTyping {
    pub(crate) fn new(bus: Arc<RedisBus>) -> SharedTyping {
        SharedTyping {
            bus,
            script: Script::new(TYPING),
        }
    }

    /// Applies `identity`'s change to the conversation's typers and, when
    /// the list changed, pushes it to `members` (on every node).
    pub(crate) async fn apply(
        &self,
        app: &str,
        conversation_id: &str,
        identity: &str,
        change: Change,
        members: &[String],
    ) -> redis::RedisResult<()> {
        let mode = match change {
            Change::Start => "start",
            Change::Stop => "stop",
        };
        let _: i64 = self
            .script
            .key(INDEX)
            .arg(mode)
            .arg(typers_key(app, conversation_id))
            .arg(identity)
            .arg(crate::chat::typing::EXPIRY.as_millis() as u64)
            .arg(app)
            .arg(conversation_id)
            .arg(user_channel(app, ""))
            .arg(members.join("\u{1f}"))
            .invoke_async(&mut self.bus.commands())
            .await?;
        Ok(())
    }

    /// Expires `identity` in the conversation if due (they did not type
    /// again meanwhile), and pushes the list if that changed it.
    pub(crate) async fn expire(
        &self,
        app: &str,
        conversation_id: &str,
        identity: &str,
    ) -> redis::RedisResult<()> {
        let _: i64 = self
            .script
            .key(INDEX)
            .arg("expire")
            .arg(typers_key(app, conversation_id))
            .arg(identity)
            .invoke_async(&mut self.bus.commands())
            .await?;
        Ok(())
    }

    /// Settles the conversations whose first typer expired; how many lists
    /// were pushed.
    async fn sweep_once(&self) -> redis::RedisResult<i64> {
        self.script
            .key(INDEX)
            .arg("sweep")
            .arg(SWEEP_BATCH)
            .invoke_async(&mut self.bus.commands())
            .await
    }
}

// The unit separator cannot appear in app ids or conversation ids.
fn typers_key(app: &str, conversation_id: &str) -> String {
    format!("utd:typing:{app}\u{1f}{conversation_id}")
}

/// Sweeps expired typers until shutdown.
pub(crate) async fn run(state: AppState, typing: Arc<SharedTyping>) {
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = sweep.tick() => {
                if let Err(e) = typing.sweep_once().await {
                    tracing::warn!(error = %e, "typing sweep failed");
                }
            }
        }
    }
}
