//! Publish permissions sent to LiveKit beside the reply, retried until
//! LiveKit takes them, whichever node made the change and whichever is still
//! running.
//!
//! A seat or stage change records the permission it wants in the grant
//! outbox within its own transaction ([`crate::db::grants`]), so the
//! reply never waits on LiveKit (a frozen SFU used to hold it for the
//! RoomService timeout, 5 s) and the SDK waits for LiveKit's own permission
//! update anyway. After the commit the node starts a worker for the
//! participant. The worker leases the participant's row (one sender at a
//! time across nodes), sends the newest permission, retrying with backoff
//! while LiveKit fails, and removes the row only if no newer change was
//! recorded meanwhile; otherwise it sends again. So an older grant never
//! stays in LiveKit after a newer revoke, even when the two changes were
//! made on two nodes. A sweep on every node picks up rows no live lease
//! covers: those of a node that died mid-retry.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use livekit_protocol::TrackSource;

use crate::db::grants::{self as store, Wanted};
use crate::db::sql::Conn;
use crate::db::DbError;
use crate::ids::now_ms;
use crate::livekit::{set_publish, Applied};
use crate::state::AppState;

/// How long a permission LiveKit keeps refusing is retried.
pub const RETRY_FOR: Duration = Duration::from_secs(120);
const FIRST_RETRY: Duration = Duration::from_millis(250);
const LAST_RETRY: Duration = Duration::from_secs(5);
/// How long a worker's hold on a row lasts without renewal. Renewed before
/// every attempt, and longer than an attempt (the RoomService timeout, 5 s)
/// plus the longest pause between two, so a live worker never loses it;
/// a dead node's rows are taken over once it has run out.
const LEASE: Duration = Duration::from_secs(20);
/// How often every node looks for rows no lease covers.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// Rows picked up per sweep.
const SWEEP_BATCH: i64 = 100;

/// A participant: the LiveKit room and the identity.
type Key = (String, String);

/// This node's workers, one per participant it is sending for.
#[derive(Debug)]
pub struct Grants {
    /// Names this process's leases.
    owner: String,
    /// Participants with a worker running here; `true` when a change was
    /// recorded after the worker last read its row.
    running: Mutex<HashMap<Key, bool>>,
}

impl Default for Grants {
    fn default() -> Self {
        Grants {
            owner: crate::ids::random_b64(12),
            running: Mutex::new(HashMap::new()),
        }
    }
}

impl Grants {
    fn lock(&self) -> MutexGuard<'_, HashMap<Key, bool>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// LiveKit's names of track sources, as the outbox stores them.
pub fn source_names(sources: &[TrackSource]) -> String {
    sources
        .iter()
        .map(|s| s.as_str_name().to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_sources(names: &str) -> Vec<TrackSource> {
    names
        .split(',')
        .filter_map(|name| TrackSource::from_str_name(&name.to_ascii_uppercase()))
        .collect()
}

/// Records, inside a change's transaction, the permission it wants for
/// `identity` in `lk_room`; [`send`] it after the commit.
pub fn record(
    conn: &Conn<'_>,
    lk_room: &str,
    identity: &str,
    publish: bool,
    sources: &[TrackSource],
) -> Result<(), DbError> {
    let give_up_at = now_ms().saturating_add(RETRY_FOR.as_millis() as u64) as i64;
    store::record(
        conn,
        lk_room,
        identity,
        publish,
        &source_names(sources),
        give_up_at,
    )
}

/// Sends a recorded permission to LiveKit in the background (see the module
/// comment). Returns at once.
pub fn send(state: &AppState, lk_room: &str, identity: &str) {
    let key = (lk_room.to_owned(), identity.to_owned());
    {
        let mut running = state.grants.lock();
        if let Some(again) = running.get_mut(&key) {
            *again = true;
            return;
        }
        running.insert(key.clone(), false);
    }
    let worker_state = state.clone();
    state.tracker.spawn(worker(worker_state, key));
}

/// Starts the sweep that takes over rows no lease covers.
pub fn spawn_sweep(state: &AppState) {
    let state = state.clone();
    state.tracker.clone().spawn(async move {
        let mut ticker = tokio::time::interval(SWEEP_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = state.shutdown.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let now = now_ms() as i64;
            match state
                .db
                .read(move |c| store::unleased(c, now, SWEEP_BATCH))
                .await
            {
                Ok(rows) => {
                    for (lk_room, identity) in rows {
                        send(&state, &lk_room, &identity);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "grant sweep failed; retried next round"),
            }
        }
    });
}

/// What the worker does after an attempt.
enum Next {
    /// Send the newest permission again at once.
    Again,
    /// Wait, then try again.
    Retry,
    /// Nothing left for this worker.
    Done,
}

async fn worker(state: AppState, key: Key) {
    let mut delay = FIRST_RETRY;
    loop {
        let outcome = tokio::select! {
            outcome = attempt(&state, &key) => outcome,
            _ = state.shutdown.cancelled() => {
                release(&state, &key).await;
                return;
            }
        };
        let next = match outcome {
            Ok(next) => next,
            Err(e) => {
                // The outbox keeps the row: a sweep sends it later.
                tracing::warn!(error = %e, room = %key.0, "grant outbox unreachable");
                Next::Done
            }
        };
        match next {
            Next::Again => {
                delay = FIRST_RETRY;
                continue;
            }
            Next::Retry => {
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = state.shutdown.cancelled() => {
                        release(&state, &key).await;
                        return;
                    }
                }
                delay = (delay * 2).min(LAST_RETRY);
            }
            Next::Done => {
                let mut running = state.grants.lock();
                if running.get(&key) == Some(&true) {
                    // A change came in as this worker finished.
                    running.insert(key.clone(), false);
                    drop(running);
                    delay = FIRST_RETRY;
                    continue;
                }
                running.remove(&key);
                return;
            }
        }
    }
}

/// One lease, send and settle.
async fn attempt(state: &AppState, key: &Key) -> Result<Next, DbError> {
    let (room, identity, owner) = (key.0.clone(), key.1.clone(), state.grants.owner.clone());
    if let Some(again) = state.grants.lock().get_mut(key) {
        // What is read below is the newest there is.
        *again = false;
    }
    let now = now_ms() as i64;
    let lease_until = now.saturating_add(LEASE.as_millis() as i64);
    let claimed: Option<Wanted> = state
        .db
        .call(move |c| store::claim(c, &room, &identity, &owner, now, lease_until))
        .await?;
    // Gone (sent by someone), or another node's worker holds it: that one
    // sees this change when it settles.
    let Some(wanted) = claimed else {
        return Ok(Next::Done);
    };
    let applied = set_publish(
        &state.room_client,
        &state.metrics,
        &key.0,
        &key.1,
        wanted.publish,
        &parse_sources(&wanted.sources),
    )
    .await;
    let settled = applied != Applied::Failed;
    let given_up = !settled && now_ms() as i64 >= wanted.give_up_at_ms;
    if !settled && !given_up {
        return Ok(Next::Retry);
    }
    let (room, identity, generation) = (key.0.clone(), key.1.clone(), wanted.generation);
    let removed = state
        .db
        .call(move |c| store::settle(c, &room, &identity, generation))
        .await?;
    if !removed {
        // Changed meanwhile: send the newest at once.
        return Ok(Next::Again);
    }
    if given_up {
        tracing::warn!(
            room = %key.0,
            identity = %key.1,
            publish = wanted.publish,
            "LiveKit did not take the permission; given up"
        );
    }
    Ok(Next::Done)
}

/// Lets another node take the row at once (this one is stopping).
async fn release(state: &AppState, key: &Key) {
    let (room, identity, owner) = (key.0.clone(), key.1.clone(), state.grants.owner.clone());
    if let Err(e) = state
        .db
        .call(move |c| store::release(c, &room, &identity, &owner))
        .await
    {
        tracing::warn!(error = %e, "could not release a grant lease");
    }
}
