//! What every exported session object holds: the Rust-level session, its
//! `UTDRoom`, and whether the app disposed it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::room::UTDRoom;
use crate::error::UTDStreamError;
use crate::session::RoomCore;
use crate::types::UTDStreamType;

/// The shared half of an exported session.
#[derive(Debug)]
pub(crate) struct SessionHandle<T> {
    inner: Arc<T>,
    room: Arc<UTDRoom>,
    disposed: AtomicBool,
    /// The exported name, for `disposed` errors.
    what: &'static str,
}

impl<T> SessionHandle<T> {
    /// Wraps `inner`, whose media room is `core`.
    pub fn new(
        what: &'static str,
        inner: Arc<T>,
        core: Arc<RoomCore>,
        stream_type: UTDStreamType,
        room_name: String,
    ) -> Self {
        Self {
            inner,
            room: Arc::new(UTDRoom::new(core, stream_type, room_name)),
            disposed: AtomicBool::new(false),
            what,
        }
    }

    /// The Rust-level session.
    pub fn inner(&self) -> &Arc<T> {
        &self.inner
    }

    /// The exported room.
    pub fn room(&self) -> Arc<UTDRoom> {
        self.room.clone()
    }

    /// The session for an action, or `disposed`.
    pub fn alive(&self) -> Result<Arc<T>, UTDStreamError> {
        if self.disposed.load(Ordering::Acquire) {
            Err(UTDStreamError::disposed(self.what))
        } else {
            Ok(self.inner.clone())
        }
    }

    /// Marks the session (and its room) disposed; true only the first time.
    pub fn begin_dispose(&self) -> bool {
        if self.disposed.swap(true, Ordering::AcqRel) {
            return false;
        }
        self.room.mark_disposed();
        true
    }
}
