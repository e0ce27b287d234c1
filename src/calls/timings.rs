//! Where an incoming call's time to first audio goes, phase by phase.

use std::collections::HashMap;
use std::sync::Mutex;

/// Timestamps (ms since the Unix epoch) of one incoming call's phases on
/// this device; null for a phase that did not happen (yet). The push's
/// send time is the engine's clock, every other one this device's.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct UTDCallTimings {
    /// The call.
    pub call_id: String,
    /// The engine sent the push (from the push payload).
    pub push_sent_at_ms: Option<u64>,
    /// `handleCallPush` got the push.
    pub push_received_at_ms: Option<u64>,
    /// The invitation arrived over the WebSocket or the pending list.
    pub invitation_received_at_ms: Option<u64>,
    /// The host reported the call to the OS UI (`markReported`).
    pub reported_at_ms: Option<u64>,
    /// `reconcile` had the engine's answer.
    pub reconciled_at_ms: Option<u64>,
    /// The user answered (`acceptIncoming`).
    pub answered_at_ms: Option<u64>,
    /// The engine accepted the answer.
    pub engine_accepted_at_ms: Option<u64>,
    /// This device was connected to the call's media room.
    pub media_connected_at_ms: Option<u64>,
    /// The first decoded frame of the other party's audio (desktop
    /// transport; phones play audio through the platform and leave it null).
    pub first_remote_audio_at_ms: Option<u64>,
}

/// Which phase a timestamp is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// See [`UTDCallTimings::push_received_at_ms`].
    PushReceived,
    /// See [`UTDCallTimings::invitation_received_at_ms`].
    InvitationReceived,
    /// See [`UTDCallTimings::reported_at_ms`].
    Reported,
    /// See [`UTDCallTimings::reconciled_at_ms`].
    Reconciled,
    /// See [`UTDCallTimings::answered_at_ms`].
    Answered,
    /// See [`UTDCallTimings::engine_accepted_at_ms`].
    EngineAccepted,
    /// See [`UTDCallTimings::media_connected_at_ms`].
    MediaConnected,
    /// See [`UTDCallTimings::first_remote_audio_at_ms`].
    FirstRemoteAudio,
}

/// How many calls' timings are kept.
const CAPACITY: usize = 64;

/// The timings of recent calls.
#[derive(Debug, Default)]
pub struct Timings(Mutex<HashMap<String, UTDCallTimings>>);

impl Timings {
    /// Records `phase` of `call_id` at `at_ms`, unless it already happened
    /// (the first time counts).
    pub fn mark(&self, call_id: &str, phase: Phase, at_ms: u64) {
        self.update(call_id, |t| {
            let slot = match phase {
                Phase::PushReceived => &mut t.push_received_at_ms,
                Phase::InvitationReceived => &mut t.invitation_received_at_ms,
                Phase::Reported => &mut t.reported_at_ms,
                Phase::Reconciled => &mut t.reconciled_at_ms,
                Phase::Answered => &mut t.answered_at_ms,
                Phase::EngineAccepted => &mut t.engine_accepted_at_ms,
                Phase::MediaConnected => &mut t.media_connected_at_ms,
                Phase::FirstRemoteAudio => &mut t.first_remote_audio_at_ms,
            };
            slot.get_or_insert(at_ms);
        });
    }

    /// Records the engine's send time from the push.
    pub fn push_sent(&self, call_id: &str, sent_at_ms: Option<u64>) {
        if let Some(sent) = sent_at_ms {
            self.update(call_id, |t| {
                t.push_sent_at_ms.get_or_insert(sent);
            });
        }
    }

    /// The timings of `call_id`, if any phase happened.
    pub fn get(&self, call_id: &str) -> Option<UTDCallTimings> {
        self.lock().get(call_id).cloned()
    }

    fn update(&self, call_id: &str, change: impl FnOnce(&mut UTDCallTimings)) {
        let mut map = self.lock();
        if !map.contains_key(call_id) && map.len() >= CAPACITY {
            // The oldest call (by its first timestamp) goes.
            let oldest = map
                .iter()
                .min_by_key(|(_, t)| first_time(t))
                .map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                map.remove(&oldest);
            }
        }
        let entry = map
            .entry(call_id.to_owned())
            .or_insert_with(|| UTDCallTimings {
                call_id: call_id.to_owned(),
                ..Default::default()
            });
        change(entry);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, UTDCallTimings>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn first_time(t: &UTDCallTimings) -> u64 {
    [
        t.push_received_at_ms,
        t.invitation_received_at_ms,
        t.answered_at_ms,
    ]
    .into_iter()
    .flatten()
    .min()
    .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_time_of_each_phase_counts_and_old_calls_are_dropped() {
        let timings = Timings::default();
        timings.push_sent("call_a", Some(5));
        timings.mark("call_a", Phase::PushReceived, 10);
        timings.mark("call_a", Phase::PushReceived, 99);
        timings.mark("call_a", Phase::Answered, 20);
        let t = timings.get("call_a").expect("timings");
        assert_eq!(
            (t.push_sent_at_ms, t.push_received_at_ms, t.answered_at_ms),
            (Some(5), Some(10), Some(20))
        );
        for i in 0..CAPACITY {
            timings.mark(
                &format!("call_{i}"),
                Phase::InvitationReceived,
                100 + i as u64,
            );
        }
        assert!(timings.get("call_a").is_none());
        assert!(timings.get(&format!("call_{}", CAPACITY - 1)).is_some());
    }
}
