//! The room's media surface: frames in (`audioSink`, `videoSink`), frames out
//! (`observeRemoteAudio`, `observeRemoteVideo`), who is speaking and how
//! well each connection carries media.

use std::sync::Arc;

use super::listeners::{
    UTDAudioFrameListener, UTDConnectionQualityListener, UTDSpeakersListener, UTDVideoFrameListener,
};
use super::room::UTDRoom;
use crate::error::UTDResult;
use crate::media::frames::{AudioFrame, VideoFrame};
use crate::media::{ActiveSpeaker, ConnectionQuality};
use crate::runtime;
use crate::session::RoomCore;
use crate::subscription::UTDSubscription;
use crate::types::{UTDActiveSpeaker, UTDAudioFrame, UTDConnectionQuality, UTDVideoFrame};

/// One participant's connection rating.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UTDParticipantQuality {
    /// Whose connection.
    pub identity: String,
    /// How well it carries media.
    pub quality: UTDConnectionQuality,
}

fn speakers(list: Vec<ActiveSpeaker>) -> Vec<UTDActiveSpeaker> {
    list.into_iter().map(UTDActiveSpeaker::from).collect()
}

fn qualities(list: Vec<(String, ConnectionQuality)>) -> Vec<UTDParticipantQuality> {
    list.into_iter()
        .map(|(identity, quality)| UTDParticipantQuality {
            identity,
            quality: quality.into(),
        })
        .collect()
}

/// Where the app pushes audio it produces (a game, music, TTS). On desktop
/// builds it feeds the microphone track: `setMicrophone(true)` publishes it
/// (silence until frames arrive). Phones publish the platform microphone
/// instead, and pushing fails with `unsupported` there.
#[derive(Debug, uniffi::Object)]
pub struct UTDAudioFrameSink {
    core: Arc<RoomCore>,
}

#[uniffi::export]
impl UTDAudioFrameSink {
    /// Pushes one frame of PCM: 48 kHz mono in any length, or 10 ms frames
    /// at another rate (8 – 192 kHz) and channel count (1 – 8), which the
    /// media engine remixes and resamples. Returns once the frame is queued; the queue
    /// holds 100 ms, so a producer calling this in a loop runs at real time.
    /// Frames pushed while the microphone is not published are not sent.
    /// A malformed frame fails with `invalidArgument`.
    pub async fn push_frame(&self, frame: UTDAudioFrame) -> UTDResult<()> {
        let transport = self.core.transport().clone();
        let frame = AudioFrame::from(frame);
        Ok(runtime::run(async move { transport.capture_audio(frame).await }).await?)
    }
}

/// Where platform camera code pushes frames (I420, NV12 or RGBA). They are
/// sent while the camera is published (`setCamera(true)`, once the server
/// granted the camera).
#[derive(Debug, uniffi::Object)]
pub struct UTDVideoFrameSink {
    core: Arc<RoomCore>,
}

#[uniffi::export]
impl UTDVideoFrameSink {
    /// Pushes one frame; the media engine copies it before this returns and
    /// never waits. A malformed frame (plane count, strides, sizes) fails
    /// with `invalidArgument`.
    pub fn push_frame(&self, frame: UTDVideoFrame) -> UTDResult<()> {
        Ok(self
            .core
            .transport()
            .capture_video(&VideoFrame::from(frame))?)
    }
}

#[uniffi::export]
impl UTDRoom {
    /// Where the app pushes audio (see `UTDAudioFrameSink`).
    pub fn audio_sink(&self) -> Arc<UTDAudioFrameSink> {
        Arc::new(UTDAudioFrameSink {
            core: self.core().clone(),
        })
    }

    /// Where platform camera code pushes frames (see `UTDVideoFrameSink`).
    pub fn video_sink(&self) -> Arc<UTDVideoFrameSink> {
        Arc::new(UTDVideoFrameSink {
            core: self.core().clone(),
        })
    }

    /// Delivers decoded audio (48 kHz mono) of `identity`'s microphone to
    /// `listener` until the subscription is cancelled: for recording,
    /// transcription or level meters (playout on phones goes through the
    /// platform audio device regardless). Follows the participant across
    /// republishes. `notFound` if no such participant is in the room.
    pub async fn observe_remote_audio(
        self: Arc<Self>,
        identity: String,
        listener: Arc<dyn UTDAudioFrameListener>,
    ) -> UTDResult<Arc<UTDSubscription>> {
        self.check_alive()?;
        let transport = self.core().transport().clone();
        let task = runtime::run(async move {
            let mut stream = transport.remote_audio(&identity).await?;
            Ok(runtime::handle().spawn(async move {
                while let Some(frame) = stream.next().await {
                    let listener = listener.clone();
                    // The app's code runs off the runtime's workers.
                    let delivered = tokio::task::spawn_blocking(move || {
                        listener.on_frame(UTDAudioFrame::from(frame));
                    });
                    if delivered.await.is_err() {
                        return;
                    }
                }
            }))
        })
        .await?;
        Ok(Arc::new(UTDSubscription::new(move || task.abort())))
    }

    /// Delivers decoded I420 frames of the remote video track `trackSid`
    /// (from `remoteParticipants`) to `listener` until cancelled; a slow
    /// listener gets the newest frame. `notFound` for an unknown track,
    /// `invalidState` while it is not subscribed yet.
    pub async fn observe_remote_video(
        self: Arc<Self>,
        track_sid: String,
        listener: Arc<dyn UTDVideoFrameListener>,
    ) -> UTDResult<Arc<UTDSubscription>> {
        self.check_alive()?;
        let transport = self.core().transport().clone();
        let task = runtime::run(async move {
            let stream = transport.remote_video(&track_sid).await?;
            Ok(runtime::handle().spawn(async move {
                while let Some(frame) = stream.next().await {
                    let listener = listener.clone();
                    let delivered = tokio::task::spawn_blocking(move || {
                        listener.on_frame(UTDVideoFrame::from(frame));
                    });
                    if delivered.await.is_err() {
                        return;
                    }
                }
            }))
        })
        .await?;
        Ok(Arc::new(UTDSubscription::new(move || task.abort())))
    }

    /// Who is speaking now (this device too), loudest first, with their
    /// audio levels.
    pub fn active_speakers(&self) -> Vec<UTDActiveSpeaker> {
        speakers(self.core().active_speakers.get())
    }

    /// Observes `activeSpeakers` (current value first).
    pub fn observe_active_speakers(
        &self,
        listener: Arc<dyn UTDSpeakersListener>,
    ) -> Arc<UTDSubscription> {
        Arc::new(
            self.core()
                .active_speakers
                .subscribe(move |list| listener.on_speakers(speakers(list))),
        )
    }

    /// The media server's rating of each participant's connection (this
    /// device too), sorted by identity.
    pub fn connection_qualities(&self) -> Vec<UTDParticipantQuality> {
        qualities(self.core().connection_quality.get())
    }

    /// Observes `connectionQualities` (current value first).
    pub fn observe_connection_qualities(
        &self,
        listener: Arc<dyn UTDConnectionQualityListener>,
    ) -> Arc<UTDSubscription> {
        Arc::new(
            self.core()
                .connection_quality
                .subscribe(move |list| listener.on_qualities(qualities(list))),
        )
    }
}
