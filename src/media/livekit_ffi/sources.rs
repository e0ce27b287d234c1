//! The media sources a transport feeds for its whole life: the microphone
//! source pushed audio goes into (resampled to its format when needed) and
//! the camera source pushed frames go into.

use std::sync::{Arc, Mutex};

use super::library::FfiClient;
use super::proto::ffi_request::Message as Request;
use super::proto::ffi_response::Message as Response;
use super::session::OwnedHandle;
use super::{
    frames, lock, proto, unexpected, MICROPHONE_CHANNELS, MICROPHONE_QUEUE_MS,
    MICROPHONE_SAMPLE_RATE,
};
use crate::error::UTDStreamError;
use crate::media::frames::AudioFrame;
use crate::media::TransportResult;

pub(crate) struct Sources {
    pub(crate) microphone: OwnedHandle,
    pub(crate) camera: OwnedHandle,
    /// Turns pushed audio of any rate and channel count into the
    /// microphone's format; stateful (it filters across frames), so one
    /// per source, made on the first frame that needs it.
    resampler: Mutex<Option<OwnedHandle>>,
}

impl Sources {
    /// Creates the microphone source (48 kHz mono, no processing: pushed
    /// audio is already what the app wants heard) and the camera source.
    pub(crate) fn create(
        client: &Arc<FfiClient>,
        camera_size: (u32, u32),
    ) -> TransportResult<Self> {
        let microphone =
            match client.request(Request::NewAudioSource(proto::NewAudioSourceRequest {
                r#type: proto::AudioSourceType::AudioSourceNative as i32,
                options: Some(proto::AudioSourceOptions {
                    echo_cancellation: false,
                    noise_suppression: false,
                    auto_gain_control: false,
                    prefer_hardware: None,
                }),
                sample_rate: Some(MICROPHONE_SAMPLE_RATE),
                num_channels: Some(MICROPHONE_CHANNELS),
                // Must be a multiple of 10 (the library asserts it).
                queue_size_ms: Some(MICROPHONE_QUEUE_MS),
                platform_audio_handle: None,
            }))? {
                Response::NewAudioSource(r) => OwnedHandle::new(client, &r.source.handle),
                _ => return Err(unexpected("creating the microphone source")),
            };
        let (width, height) = camera_size;
        let camera =
            match client.request(Request::NewVideoSource(proto::NewVideoSourceRequest {
                r#type: proto::VideoSourceType::VideoSourceNative as i32,
                resolution: proto::VideoSourceResolution { width, height },
                is_screencast: Some(false),
            }))? {
                Response::NewVideoSource(r) => OwnedHandle::new(client, &r.source.handle),
                _ => return Err(unexpected("creating the camera source")),
            };
        Ok(Self {
            microphone,
            camera,
            resampler: Mutex::new(None),
        })
    }

    /// `frame` in the microphone's format (48 kHz mono), remixed and
    /// resampled by the library when it is not.
    pub(crate) fn to_microphone_format(
        &self,
        client: &Arc<FfiClient>,
        frame: AudioFrame,
    ) -> TransportResult<AudioFrame> {
        if frame.sample_rate == MICROPHONE_SAMPLE_RATE && frame.num_channels == MICROPHONE_CHANNELS
        {
            return Ok(frame);
        }
        if frame.samples_per_channel() != frame.sample_rate / 100 {
            return Err(UTDStreamError::invalid_argument(format!(
                "audio at {} Hz is resampled in 10 ms frames ({} samples per channel); this one has {}",
                frame.sample_rate,
                frame.sample_rate / 100,
                frame.samples_per_channel()
            )));
        }
        let mut resampler = lock(&self.resampler);
        if resampler.is_none() {
            match client.request(Request::NewAudioResampler(
                proto::NewAudioResamplerRequest {},
            ))? {
                Response::NewAudioResampler(r) => {
                    *resampler = Some(OwnedHandle::new(client, &r.resampler.handle))
                }
                _ => return Err(unexpected("creating an audio resampler")),
            }
        }
        let handle = resampler.as_ref().map_or(0, OwnedHandle::id);
        match client.request(Request::RemixAndResample(proto::RemixAndResampleRequest {
            resampler_handle: handle,
            // Read by the library within the request.
            buffer: proto::AudioFrameBufferInfo {
                data_ptr: frame.samples.as_ptr() as u64,
                num_channels: frame.num_channels,
                sample_rate: frame.sample_rate,
                samples_per_channel: frame.samples_per_channel(),
            },
            num_channels: MICROPHONE_CHANNELS,
            sample_rate: MICROPHONE_SAMPLE_RATE,
        }))? {
            Response::RemixAndResample(r) => {
                let converted = frames::copy_audio_frame(&r.buffer.info);
                drop(OwnedHandle::new(client, &r.buffer.handle));
                Ok(converted)
            }
            _ => Err(unexpected("resampling an audio frame")),
        }
    }
}
