//! Publish permissions sent to LiveKit beside the reply, retried until
//! LiveKit takes them.
//!
//! A seat or stage change is recorded in the database first; its LiveKit
//! permission used to be awaited before the reply, so a frozen SFU held the
//! reply for the RoomService timeout (5 s). Now the reply goes out at once
//! (the SDK waits for LiveKit's own permission update anyway) and a worker per
//! participant sends the newest wanted permission, retrying with backoff while
//! LiveKit fails, until it succeeds or [`RETRY_FOR`] has passed. Changes for
//! the same participant made meanwhile replace the wanted permission, so an
//! older grant never lands after a newer revoke.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use livekit_protocol::TrackSource;

use crate::livekit::{set_publish, Applied};
use crate::state::AppState;

/// How long a permission LiveKit keeps refusing is retried.
pub const RETRY_FOR: Duration = Duration::from_secs(120);
const FIRST_RETRY: Duration = Duration::from_millis(250);
const LAST_RETRY: Duration = Duration::from_secs(5);

/// A participant: the LiveKit room and the identity.
type Key = (String, String);

#[derive(Debug, Clone, Copy, PartialEq)]
struct Wanted {
    publish: bool,
    sources: &'static [TrackSource],
    /// Bumped by every change, so a worker knows whether what it sent is
    /// still the newest.
    generation: u64,
}

/// The permissions on their way to LiveKit, one entry per participant with
/// a worker running.
#[derive(Debug, Default)]
pub struct Grants {
    wanted: Mutex<HashMap<Key, Wanted>>,
}

impl Grants {
    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Wanted>> {
        self.wanted.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Sends `identity`'s complete permission in `lk_room` to LiveKit in the
/// background (see the module comment). Returns at once.
pub fn apply(
    state: &AppState,
    lk_room: &str,
    identity: &str,
    publish: bool,
    sources: &'static [TrackSource],
) {
    let key = (lk_room.to_owned(), identity.to_owned());
    let start_worker = {
        let mut wanted = state.grants.lock();
        match wanted.get_mut(&key) {
            Some(entry) => {
                *entry = Wanted {
                    publish,
                    sources,
                    generation: entry.generation + 1,
                };
                false
            }
            None => {
                wanted.insert(
                    key.clone(),
                    Wanted {
                        publish,
                        sources,
                        generation: 0,
                    },
                );
                true
            }
        }
    };
    if start_worker {
        tokio::spawn(worker(state.clone(), key));
    }
}

/// After a permission was applied directly (a stage invite, which must know
/// at once whether the identity is in the room): makes it the newest wanted
/// one for a worker still retrying an older change of that participant.
pub fn supersede(
    state: &AppState,
    lk_room: &str,
    identity: &str,
    publish: bool,
    sources: &'static [TrackSource],
) {
    let key = (lk_room.to_owned(), identity.to_owned());
    if let Some(entry) = state.grants.lock().get_mut(&key) {
        *entry = Wanted {
            publish,
            sources,
            generation: entry.generation + 1,
        };
    }
}

async fn worker(state: AppState, key: Key) {
    let give_up_at = tokio::time::Instant::now() + RETRY_FOR;
    let mut delay = FIRST_RETRY;
    loop {
        let Some(sent) = state.grants.lock().get(&key).copied() else {
            return;
        };
        let applied = set_publish(
            &state.room_client,
            &state.metrics,
            &key.0,
            &key.1,
            sent.publish,
            sent.sources,
        )
        .await;
        let settled = applied != Applied::Failed;
        {
            let mut wanted = state.grants.lock();
            let newer = wanted
                .get(&key)
                .is_some_and(|w| w.generation != sent.generation);
            if newer {
                // Changed meanwhile: send the newest at once.
                delay = FIRST_RETRY;
                continue;
            }
            if settled || tokio::time::Instant::now() >= give_up_at {
                if !settled {
                    tracing::warn!(
                        room = %key.0,
                        identity = %key.1,
                        publish = sent.publish,
                        "LiveKit did not take the permission; given up"
                    );
                }
                wanted.remove(&key);
                return;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = state.shutdown.cancelled() => return,
        }
        delay = (delay * 2).min(LAST_RETRY);
    }
}
