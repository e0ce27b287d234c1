//! `SessionBase`: what every room session type shares (the media room, the
//! join that produced it, the engine bearer, the room's push subscription).

use std::sync::{Arc, Mutex, PoisonError};

use tokio::task::JoinHandle;

use crate::api::credentials::BearerToken;
use crate::api::EngineApi;
use crate::error::UTDStreamError;
use crate::media::{RoomTransport, TransportOptions};
use crate::session::context::{Admission, JoinRequest, SessionContext};
use crate::session::pushes::{self, PushTarget};
use crate::session::RoomCore;

/// The shared half of a room session.
#[derive(Debug)]
pub struct SessionBase {
    /// The media room and its observable state.
    pub core: Arc<RoomCore>,
    ctx: SessionContext,
    request: JoinRequest,
    admission: Mutex<Admission>,
    follower: Mutex<Option<JoinHandle<()>>>,
}

impl SessionBase {
    /// Joins the media room for `request` over `transport`.
    pub async fn join(
        ctx: SessionContext,
        transport: Arc<dyn RoomTransport>,
        request: JoinRequest,
    ) -> Result<Self, UTDStreamError> {
        let core = RoomCore::new(transport);
        let admission = ctx
            .join(&core, &request, TransportOptions::default())
            .await?;
        Ok(Self {
            core,
            ctx,
            request,
            admission: Mutex::new(admission),
            follower: Mutex::new(None),
        })
    }

    /// Feeds the room's engine pushes to `target`, then subscribes to them
    /// (the engine answers a subscription with the current state first).
    pub async fn follow_pushes<T: PushTarget>(&self, target: &Arc<T>) {
        let room_name = self.room_name();
        let receiver = self.ctx.signalling.room_pushes();
        let follower = pushes::follow(receiver, room_name.clone(), Arc::downgrade(target));
        if let Some(previous) = lock(&self.follower).replace(follower) {
            previous.abort();
        }
        self.ctx.subscribe_room(&room_name).await;
    }

    /// Joins the media room again after `leave` (a fresh room token).
    pub async fn rejoin(&self) -> Result<(), UTDStreamError> {
        let admission = self
            .ctx
            .join(&self.core, &self.request, TransportOptions::default())
            .await?;
        *lock(&self.admission) = admission;
        Ok(())
    }

    /// The un-prefixed room name.
    pub fn room_name(&self) -> String {
        lock(&self.admission).room_name.clone()
    }

    /// Whether the engine made this participant the host.
    pub fn is_host(&self) -> bool {
        lock(&self.admission).is_host
    }

    /// The joining user's identity.
    pub fn identity(&self) -> &str {
        &self.request.identity
    }

    /// The engine REST facade.
    pub fn api(&self) -> &EngineApi {
        &self.ctx.auth.api
    }

    /// The bearer for this session's engine calls.
    pub fn bearer(&self) -> BearerToken {
        let joined_with = lock(&self.admission).bearer.clone();
        self.ctx.bearer_for(&self.request.identity, &joined_with)
    }

    /// Leaves the media room; pushes keep arriving; `rejoin` reconnects.
    pub async fn leave(&self) -> Result<(), UTDStreamError> {
        self.core.leave().await
    }

    /// Leaves the room and stops following its pushes. Idempotent.
    pub async fn dispose(&self) {
        let follower = lock(&self.follower).take();
        if let Some(follower) = follower {
            follower.abort();
            if let Err(e) = self
                .ctx
                .signalling
                .unsubscribe_room(&self.room_name())
                .await
            {
                tracing::debug!(target: "utd_stream::session", "room unsubscribe: {e}");
            }
        }
        if let Err(e) = self.core.leave().await {
            tracing::debug!(target: "utd_stream::session", "leave on dispose: {e}");
        }
    }
}

impl Drop for SessionBase {
    fn drop(&mut self) {
        if let Some(follower) = lock(&self.follower).take() {
            follower.abort();
            self.ctx.release_room(self.room_name());
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
