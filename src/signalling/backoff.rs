//! Reconnect delays: exponential with "equal jitter".
//!
//! Attempt n waits between half and all of `base * 2^(n-1)` (capped), so a
//! fleet of clients dropped by one engine restart does not reconnect in
//! lockstep, yet each still retries promptly.

use std::time::Duration;

/// The reconnect policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay before the first retry (before jitter).
    pub base: Duration,
    /// Largest delay between attempts.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(250),
            max: Duration::from_secs(10),
        }
    }
}

impl Backoff {
    /// The delay before retry `attempt` (1-based), with `jitter` in [0, 1).
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let exponent = attempt.saturating_sub(1).min(20);
        let full = self.base.saturating_mul(1u32 << exponent).min(self.max);
        let half = full / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    }

    /// The delay before retry `attempt` with fresh random jitter.
    pub fn next_delay(&self, attempt: u32) -> Duration {
        self.delay(attempt, fastrand::f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_within_jitter_bounds_and_caps() {
        let b = Backoff::default();
        assert_eq!(b.delay(1, 0.0), Duration::from_millis(125));
        assert_eq!(b.delay(1, 1.0), Duration::from_millis(250));
        assert_eq!(b.delay(3, 1.0), Duration::from_millis(1000));
        assert_eq!(b.delay(30, 1.0), Duration::from_secs(10));
        assert_eq!(b.delay(30, 0.0), Duration::from_secs(5));
        for attempt in 1..12 {
            let d = b.next_delay(attempt);
            assert!(d >= b.delay(attempt, 0.0) && d <= b.delay(attempt, 1.0));
        }
    }
}
