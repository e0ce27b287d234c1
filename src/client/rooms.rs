//! Joining rooms: the client's audio-room and live-stream entry points.

use std::sync::Arc;

use super::UTDStreamClient;
use crate::error::UTDResult;
use crate::media;
use crate::runtime;
use crate::session::audio_room::{AudioRoom, AudioRoomJoin};
use crate::session::exported::{UTDAudioRoomSession, UTDLiveStreamSession};
use crate::session::live_stream::{LiveStream, LiveStreamJoin};
use crate::types::UTDSeatMode;

#[uniffi::export]
impl UTDStreamClient {
    /// Joins an audio room: mints a session for `identity` when the client
    /// has none for it, mints a room token, connects the media room and
    /// subscribes to seat updates (opening signalling if needed). A host
    /// with `seatCount` sets the seat grid up (`seatMode` default free).
    /// Listeners join without publish; taking a seat is what grants it.
    #[uniffi::method(default(
        as_host = false,
        name = None,
        device_id = None,
        seat_count = None,
        seat_mode = None
    ))]
    #[allow(clippy::too_many_arguments)]
    pub async fn join_audio_room(
        self: Arc<Self>,
        identity: String,
        room_name: String,
        as_host: bool,
        name: Option<String>,
        device_id: Option<String>,
        seat_count: Option<u32>,
        seat_mode: Option<UTDSeatMode>,
    ) -> UTDResult<Arc<UTDAudioRoomSession>> {
        self.check_alive()?;
        let ctx = self.session_context();
        let join = AudioRoomJoin {
            identity,
            room_name,
            as_host,
            name,
            device_id,
            seat_count,
            seat_mode,
        };
        let room =
            runtime::run(
                async move { AudioRoom::join(ctx, media::default_transport(), join).await },
            )
            .await?;
        Ok(Arc::new(UTDAudioRoomSession::new(room)))
    }

    /// Joins a live stream: mints a session for `identity` when the client
    /// has none for it, mints a room token, connects the media room and
    /// subscribes to stage updates (opening signalling if needed). The host
    /// broadcasts with `goLive()`; viewers watch and may `requestStage()`.
    #[uniffi::method(default(as_host = false, name = None, device_id = None))]
    pub async fn join_live_stream(
        self: Arc<Self>,
        identity: String,
        room_name: String,
        as_host: bool,
        name: Option<String>,
        device_id: Option<String>,
    ) -> UTDResult<Arc<UTDLiveStreamSession>> {
        self.check_alive()?;
        let ctx = self.session_context();
        let join = LiveStreamJoin {
            identity,
            room_name,
            as_host,
            name,
            device_id,
        };
        let stream =
            runtime::run(
                async move { LiveStream::join(ctx, media::default_transport(), join).await },
            )
            .await?;
        Ok(Arc::new(UTDLiveStreamSession::new(stream)))
    }
}
