//! The dispatcher: one task per engine that claims due outbox rows, sends
//! each one concurrently, and writes back what became of it.

use std::time::Duration;

use rand::Rng as _;
use tokio::task::JoinSet;

use super::outbox::{self, Claimed, APNS, APNS_VOIP, FCM};
use super::payload::{self, token_prefix, CALL_ENDED_TTL_MS};
use crate::ids::now_ms;
use crate::state::AppState;

/// Most sends in flight at once.
const MAX_IN_FLIGHT: usize = 64;
/// Bound on one attempt (up to three requests: an access token, the send and
/// its retry with a refreshed credential; each normally well under a second).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(8);
/// How long a claimed row stays leased: beyond [`ATTEMPT_TIMEOUT`], and short
/// so that a push claimed by an engine that was killed mid-attempt is sent
/// by the next one while the call still rings (30 s by default).
const LEASE_MS: u64 = 10_000;
/// Longest sleep between two claims: rows queued by another engine sharing
/// the database wake nobody here, so they are found by this poll (within
/// about a second), as are rows whose lease a dead engine left to expire.
const IDLE_POLL_MS: u64 = 1_000;
/// First retry delay; doubles per attempt up to [`BACKOFF_CAP_MS`].
const BACKOFF_BASE_MS: u64 = 250;
const BACKOFF_CAP_MS: u64 = 4_000;

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Accepted by the provider.
    Delivered { status: u16, id: Option<String> },
    /// Try again later (after `after` when the provider said so).
    Retry {
        status: Option<u16>,
        reason: String,
        after: Option<Duration>,
    },
    /// The device token is dead: forget it.
    DeadToken { status: u16, reason: String },
    /// Refused for good (logged); the row is dropped.
    Refused { status: Option<u16>, reason: String },
}

impl Outcome {
    pub(crate) fn retry(
        status: Option<u16>,
        reason: impl Into<String>,
        after: Option<Duration>,
    ) -> Self {
        Outcome::Retry {
            status,
            reason: reason.into(),
            after,
        }
    }

    pub(crate) fn refused(status: Option<u16>, reason: impl Into<String>) -> Self {
        Outcome::Refused {
            status,
            reason: reason.into(),
        }
    }
}

/// Delay before attempt `attempts + 1`: exponential with ±20 % jitter.
pub(crate) fn backoff(attempts: u32) -> Duration {
    let exp = attempts.saturating_sub(1).min(16);
    let base = BACKOFF_BASE_MS.saturating_mul(1 << exp).min(BACKOFF_CAP_MS);
    let jitter = rand::rng().random_range(0.8..=1.2);
    Duration::from_millis((base as f64 * jitter) as u64)
}

/// Runs until shutdown: claims due rows (woken by new rows, finished sends
/// and the next due time), sends them, and at the end gives back the leases
/// of sends it cut short.
pub(crate) async fn run(state: AppState) {
    let push = &state.push;
    let mut inflight: JoinSet<()> = JoinSet::new();
    tracing::info!(platforms = ?push.platforms(), "push dispatcher started");
    loop {
        let now = now_ms();
        let room = MAX_IN_FLIGHT.saturating_sub(inflight.len());
        let mut next_due = Some(now + IDLE_POLL_MS);
        if room > 0 {
            let owner = push.owner.clone();
            let claimed = state
                .db
                .call(move |c| outbox::claim_due(c, &owner, now, LEASE_MS, room))
                .await;
            match claimed {
                Ok(batch) => {
                    for d in &batch.dropped {
                        tracing::info!(
                            call_id = %d.call_id,
                            kind = %d.kind,
                            platform = %d.platform,
                            token = %token_prefix(&d.token),
                            attempts = d.attempts,
                            why = d.why,
                            "push given up"
                        );
                    }
                    for row in batch.claimed {
                        inflight.spawn(attempt(state.clone(), row));
                    }
                    next_due = batch.next_due_ms;
                }
                Err(e) => {
                    tracing::error!(error = %e, "push outbox claim failed");
                    next_due = Some(now + 1_000);
                }
            }
        }
        let wait = next_due
            .unwrap_or(now + IDLE_POLL_MS)
            .clamp(now, now + IDLE_POLL_MS)
            .saturating_sub(now);
        tokio::select! {
            _ = state.shutdown.cancelled() => break,
            _ = push.wake.notified() => {}
            Some(_) = inflight.join_next(), if !inflight.is_empty() => {}
            _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
        }
    }
    inflight.abort_all();
    while inflight.join_next().await.is_some() {}
    let owner = push.owner.clone();
    match state
        .db
        .call(move |c| outbox::release_leases(c, &owner))
        .await
    {
        Ok(n) if n > 0 => tracing::info!(
            released = n,
            "push dispatcher stopped; unsent pushes stay queued"
        ),
        Ok(_) => tracing::info!("push dispatcher stopped"),
        Err(e) => tracing::warn!(error = %e, "push dispatcher stopped; leases not released"),
    }
}

/// Sends one claimed row and records the outcome.
async fn attempt(state: AppState, row: Claimed) {
    let now = now_ms();
    let send = async {
        match row.platform.as_str() {
            APNS_VOIP | APNS => match &state.push.apns {
                Some(apns) => apns.send(&row, now).await,
                None => Outcome::refused(None, "APNs is not configured"),
            },
            FCM => match &state.push.fcm {
                Some(fcm) => fcm.send(&row, now).await,
                None => Outcome::refused(None, "FCM is not configured"),
            },
            other => Outcome::refused(None, format!("unknown platform {other}")),
        }
    };
    let outcome = tokio::time::timeout(ATTEMPT_TIMEOUT, send)
        .await
        .unwrap_or_else(|_| Outcome::retry(None, "attempt timed out", None));
    let token = token_prefix(&row.token);
    let status = match &outcome {
        Outcome::Delivered { status, .. } | Outcome::DeadToken { status, .. } => Some(*status),
        Outcome::Retry { status, .. } | Outcome::Refused { status, .. } => *status,
    };
    let status = status.map_or_else(|| "none".to_owned(), |s| s.to_string());
    let (call_id, kind, platform, attempt_no) =
        (&row.call_id, &row.kind, &row.platform, row.attempts);
    let outcome_name = match &outcome {
        Outcome::Delivered { .. } => "delivered",
        Outcome::DeadToken { .. } => "dead_token",
        Outcome::Refused { .. } => "refused",
        Outcome::Retry { .. } => "retry",
    };
    state.metrics.count(
        "push_attempts",
        &[("platform", platform), ("outcome", outcome_name)],
        1,
    );
    let result = match outcome {
        Outcome::Delivered { id, .. } => {
            tracing::info!(%call_id, %kind, %platform, %token, %status, attempt = attempt_no,
                id = id.as_deref().unwrap_or(""), "push delivered");
            let row = row.clone();
            let queued = state
                .db
                .call(move |c| {
                    outbox::delivered(c, &row, now_ms(), payload::ending, CALL_ENDED_TTL_MS)
                })
                .await;
            if matches!(queued, Ok(true)) {
                state.push.wake.notify_one();
            }
            queued.map(|_| ())
        }
        Outcome::DeadToken { reason, .. } => {
            tracing::info!(%call_id, %kind, %platform, %token, %status, attempt = attempt_no,
                %reason, "push token is dead; forgotten");
            let (app_id, t) = (row.app_id.clone(), row.token.clone());
            state
                .db
                .call(move |c| outbox::forget_token(c, &app_id, &t))
                .await
                .map(|_| ())
        }
        Outcome::Refused { reason, .. } => {
            tracing::warn!(%call_id, %kind, %platform, %token, %status, attempt = attempt_no,
                %reason, "push refused; dropped");
            let id = row.push_id;
            state
                .db
                .call(move |c| outbox::remove(c, id))
                .await
                .map(|_| ())
        }
        Outcome::Retry { reason, after, .. } => {
            let at = now_ms()
                .saturating_add(after.unwrap_or_else(|| backoff(attempt_no)).as_millis() as u64);
            let id = row.push_id;
            if at >= row.expires_at_ms {
                tracing::info!(%call_id, %kind, %platform, %token, %status, attempt = attempt_no,
                    %reason, "push given up: deadline before the next attempt");
                state
                    .db
                    .call(move |c| outbox::remove(c, id))
                    .await
                    .map(|_| ())
            } else {
                tracing::info!(%call_id, %kind, %platform, %token, %status, attempt = attempt_no,
                    %reason, retry_in_ms = at.saturating_sub(now_ms()), "push failed; will retry");
                let owner = state.push.owner.clone();
                state
                    .db
                    .call(move |c| outbox::reschedule(c, id, &owner, at, &reason))
                    .await
                    .map(|_| ())
            }
        }
    };
    if let Err(e) = result {
        tracing::error!(error = %e, %call_id, "push outcome not recorded");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_250_ms_up_to_the_cap_with_jitter() {
        for (attempts, base) in [
            (1, 250),
            (2, 500),
            (3, 1000),
            (4, 2000),
            (5, 4000),
            (30, 4000),
        ] {
            for _ in 0..20 {
                let d = backoff(attempts).as_millis() as u64;
                assert!(d >= base * 8 / 10 && d <= base * 12 / 10, "{attempts}: {d}");
            }
        }
    }
}
