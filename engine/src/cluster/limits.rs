//! Rate limits shared by every node: the same token buckets as
//! [`crate::ratelimit`], kept in Redis and taken by one Lua script, so N per
//! minute means N across the cluster.

use std::sync::Arc;
use std::time::Duration;

use redis::Script;

use super::bus::RedisBus;
use crate::ratelimit::Limited;

// KEYS: user bucket, app bucket. ARGV: user per minute, app per minute.
// Takes one token from both buckets or from neither; returns 0 when
// admitted, else the milliseconds until both hold a token. Buckets are
// hashes {tokens, at}; a missing one is full.
const TAKE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function level(key, per_minute)
  local v = redis.call('HMGET', key, 'tokens', 'at')
  local tokens, at = tonumber(v[1]), tonumber(v[2])
  if tokens == nil or at == nil then return per_minute end
  return math.min(per_minute, tokens + math.max(0, now - at) * per_minute / 60000)
end
local user_rate, app_rate = tonumber(ARGV[1]), tonumber(ARGV[2])
local user, app = level(KEYS[1], user_rate), level(KEYS[2], app_rate)
if user >= 1 and app >= 1 then
  redis.call('HSET', KEYS[1], 'tokens', tostring(user - 1), 'at', now)
  redis.call('HSET', KEYS[2], 'tokens', tostring(app - 1), 'at', now)
  redis.call('PEXPIRE', KEYS[1], 120000)
  redis.call('PEXPIRE', KEYS[2], 120000)
  return 0
end
local wait = 0
if user < 1 then wait = math.max(wait, math.ceil((1 - user) * 60000 / math.max(user_rate, 1))) end
if app < 1 then wait = math.max(wait, math.ceil((1 - app) * 60000 / math.max(app_rate, 1))) end
return math.max(wait, 1)
";

/// Token buckets in Redis.
pub(crate) struct SharedLimiter {
    bus: Arc<RedisBus>,
    take: Script,
}

impl SharedLimiter {
    pub(crate) fn new(bus: Arc<RedisBus>) -> SharedLimiter {
        SharedLimiter {
            bus,
            take: Script::new(TAKE),
        }
    }

    /// Takes one token from the user's and the app's bucket, or neither.
    pub(crate) async fn check(
        &self,
        app_id: &str,
        identity: &str,
        per_user_per_minute: u32,
        per_app_per_minute: u32,
    ) -> redis::RedisResult<Result<(), Limited>> {
        let wait_ms: u64 = self
            .take
            .key(format!("utd:rate:user:{app_id}\u{1f}{identity}"))
            .key(format!("utd:rate:app:{app_id}"))
            .arg(per_user_per_minute)
            .arg(per_app_per_minute)
            .invoke_async(&mut self.bus.commands())
            .await?;
        Ok(if wait_ms == 0 {
            Ok(())
        } else {
            Err(Limited {
                retry_after: Duration::from_millis(wait_ms),
            })
        })
    }
}
