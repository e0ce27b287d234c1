//! The controller's ledger of calls: one entry per call id, fed by every
//! path that can tell of a call (VoIP / FCM push, WebSocket invitation,
//! pending-calls listing, `call.updated`, a reconcile, this device's own
//! accept or decline) in whatever order they arrive.
//!
//! Pure state: no I/O, no clock. Each input returns the notes the host
//! must hear, and the ledger guarantees what apps of this kind get wrong
//! most: a call is announced at most once (push and WebSocket for the same
//! call are one call), it ends at most once, and once over it is never
//! resurrected by a late invitation or a stale listing.

use std::collections::{HashMap, VecDeque};

use crate::types::{UTDCallEndReason, UTDStreamType};

/// How the controller first heard of an incoming call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum UTDCallSource {
    /// A VoIP (APNs) or FCM push handed to `handleCallPush`.
    Push,
    /// A `call.invitation` on the signal WebSocket.
    WebSocket,
    /// The engine's list of calls ringing for this user.
    PendingList,
    /// A `reconcile` that found the call ringing.
    Reconcile,
}

/// An incoming call as the host shows it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UTDIncomingCall {
    /// The engine's call id.
    pub call_id: String,
    /// `callKitUuid(callId)`: the system call's UUID.
    pub call_kit_uuid: String,
    /// Who calls (null while only a push without it is known).
    pub caller_identity: Option<String>,
    /// The caller's display name.
    pub caller_name: Option<String>,
    /// `audioCall` or `videoCall`.
    pub stream_type: UTDStreamType,
    /// When the call stops ringing (engine clock), when known.
    pub ring_expires_at_ms: Option<u64>,
    /// Where the controller first heard of it.
    pub source: UTDCallSource,
}

/// What the engine says of a call (a `call.updated`, a reply, a read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineState {
    /// `initiating` / `ringing`.
    Pending,
    /// `active`, answered by some device of the callee.
    Active,
    /// Over, and the engine's reason.
    Over {
        /// The callee declined (`rejected` / `busy`): on a callee device
        /// that did not decline, another device did.
        declined: bool,
        /// The engine's `end_reason`.
        reason: UTDCallEndReason,
    },
}

/// Where one call stands on this device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Ringing here; nothing done yet.
    Ringing,
    /// This device is accepting (the engine's reply decides).
    Accepting,
    /// This device is in the call (answered here, or the caller's call).
    InCall,
    /// This device is declining.
    Declining,
    /// Over for this device, and why.
    Over(UTDCallEndReason),
}

/// What the host must hear after an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// A new incoming call: show it.
    Incoming(UTDIncomingCall),
    /// A call shown before (or this device's own call) is over.
    Ended {
        /// The call.
        call_id: String,
        /// Why.
        reason: UTDCallEndReason,
    },
}

/// What an accept should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptStart {
    /// Ask the engine.
    Go,
    /// Already in this call on this device.
    AlreadyInCall,
}

#[derive(Debug, Clone)]
struct Entry {
    call: Option<UTDIncomingCall>,
    phase: Phase,
    outgoing: bool,
    announced: bool,
}

/// How many calls the ledger remembers; the oldest are forgotten first
/// (long over by then).
const CAPACITY: usize = 512;

/// The ledger.
#[derive(Debug, Default)]
pub struct Registry {
    entries: HashMap<String, Entry>,
    order: VecDeque<String>,
}

impl Registry {
    /// Where `call_id` stands, if known.
    pub fn phase(&self, call_id: &str) -> Option<Phase> {
        self.entries.get(call_id).map(|e| e.phase.clone())
    }

    /// What is known of incoming call `call_id`.
    pub fn call(&self, call_id: &str) -> Option<UTDIncomingCall> {
        self.entries.get(call_id).and_then(|e| e.call.clone())
    }

    /// The incoming calls ringing here now, oldest first.
    pub fn ringing(&self) -> Vec<UTDIncomingCall> {
        self.order
            .iter()
            .filter_map(|id| self.entries.get(id))
            .filter(|e| e.phase == Phase::Ringing && !e.outgoing)
            .filter_map(|e| e.call.clone())
            .collect()
    }

    /// Some path says `call` is ringing for this user.
    pub fn saw_ringing(&mut self, call: UTDIncomingCall) -> Vec<Note> {
        let entry = self.entry(&call.call_id);
        if entry.outgoing {
            return Vec::new();
        }
        match &mut entry.call {
            // Fill in what an earlier, thinner source lacked (a push
            // without a name, then the WebSocket's full call).
            Some(known) => {
                known.caller_identity = known.caller_identity.take().or(call.caller_identity);
                known.caller_name = known.caller_name.take().or(call.caller_name);
                known.ring_expires_at_ms = known.ring_expires_at_ms.or(call.ring_expires_at_ms);
            }
            None => entry.call = Some(call),
        }
        if entry.phase == Phase::Ringing && !entry.announced {
            entry.announced = true;
            if let Some(call) = entry.call.clone() {
                return vec![Note::Incoming(call)];
            }
        }
        Vec::new()
    }

    /// The engine's state of `call_id` (a push, a reply or a read). For an
    /// incoming call not seen before, `ringing` says how to show it.
    pub fn saw_engine_state(
        &mut self,
        call_id: &str,
        state: EngineState,
        ringing: Option<UTDIncomingCall>,
    ) -> Vec<Note> {
        match state {
            EngineState::Pending => match ringing {
                Some(call) => self.saw_ringing(call),
                None => Vec::new(),
            },
            EngineState::Active => {
                let entry = self.entry(call_id);
                match entry.phase {
                    // Answered, and not by this device (its own accept is
                    // Accepting until the engine's reply).
                    Phase::Ringing | Phase::Declining => {
                        self.finish(call_id, UTDCallEndReason::AnsweredElsewhere)
                    }
                    _ => Vec::new(),
                }
            }
            EngineState::Over { declined, reason } => {
                let entry = self.entry(call_id);
                let elsewhere = declined && !entry.outgoing && entry.phase != Phase::Declining;
                let reason = if elsewhere {
                    UTDCallEndReason::DeclinedElsewhere
                } else {
                    reason
                };
                self.finish(call_id, reason)
            }
        }
    }

    /// A `call_ended` push (FCM): the call is over for this device, unless
    /// this device is the one in it (its own state comes from the engine).
    pub fn saw_ended_push(&mut self, call_id: &str, reason: UTDCallEndReason) -> Vec<Note> {
        match self.entry(call_id).phase {
            Phase::Accepting | Phase::InCall => Vec::new(),
            _ => self.finish(call_id, reason),
        }
    }

    /// This device starts accepting `call_id`: go ahead, or the reason it
    /// is already over (a typed result for the host, never a join into
    /// nothing).
    pub fn begin_accept(&mut self, call_id: &str) -> Result<AcceptStart, UTDCallEndReason> {
        let entry = self.entry(call_id);
        match &entry.phase {
            Phase::Ringing | Phase::Accepting => {
                entry.phase = Phase::Accepting;
                Ok(AcceptStart::Go)
            }
            Phase::InCall => Ok(AcceptStart::AlreadyInCall),
            Phase::Declining => Err(UTDCallEndReason::Rejected),
            Phase::Over(reason) => Err(reason.clone()),
        }
    }

    /// The engine accepted and this device joined.
    pub fn accepted(&mut self, call_id: &str) {
        let entry = self.entry(call_id);
        if entry.phase == Phase::Accepting {
            entry.phase = Phase::InCall;
        }
    }

    /// The accept did not reach the engine (network): ringing again, so a
    /// retry can accept.
    pub fn accept_interrupted(&mut self, call_id: &str) {
        let entry = self.entry(call_id);
        if entry.phase == Phase::Accepting {
            entry.phase = Phase::Ringing;
        }
    }

    /// This device starts declining: `Ok(true)` to ask the engine,
    /// `Ok(false)` when this device is in the call (end it instead), or
    /// the reason it is already over.
    pub fn begin_decline(&mut self, call_id: &str) -> Result<bool, UTDCallEndReason> {
        let entry = self.entry(call_id);
        match &entry.phase {
            Phase::Ringing | Phase::Declining => {
                entry.phase = Phase::Declining;
                Ok(true)
            }
            Phase::Accepting | Phase::InCall => Ok(false),
            Phase::Over(reason) => Err(reason.clone()),
        }
    }

    /// The decline did not reach the engine: ringing again.
    pub fn decline_interrupted(&mut self, call_id: &str) {
        let entry = self.entry(call_id);
        if entry.phase == Phase::Declining {
            entry.phase = Phase::Ringing;
        }
    }

    /// This device's own outgoing call.
    pub fn started_outgoing(&mut self, call_id: &str) {
        let entry = self.entry(call_id);
        entry.outgoing = true;
        entry.phase = Phase::InCall;
    }

    /// The call is over for this device with `reason` (once).
    pub fn finish(&mut self, call_id: &str, reason: UTDCallEndReason) -> Vec<Note> {
        let entry = self.entry(call_id);
        if matches!(entry.phase, Phase::Over(_)) {
            return Vec::new();
        }
        entry.phase = Phase::Over(reason.clone());
        // Only a call the host was told of (or is in) needs ending.
        if entry.announced || entry.outgoing || entry.call.is_some() {
            vec![Note::Ended {
                call_id: call_id.to_owned(),
                reason,
            }]
        } else {
            Vec::new()
        }
    }

    fn entry(&mut self, call_id: &str) -> &mut Entry {
        if !self.entries.contains_key(call_id) {
            if self.order.len() >= CAPACITY {
                if let Some(oldest) = self.order.pop_front() {
                    self.entries.remove(&oldest);
                }
            }
            self.order.push_back(call_id.to_owned());
        }
        self.entries.entry(call_id.to_owned()).or_insert(Entry {
            call: None,
            phase: Phase::Ringing,
            outgoing: false,
            announced: false,
        })
    }
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;
