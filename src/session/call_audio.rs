//! When a call may use the microphone: at once (the default), or only while
//! the OS has handed the app its audio session.
//!
//! On iOS, CallKit activates the call's audio session itself and says so in
//! `provider(_:didActivate:)`. An audio unit started before that (by
//! publishing the microphone on join) runs on a session CallKit then
//! replaces, and the call has no audio. So the CallKit bridge closes the gate
//! when it is set up and opens it on activation; every call session of the
//! controller follows it.

use std::sync::atomic::{AtomicBool, Ordering};

/// Whether calls may publish the microphone now. Shared by a controller and
/// the call sessions it creates.
#[derive(Debug)]
pub struct CallAudioGate {
    open: AtomicBool,
}

impl CallAudioGate {
    /// A gate that is open: the microphone is published on join.
    pub fn new_open() -> Self {
        Self {
            open: AtomicBool::new(true),
        }
    }

    /// Whether the microphone may be on.
    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::SeqCst)
    }

    /// Opens (audio session active) or closes (inactive) the gate. Sessions
    /// apply it through `Call::apply_audio`.
    pub fn set(&self, open: bool) {
        self.open.store(open, Ordering::SeqCst);
    }
}
