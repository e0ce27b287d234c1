//! Live stream: one host publishes, any number of viewers watch, and the
//! host promotes viewers to the stage (co-publishers, no cap). Being on the
//! stage is what grants camera + microphone, and the grant comes from the
//! server; the session only reflects it. Stage changes arrive as engine
//! pushes (`stage.updated`, and `stage.requested` for the host) and in the
//! replies to this session's own stage calls; the highest `version` wins.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::broadcast;

use crate::api::stage::StageWire;
use crate::error::{UTDErrorCode, UTDStreamError};
use crate::media::RoomTransport;
use crate::observe::Observable;
use crate::session::base::SessionBase;
use crate::session::context::{JoinRequest, SessionContext};
use crate::session::pushes::PushTarget;
use crate::signalling::RoomPush;
use crate::types::{UTDStage, UTDStageRequest, UTDStreamType};

/// How many stage requests a slow listener may fall behind on.
const STAGE_REQUEST_CAPACITY: usize = 64;

/// What `join` needs to know.
#[derive(Debug, Clone)]
pub struct LiveStreamJoin {
    /// The joining user.
    pub identity: String,
    /// Room to join (un-prefixed).
    pub room_name: String,
    /// Join as the room's host (owner).
    pub as_host: bool,
    /// Display name.
    pub name: Option<String>,
    /// Device id.
    pub device_id: Option<String>,
}

/// A joined live stream.
#[derive(Debug)]
pub struct LiveStream {
    /// The media room, the join and the push subscription.
    pub base: SessionBase,
    /// The stage: the newest of the engine's pushes and replies.
    pub stage: Observable<Option<UTDStage>>,
    stage_requests: broadcast::Sender<UTDStageRequest>,
}

impl LiveStream {
    /// Mints a room token (authenticating `join.identity` first when the
    /// client has no session for it), connects the media room and subscribes
    /// to stage pushes.
    pub async fn join(
        ctx: SessionContext,
        transport: Arc<dyn RoomTransport>,
        join: LiveStreamJoin,
    ) -> Result<Arc<LiveStream>, UTDStreamError> {
        let request = JoinRequest {
            identity: join.identity,
            room_name: join.room_name,
            stream_type: UTDStreamType::LiveStream,
            as_host: join.as_host,
            name: join.name,
            device_id: join.device_id,
        };
        let (stage_requests, _) = broadcast::channel(STAGE_REQUEST_CAPACITY);
        let stream = Arc::new(LiveStream {
            base: SessionBase::join(ctx, transport, request).await?,
            stage: Observable::new(None),
            stage_requests,
        });
        stream.base.follow_pushes(&stream).await;
        if stream.stage.get().is_none() {
            // No push arrived (signalling unavailable): one fetch so the
            // stage is known; stage calls still report their own errors.
            if let Err(e) = stream.refresh_stage().await {
                tracing::warn!(target: "utd_stream::session", room = %stream.base.room_name(), "stage unknown after join: {e}");
            }
        }
        Ok(stream)
    }

    /// Raised hands, as the engine notifies the host (`stage.requested`).
    pub fn stage_requests(&self) -> broadcast::Receiver<UTDStageRequest> {
        self.stage_requests.subscribe()
    }

    /// Starts broadcasting: microphone, and the camera when `with_video`.
    /// Refused (`forbidden`) unless the server put this participant on stage.
    pub async fn go_live(&self, with_video: bool) -> Result<(), UTDStreamError> {
        self.base.core.set_microphone(true).await?;
        if with_video {
            self.base.core.set_camera(true).await?;
        }
        Ok(())
    }

    /// Fetches the stage from the engine.
    pub async fn refresh_stage(&self) -> Result<UTDStage, UTDStreamError> {
        let wire = self
            .base
            .api()
            .get_stage(&self.base.bearer(), &self.base.room_name())
            .await?;
        Ok(self.record(wire))
    }

    /// Host: puts `identity` on stage (camera + microphone granted by the server).
    pub async fn invite_to_stage(&self, identity: &str) -> Result<UTDStage, UTDStreamError> {
        let wire = self
            .base
            .api()
            .invite_to_stage(&self.base.bearer(), &self.base.room_name(), identity)
            .await?;
        Ok(self.record(wire))
    }

    /// Host: takes `identity` off the stage (publish revoked; their tracks go away).
    pub async fn remove_from_stage(&self, identity: &str) -> Result<UTDStage, UTDStreamError> {
        let wire = self
            .base
            .api()
            .remove_from_stage(&self.base.bearer(), &self.base.room_name(), identity)
            .await?;
        Ok(self.record(wire))
    }

    /// Viewer: raises a hand; the host is notified.
    pub async fn request_stage(&self) -> Result<UTDStage, UTDStreamError> {
        let wire = self
            .base
            .api()
            .request_stage(&self.base.bearer(), &self.base.room_name())
            .await?;
        Ok(self.record(wire))
    }

    /// Co-host: steps down to viewer; camera and microphone go off.
    pub async fn leave_stage(&self) -> Result<UTDStage, UTDStreamError> {
        let wire = self
            .base
            .api()
            .leave_stage(&self.base.bearer(), &self.base.room_name())
            .await?;
        let stage = self.record(wire);
        // The server revokes publish and unpublishes; turning the sources off
        // here makes the local state say so at once.
        for result in [
            self.base.core.set_camera(false).await,
            self.base.core.set_microphone(false).await,
        ] {
            if let Err(e) = result {
                if !matches!(
                    e.code(),
                    UTDErrorCode::Forbidden | UTDErrorCode::InvalidState
                ) {
                    return Err(e);
                }
            }
        }
        Ok(stage)
    }

    /// Keeps `wire` unless a newer stage is already known; returns it typed.
    fn record(&self, wire: StageWire) -> UTDStage {
        let stage = UTDStage::from(wire);
        self.stage.update(|current| {
            if current.as_ref().is_none_or(|c| c.version <= stage.version) {
                *current = Some(stage.clone());
            }
        });
        stage
    }
}

#[async_trait]
impl PushTarget for LiveStream {
    fn apply_push(&self, push: RoomPush) {
        match push {
            RoomPush::Stage(wire) => {
                self.record(wire);
            }
            RoomPush::StageRequested(requested) => {
                let _ = self.stage_requests.send(UTDStageRequest {
                    identity: requested.identity,
                    name: requested.name,
                    created_at_ms: requested.created_at_ms,
                });
            }
            RoomPush::Seats(_) => {}
        }
    }

    async fn resync(&self) {
        if let Err(e) = self.refresh_stage().await {
            tracing::warn!(target: "utd_stream::session", "could not refetch the stage: {e}");
        }
    }
}
