//! The 1:1 call lifecycle as one device sees it: a pure state machine.
//!
//! The engine owns the call (docs/engine-api.md §5); this machine turns its
//! snapshots (REST replies and `call.updated` pushes, in any order, possibly
//! duplicated) into the status this device shows, and decides which local
//! actions make sense before anything is sent. Two rules hold whatever
//! arrives: a status never moves backwards (initiating → ringing → active →
//! terminal), and a terminal status never changes.

use crate::error::{UTDErrorCode, UTDStreamError};
use crate::types::UTDCallStatus;

/// Which side of the call this device is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallRole {
    /// Started the call.
    Caller,
    /// Was called (one of possibly several devices of the callee).
    Callee,
}

/// Something this device asks the engine to do to an existing call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallAction {
    /// Callee: this device is ringing.
    Ringing,
    /// Callee: answer on this device.
    Accept,
    /// Callee: decline.
    Reject,
    /// Callee: decline because busy.
    Busy,
    /// Either side: hang up (cancel before an answer, end after).
    End,
}

impl CallAction {
    /// Every action, for exhaustive tests.
    pub const ALL: [CallAction; 5] = [
        CallAction::Ringing,
        CallAction::Accept,
        CallAction::Reject,
        CallAction::Busy,
        CallAction::End,
    ];

    /// The engine's action name (`POST /calls/{id}/{action}`).
    pub fn wire(self) -> &'static str {
        match self {
            Self::Ringing => "ringing",
            Self::Accept => "accept",
            Self::Reject => "reject",
            Self::Busy => "busy",
            Self::End => "end",
        }
    }
}

/// Whether a local action goes to the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    /// Send it.
    Send,
    /// Already the case (a duplicate): answer success without sending.
    AlreadyDone,
}

/// The engine's view of a call, reduced to what decides this device's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineView {
    /// The engine's status (never one of the `…Elsewhere` ones).
    pub status: UTDCallStatus,
    /// The device that answered, once active.
    pub answered_by_device: Option<String>,
}

/// One device's view of one call.
#[derive(Debug, Clone)]
pub struct CallMachine {
    role: CallRole,
    status: UTDCallStatus,
    device_id: Option<String>,
    accepted_here: bool,
    declined_here: bool,
}

impl CallMachine {
    /// A call in `status`, seen by `device_id` on the `role` side.
    pub fn new(role: CallRole, status: UTDCallStatus, device_id: Option<String>) -> Self {
        Self {
            role,
            status,
            device_id,
            accepted_here: false,
            declined_here: false,
        }
    }

    /// This device's side.
    pub fn role(&self) -> CallRole {
        self.role
    }

    /// What this device shows now.
    pub fn status(&self) -> UTDCallStatus {
        self.status
    }

    /// Whether this device may do `action` now; `Err` is the typed refusal
    /// (`forbidden` for the wrong side, `invalid_state` for a meaningless
    /// transition).
    pub fn permit(&self, action: CallAction) -> Result<Permit, UTDStreamError> {
        use UTDCallStatus as S;
        let status = self.status;
        if self.role == CallRole::Caller && action != CallAction::End {
            return Err(UTDStreamError::new(
                UTDErrorCode::Forbidden,
                format!(
                    "only the callee can {} a call; the caller can only end it",
                    action.wire()
                ),
            ));
        }
        let over = || {
            UTDStreamError::invalid_state(format!(
                "cannot {} the call: it is already {}",
                action.wire(),
                status.as_wire()
            ))
        };
        match action {
            CallAction::End => Ok(if status.is_terminal() {
                Permit::AlreadyDone
            } else {
                Permit::Send
            }),
            CallAction::Ringing => match status {
                S::Initiating => Ok(Permit::Send),
                S::Ringing => Ok(Permit::AlreadyDone),
                _ => Err(over()),
            },
            CallAction::Accept => match status {
                S::Initiating | S::Ringing => Ok(Permit::Send),
                S::Active => Ok(Permit::AlreadyDone),
                S::AnsweredElsewhere => Err(UTDStreamError::invalid_state(
                    "cannot accept the call: it was answered on another device",
                )),
                _ => Err(over()),
            },
            CallAction::Reject | CallAction::Busy => match status {
                S::Initiating | S::Ringing => Ok(Permit::Send),
                S::Active => Err(UTDStreamError::invalid_state(format!(
                    "cannot {} an answered call; end it instead",
                    action.wire()
                ))),
                _ => Ok(Permit::AlreadyDone),
            },
        }
    }

    /// Records that this device is sending `action`, before it is sent, so
    /// that the engine's answer (or a push racing it) is seen as this
    /// device's doing.
    pub fn note_sending(&mut self, action: CallAction) {
        match action {
            CallAction::Accept => self.accepted_here = true,
            CallAction::Reject | CallAction::Busy => self.declined_here = true,
            CallAction::End if self.role == CallRole::Callee && !self.is_answered() => {
                self.declined_here = true
            }
            _ => {}
        }
    }

    /// The engine refused `action`: it was not this device's doing after all.
    pub fn note_refused(&mut self, action: CallAction) {
        match action {
            CallAction::Accept => self.accepted_here = false,
            CallAction::Reject | CallAction::Busy | CallAction::End => self.declined_here = false,
            CallAction::Ringing => {}
        }
    }

    /// Applies an engine snapshot. Returns the new status when it changed.
    pub fn apply(&mut self, engine: &EngineView) -> Option<UTDCallStatus> {
        let seen = self.perceive(engine);
        if self.status.is_terminal() || rank(seen) <= rank(self.status) {
            return None;
        }
        self.status = seen;
        Some(seen)
    }

    fn is_answered(&self) -> bool {
        self.status == UTDCallStatus::Active
    }

    /// The status this device shows for the engine's status.
    fn perceive(&self, engine: &EngineView) -> UTDCallStatus {
        use UTDCallStatus as S;
        if self.role == CallRole::Caller {
            return engine.status;
        }
        match engine.status {
            S::Active => {
                let answered_here = match (&self.device_id, &engine.answered_by_device) {
                    (Some(mine), Some(theirs)) => mine == theirs,
                    _ => self.accepted_here,
                };
                if answered_here {
                    S::Active
                } else {
                    S::AnsweredElsewhere
                }
            }
            S::Rejected | S::Busy if !self.declined_here => S::DeclinedElsewhere,
            // An answered call that ended was answered elsewhere unless this
            // device is the one in it.
            S::Ended if self.status != S::Active && !self.accepted_here => S::AnsweredElsewhere,
            other => other,
        }
    }
}

/// Progress order: a status never moves to a lower rank.
fn rank(status: UTDCallStatus) -> u8 {
    match status {
        UTDCallStatus::Initiating => 0,
        UTDCallStatus::Ringing => 1,
        UTDCallStatus::Active => 2,
        _ => 3,
    }
}

#[cfg(test)]
#[path = "call_machine_tests.rs"]
mod tests;
