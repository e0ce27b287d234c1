//! Raw media frames as the app sees them (exported mirrors of
//! `crate::media::frames`).

use crate::media::frames::{AudioFrame, VideoFrame, VideoPixelFormat, VideoPlane, VideoRotation};

/// PCM audio: interleaved signed 16-bit samples.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UTDAudioFrame {
    /// `samplesPerChannel * numChannels` interleaved samples (10 ms is what
    /// WebRTC works in: 480 per channel at 48 kHz).
    pub samples: Vec<i16>,
    /// Samples per second per channel.
    pub sample_rate: u32,
    /// Interleaved channels.
    pub num_channels: u32,
}

impl From<AudioFrame> for UTDAudioFrame {
    fn from(frame: AudioFrame) -> Self {
        Self {
            samples: frame.samples,
            sample_rate: frame.sample_rate,
            num_channels: frame.num_channels,
        }
    }
}

impl From<UTDAudioFrame> for AudioFrame {
    fn from(frame: UTDAudioFrame) -> Self {
        Self {
            samples: frame.samples,
            sample_rate: frame.sample_rate,
            num_channels: frame.num_channels,
        }
    }
}

/// The pixel layout of a video frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum UTDVideoPixelFormat {
    /// Planes Y, U, V; U and V at half width and height. Received frames are
    /// always I420.
    I420,
    /// Plane Y, then interleaved UV at half width and height (camera output
    /// on iOS and Android).
    Nv12,
    /// One plane of R, G, B, A bytes per pixel.
    Rgba,
}

/// How a frame must be turned for display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum UTDVideoRotation {
    /// Upright.
    Deg0,
    /// A quarter turn clockwise.
    Deg90,
    /// Upside down.
    Deg180,
    /// Three quarter turns clockwise.
    Deg270,
}

/// One image plane.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UTDVideoPlane {
    /// `stride * rows` bytes.
    pub data: Vec<u8>,
    /// Bytes per row.
    pub stride: u32,
}

/// A video frame.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UTDVideoFrame {
    /// Pixels per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// The layout of `planes`.
    pub format: UTDVideoPixelFormat,
    /// I420: Y, U, V. NV12: Y, UV. RGBA: one plane.
    pub planes: Vec<UTDVideoPlane>,
    /// Capture time in microseconds.
    pub timestamp_us: i64,
    /// How to turn it for display.
    pub rotation: UTDVideoRotation,
}

impl From<VideoFrame> for UTDVideoFrame {
    fn from(frame: VideoFrame) -> Self {
        Self {
            width: frame.width,
            height: frame.height,
            format: match frame.format {
                VideoPixelFormat::I420 => UTDVideoPixelFormat::I420,
                VideoPixelFormat::Nv12 => UTDVideoPixelFormat::Nv12,
                VideoPixelFormat::Rgba => UTDVideoPixelFormat::Rgba,
            },
            planes: frame
                .planes
                .into_iter()
                .map(|p| UTDVideoPlane {
                    data: p.data,
                    stride: p.stride,
                })
                .collect(),
            timestamp_us: frame.timestamp_us,
            rotation: match frame.rotation {
                VideoRotation::Deg0 => UTDVideoRotation::Deg0,
                VideoRotation::Deg90 => UTDVideoRotation::Deg90,
                VideoRotation::Deg180 => UTDVideoRotation::Deg180,
                VideoRotation::Deg270 => UTDVideoRotation::Deg270,
            },
        }
    }
}

impl From<UTDVideoFrame> for VideoFrame {
    fn from(frame: UTDVideoFrame) -> Self {
        Self {
            width: frame.width,
            height: frame.height,
            format: match frame.format {
                UTDVideoPixelFormat::I420 => VideoPixelFormat::I420,
                UTDVideoPixelFormat::Nv12 => VideoPixelFormat::Nv12,
                UTDVideoPixelFormat::Rgba => VideoPixelFormat::Rgba,
            },
            planes: frame
                .planes
                .into_iter()
                .map(|p| VideoPlane {
                    data: p.data,
                    stride: p.stride,
                })
                .collect(),
            timestamp_us: frame.timestamp_us,
            rotation: match frame.rotation {
                UTDVideoRotation::Deg0 => VideoRotation::Deg0,
                UTDVideoRotation::Deg90 => VideoRotation::Deg90,
                UTDVideoRotation::Deg180 => VideoRotation::Deg180,
                UTDVideoRotation::Deg270 => VideoRotation::Deg270,
            },
        }
    }
}
