//! Token buckets per user and per app, sized per minute.
//!
//! Buckets live in memory: a restart refills them, which errs on the side of
//! letting users in. Limits are read from the app record on every request,
//! so admin changes apply at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn refill(&mut self, per_minute: u32, now: Instant) {
        let rate = f64::from(per_minute) / 60.0;
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(f64::from(per_minute));
        self.last = now;
    }

    /// Time until one token is available (zero if one is).
    fn wait(&self, per_minute: u32) -> Duration {
        if self.tokens >= 1.0 {
            return Duration::ZERO;
        }
        let rate = f64::from(per_minute.max(1)) / 60.0;
        Duration::from_secs_f64((1.0 - self.tokens) / rate)
    }
}

/// Result of a refused request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// How long until the request would be admitted.
    pub retry_after: Duration,
}

/// The engine's rate limiter.
#[derive(Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

/// Above this many buckets, full and idle ones are dropped (they would be
/// recreated full anyway), keeping memory bounded under identity churn.
const PRUNE_ABOVE: usize = 100_000;

impl RateLimiter {
    /// Takes one token from the user's and the app's bucket, or neither.
    pub fn check(
        &self,
        app_id: &str,
        identity: &str,
        per_user_per_minute: u32,
        per_app_per_minute: u32,
    ) -> Result<(), Limited> {
        let now = Instant::now();
        let Ok(mut buckets) = self.buckets.lock() else {
            // A poisoned limiter must not take the API down; admit.
            return Ok(());
        };
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, b| now.saturating_duration_since(b.last) < Duration::from_secs(120));
        }
        let app_key = format!("a\u{0}{app_id}");
        let user_key = format!("u\u{0}{app_id}\u{0}{identity}");
        let mut app = buckets.get(&app_key).copied().unwrap_or(Bucket {
            tokens: f64::from(per_app_per_minute),
            last: now,
        });
        let mut user = buckets.get(&user_key).copied().unwrap_or(Bucket {
            tokens: f64::from(per_user_per_minute),
            last: now,
        });
        app.refill(per_app_per_minute, now);
        user.refill(per_user_per_minute, now);
        let wait = app
            .wait(per_app_per_minute)
            .max(user.wait(per_user_per_minute));
        if wait > Duration::ZERO {
            buckets.insert(app_key, app);
            buckets.insert(user_key, user);
            return Err(Limited { retry_after: wait });
        }
        app.tokens -= 1.0;
        user.tokens -= 1.0;
        buckets.insert(app_key, app);
        buckets.insert(user_key, user);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refusal_with_a_positive_wait() {
        let rl = RateLimiter::default();
        for _ in 0..3 {
            assert!(rl.check("app", "u", 3, 1000).is_ok());
        }
        let limited = rl.check("app", "u", 3, 1000).unwrap_err();
        assert!(limited.retry_after > Duration::from_secs(10));
        // Another user of the same app is unaffected.
        assert!(rl.check("app", "v", 3, 1000).is_ok());
    }

    #[test]
    fn app_bucket_is_shared_by_users() {
        let rl = RateLimiter::default();
        assert!(rl.check("app", "a", 100, 2).is_ok());
        assert!(rl.check("app", "b", 100, 2).is_ok());
        assert!(rl.check("app", "c", 100, 2).is_err());
    }
}
