//! The ring deadline: one sweeper per engine expires the pending calls
//! whose ring timeout has passed, whichever node created them and whichever
//! is still alive (the deadline is a row: `created_at_ms` + the ring
//! timeout). Of several nodes sweeping at once, the conditional transition
//! ([`calls::expire`]) lets exactly one turn a call `missed` and push it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

// The call rules and helpers of the parent.
use super::*;

/// Longest sleep of the sweeper: a call created on another node (whose
/// wake-up never reaches this one) is expired within about this long of its
/// deadline, as long as any node runs.
const MAX_SLEEP_MS: u64 = 1_000;
/// Due calls read per round trip; a full batch is followed by the next one
/// at once.
const BATCH: usize = 100;

/// What wakes the sweeper of one engine early.
struct Alarm {
    notify: Notify,
    /// When the sweeper means to wake next (ms since the epoch); `u64::MAX`
    /// while it sweeps, so that any call created meanwhile wakes it again.
    wake_at_ms: AtomicU64,
}

/// The alarm of every running engine of the process, by the address of its
/// shared state (tests run several engines in one process).
static ALARMS: Mutex<Vec<(usize, Arc<Alarm>)>> = Mutex::new(Vec::new());

fn key(state: &AppState) -> usize {
    Arc::as_ptr(state) as usize
}

fn alarm_of(state: &AppState) -> Option<Arc<Alarm>> {
    let alarms = ALARMS.lock().unwrap_or_else(PoisonError::into_inner);
    alarms
        .iter()
        .find(|(k, _)| *k == key(state))
        .map(|(_, alarm)| alarm.clone())
}

/// The sweeper's hold on its engine: registers the alarm while it lives.
/// It holds the state, so the address keying the alarm cannot be reused
/// before the alarm is gone (also when the task is dropped with its
/// runtime).
struct Sweeper {
    state: AppState,
    alarm: Arc<Alarm>,
}

impl Sweeper {
    fn register(state: &AppState) -> Sweeper {
        let alarm = Arc::new(Alarm {
            notify: Notify::new(),
            wake_at_ms: AtomicU64::new(u64::MAX),
        });
        let mut alarms = ALARMS.lock().unwrap_or_else(PoisonError::into_inner);
        alarms.retain(|(k, _)| *k != key(state));
        alarms.push((key(state), alarm.clone()));
        Sweeper {
            state: state.clone(),
            alarm,
        }
    }
}

impl Drop for Sweeper {
    fn drop(&mut self) {
        let mut alarms = ALARMS.lock().unwrap_or_else(PoisonError::into_inner);
        alarms.retain(|(_, alarm)| !Arc::ptr_eq(alarm, &self.alarm));
    }
}

/// After this engine committed a call whose ring deadline is `deadline_ms`:
/// wakes its sweeper when it meant to sleep past that deadline.
pub(crate) fn deadline_set(state: &AppState, deadline_ms: u64) {
    if let Some(alarm) = alarm_of(state) {
        if deadline_ms < alarm.wake_at_ms.load(Ordering::SeqCst) {
            alarm.notify.notify_one();
        }
    }
}

/// On start: expires the calls whose deadline passed while no engine ran,
/// then spawns the sweeper (tracked: it stops at shutdown).
pub(crate) async fn start_ring_sweeper(state: &AppState) -> Result<(), DbError> {
    let sweeper = Sweeper::register(state);
    let next = sweep(state).await?;
    state.tracker.spawn(run(sweeper, next));
    Ok(())
}

/// The sweeper: sweeps, then sleeps until the earliest pending deadline it
/// knows of, at most [`MAX_SLEEP_MS`], or until this engine creates a call
/// due earlier ([`deadline_set`]).
async fn run(sweeper: Sweeper, mut next_deadline: Option<u64>) {
    let (state, alarm) = (&sweeper.state, &sweeper.alarm);
    loop {
        let now = now_ms();
        let wake_at = next_deadline
            .unwrap_or(u64::MAX)
            .min(now.saturating_add(MAX_SLEEP_MS));
        alarm.wake_at_ms.store(wake_at, Ordering::SeqCst);
        tokio::select! {
            _ = state.shutdown.cancelled() => break,
            _ = alarm.notify.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(wake_at.saturating_sub(now))) => {}
        }
        alarm.wake_at_ms.store(u64::MAX, Ordering::SeqCst);
        next_deadline = match sweep(state).await {
            Ok(next) => next,
            Err(e) => {
                tracing::error!(error = %e, "ring deadline sweep failed; retried");
                None
            }
        };
    }
}

/// One sweep: expires every pending call that is due (in batches); returns
/// the earliest deadline still to come.
async fn sweep(state: &AppState) -> Result<Option<u64>, DbError> {
    loop {
        let now = now_ms();
        let timeout = ring_timeout_ms(state);
        let due = state
            .db
            .call(move |c| calls::due(c, timeout, now, BATCH))
            .await?;
        let mut expired = 0;
        for call_id in &due.call_ids {
            if state.shutdown.is_cancelled() {
                return Ok(None);
            }
            if expire(state, call_id).await? {
                expired += 1;
            }
        }
        state.metrics.count("sweeps", &[("kind", "ring")], 1);
        state
            .metrics
            .count("calls_missed", &[], u64::try_from(expired).unwrap_or(0));
        // A short batch was the last; a full one where nothing moved was
        // taken by other nodes (or the clock stepped back): the next round
        // sees the rest.
        if due.call_ids.len() < BATCH || expired == 0 {
            return Ok(due.next_deadline_ms);
        }
    }
}

/// The ring timeout of one due call: when it is still pending, it becomes
/// `missed` (`ring_timeout`), pushed to both parties (on every node) and to
/// the push outbox, and its room is closed. False when another transition
/// (or another node's sweep) came first.
async fn expire(state: &AppState, call_id: &str) -> Result<bool, DbError> {
    let (st, id) = (state.clone(), call_id.to_owned());
    let timeout = ring_timeout_ms(state);
    let order = in_order(call_id).await;
    let expired = state
        .db
        .call(move |c| {
            let expired = calls::expire(c, &id, timeout)?;
            let queued = outbox(&st, c, expired.as_slice())?;
            Ok((expired, queued))
        })
        .await;
    if let Ok((expired, queued)) = &expired {
        publish(state, expired.as_slice(), *queued);
    }
    drop(order);
    let Some(call) = expired?.0 else {
        return Ok(false);
    };
    tracing::info!(app_id = %call.app_id, call_id = %call.call_id, "call missed (ring timeout)");
    close_room(state, &call);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(query: &str) -> Result<(), String> {
        let uri: axum::http::Uri = format!("/api/v1/calls{query}").parse().unwrap();
        check_list_query(Query::try_from_uri(&uri)).map_err(|e| format!("{e:?}"))
    }

    #[test]
    fn the_list_query_accepts_only_the_pending_callee_listing() {
        for ok in [
            "",
            "?",
            "?role=callee",
            "?status=pending",
            "?role=callee&status=pending",
            "?status=pending&role=callee",
            "?role=callee&&status=pending&",
            "?role=%63allee",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        for bad in [
            "?role=caller",
            "?role=",
            "?role",
            "?role=Callee",
            "?status=ringing",
            "?status=pending,ringing",
            "?role=callee&role=callee",
            "?status=pending&status=pending",
            "?limit=10",
            "?role=callee&status=pending&x=1",
            "?=callee",
            "?role%3Dcallee",
        ] {
            let e = check(bad).expect_err(bad);
            assert!(
                e.contains("InvalidArgument") || e.contains("invalid_argument"),
                "{bad}: {e}"
            );
        }
    }
}
