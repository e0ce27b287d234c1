//! Following one room's engine pushes (seats / stage) for a session.

use std::sync::Weak;

use async_trait::async_trait;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::runtime;
use crate::signalling::RoomPush;

/// A session that applies its room's pushes.
#[async_trait]
pub trait PushTarget: Send + Sync + 'static {
    /// Applies one push for this session's room.
    fn apply_push(&self, push: RoomPush);
    /// Called after pushes were missed (slow consumer): fetch the state again.
    async fn resync(&self);
}

/// Feeds `room`'s pushes from `receiver` to `target` until the target is
/// gone or signalling is dropped. Take `receiver` before subscribing to the
/// room so the engine's first (current-state) push is not missed.
pub fn follow<T: PushTarget>(
    mut receiver: broadcast::Receiver<RoomPush>,
    room: String,
    target: Weak<T>,
) -> JoinHandle<()> {
    runtime::handle().spawn(async move {
        loop {
            match receiver.recv().await {
                Ok(push) if push.room_name() == room => match target.upgrade() {
                    Some(target) => target.apply_push(push),
                    None => return,
                },
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(target: "utd_stream::session", room, missed, "room pushes lagged; refetching");
                    match target.upgrade() {
                        Some(target) => target.resync().await,
                        None => return,
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    })
}
