//! `UTDLiveStreamSession`: the exported live stream.

use std::sync::Arc;

use tokio::sync::broadcast;

use super::handle::SessionHandle;
use super::listeners::{UTDStageListener, UTDStageRequestListener};
use super::room::UTDRoom;
use crate::error::UTDResult;
use crate::runtime;
use crate::session::live_stream::LiveStream;
use crate::subscription::UTDSubscription;
use crate::types::{UTDStage, UTDStageMember, UTDStreamType};

/// A live stream: the host publishes camera and microphone, viewers watch,
/// and the host can put any number of viewers on stage. Being on stage is
/// what grants publish, and only the server grants it.
#[derive(Debug, uniffi::Object)]
pub struct UTDLiveStreamSession {
    handle: SessionHandle<LiveStream>,
}

impl UTDLiveStreamSession {
    /// Wraps a joined Rust-level live stream.
    pub fn new(inner: Arc<LiveStream>) -> Self {
        let (core, stream_type, room_name) = (
            inner.base.core.clone(),
            UTDStreamType::LiveStream,
            inner.base.room_name(),
        );
        Self {
            handle: SessionHandle::new("UTDLiveStreamSession", inner, core, stream_type, room_name),
        }
    }

    /// The Rust-level session (benches, Rust apps).
    pub fn inner(&self) -> &Arc<LiveStream> {
        self.handle.inner()
    }
}

#[uniffi::export]
impl UTDLiveStreamSession {
    /// The media room: connection state, canPublish, participants, events,
    /// camera, microphone, data.
    pub fn room(&self) -> Arc<UTDRoom> {
        self.handle.room()
    }

    /// Always `liveStream`.
    pub fn stream_type(&self) -> UTDStreamType {
        UTDStreamType::LiveStream
    }

    /// The (un-prefixed) room name.
    pub fn room_name(&self) -> String {
        self.handle.inner().base.room_name()
    }

    /// Whether the engine made this participant the host (owner).
    pub fn is_host(&self) -> bool {
        self.handle.inner().base.is_host()
    }

    /// Who is on stage now (host first); empty before the stage is known.
    pub fn stage(&self) -> Vec<UTDStageMember> {
        self.handle
            .inner()
            .stage
            .get()
            .map(|stage| stage.members)
            .unwrap_or_default()
    }

    /// The whole stage (members and raised hands); null before it is known.
    pub fn stage_state(&self) -> Option<UTDStage> {
        self.handle.inner().stage.get()
    }

    /// Observes the stage: the current one (once known), then every newer one.
    pub fn observe_stage(&self, listener: Arc<dyn UTDStageListener>) -> Arc<UTDSubscription> {
        Arc::new(self.handle.inner().stage.subscribe(move |stage| {
            if let Some(stage) = stage {
                listener.on_stage(stage);
            }
        }))
    }

    /// Host: hears each raised hand as it happens.
    pub fn observe_stage_requests(
        &self,
        listener: Arc<dyn UTDStageRequestListener>,
    ) -> Arc<UTDSubscription> {
        let mut requests = self.handle.inner().stage_requests();
        let task = runtime::handle().spawn(async move {
            loop {
                match requests.recv().await {
                    Ok(request) => listener.on_stage_request(request),
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        Arc::new(UTDSubscription::new(move || task.abort()))
    }

    /// Starts broadcasting the microphone and, with `withVideo` (default),
    /// the camera. Fails with `forbidden` unless the server put this
    /// participant on stage (the host always is).
    #[uniffi::method(default(with_video = true))]
    pub async fn go_live(self: Arc<Self>, with_video: bool) -> UTDResult<()> {
        let inner = self.handle.alive()?;
        Ok(runtime::run(async move { inner.go_live(with_video).await }).await?)
    }

    /// Fetches the stage from the engine.
    pub async fn refresh_stage(self: Arc<Self>) -> UTDResult<UTDStage> {
        let inner = self.handle.alive()?;
        Ok(runtime::run(async move { inner.refresh_stage().await }).await?)
    }

    /// Host: puts a viewer on stage (the server grants camera + microphone;
    /// their `canPublish` turns true). No limit on co-hosts.
    pub async fn invite_to_stage(self: Arc<Self>, identity: String) -> UTDResult<UTDStage> {
        let inner = self.handle.alive()?;
        Ok(runtime::run(async move { inner.invite_to_stage(&identity).await }).await?)
    }

    /// Host: sends a co-host back to the audience (publish revoked, their
    /// tracks go away).
    pub async fn remove_from_stage(self: Arc<Self>, identity: String) -> UTDResult<UTDStage> {
        let inner = self.handle.alive()?;
        Ok(runtime::run(async move { inner.remove_from_stage(&identity).await }).await?)
    }

    /// Viewer: raises a hand; the host is notified.
    pub async fn request_stage(self: Arc<Self>) -> UTDResult<UTDStage> {
        let inner = self.handle.alive()?;
        Ok(runtime::run(async move { inner.request_stage().await }).await?)
    }

    /// Co-host: steps down to the audience; camera and microphone go off.
    pub async fn leave_stage(self: Arc<Self>) -> UTDResult<UTDStage> {
        let inner = self.handle.alive()?;
        Ok(runtime::run(async move { inner.leave_stage().await }).await?)
    }

    /// Leaves the media room but keeps the session: stage updates keep
    /// arriving and `rejoin()` connects again.
    pub async fn leave(self: Arc<Self>) -> UTDResult<()> {
        let inner = self.handle.alive()?;
        Ok(runtime::run(async move { inner.base.leave().await }).await?)
    }

    /// Joins the media room again after `leave()`.
    pub async fn rejoin(self: Arc<Self>) -> UTDResult<()> {
        let inner = self.handle.alive()?;
        Ok(runtime::run(async move { inner.base.rejoin().await }).await?)
    }

    /// Leaves the room and stops stage updates. Every later action (stage calls,
    /// leave, rejoin, media) fails with `disposed`; getters keep the last state. Idempotent.
    pub async fn dispose(self: Arc<Self>) {
        if !self.handle.begin_dispose() {
            return;
        }
        let inner = self.handle.inner().clone();
        let _ = runtime::run(async move {
            inner.base.dispose().await;
            Ok(())
        })
        .await;
    }
}
