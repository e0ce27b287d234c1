//! Raw media frames crossing the transport: PCM audio both ways, video frames
//! pushed in by platform camera code and decoded I420 frames coming out.
//!
//! Every transport copies a frame at most once on its way between the media
//! library and the app, and never makes a media thread wait for the app:
//! remote audio goes through a bounded queue that drops when the consumer is
//! behind, remote video through a [`FrameSlot`] that keeps only the newest.

use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use crate::error::UTDStreamError;

/// 10 ms of interleaved signed 16-bit PCM (any duration is accepted; 10 ms is
/// what WebRTC works in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioFrame {
    /// Interleaved samples: `samples_per_channel * num_channels` of them.
    pub samples: Vec<i16>,
    /// Samples per second per channel (e.g. 48000).
    pub sample_rate: u32,
    /// Interleaved channels (1 = mono, 2 = stereo).
    pub num_channels: u32,
}

impl AudioFrame {
    /// Samples per channel in this frame.
    pub fn samples_per_channel(&self) -> u32 {
        match self.num_channels {
            0 => 0,
            n => u32::try_from(self.samples.len()).unwrap_or(u32::MAX) / n,
        }
    }

    /// Checks the shape before the frame is handed to a media library.
    pub fn validate(&self) -> Result<(), UTDStreamError> {
        if !(1..=8).contains(&self.num_channels) {
            return Err(UTDStreamError::invalid_argument(format!(
                "an audio frame needs 1 to 8 channels, not {}",
                self.num_channels
            )));
        }
        if !(8_000..=192_000).contains(&self.sample_rate) {
            return Err(UTDStreamError::invalid_argument(format!(
                "an audio frame's sample rate must be 8000 to 192000 Hz, not {}",
                self.sample_rate
            )));
        }
        if self.samples.is_empty() || self.samples.len() % self.num_channels as usize != 0 {
            return Err(UTDStreamError::invalid_argument(format!(
                "an audio frame of {} channels needs a non-empty multiple of {} samples, not {}",
                self.num_channels,
                self.num_channels,
                self.samples.len()
            )));
        }
        Ok(())
    }

    /// Root-mean-square level of the frame, 0.0 (silence) to 1.0 (full scale).
    pub fn rms_level(&self) -> f64 {
        if self.samples.is_empty() {
            return 0.0;
        }
        let sum: f64 = self
            .samples
            .iter()
            .map(|&s| {
                let x = f64::from(s) / f64::from(i16::MAX);
                x * x
            })
            .sum();
        (sum / self.samples.len() as f64).sqrt()
    }
}

/// How a frame must be turned before display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VideoRotation {
    /// Upright.
    #[default]
    Deg0,
    /// A quarter turn clockwise.
    Deg90,
    /// Upside down.
    Deg180,
    /// Three quarter turns clockwise.
    Deg270,
}

/// The pixel layout of a frame pushed into the camera track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoPixelFormat {
    /// Planar Y, U, V; U and V at half width and height.
    I420,
    /// Y plane, then interleaved UV at half width and height (Android and
    /// iOS cameras).
    Nv12,
    /// 8-bit R, G, B, A per pixel.
    Rgba,
}

/// One image plane: bytes and the distance between rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoPlane {
    /// The plane's bytes, `stride * rows` of them.
    pub data: Vec<u8>,
    /// Bytes per row (at least the plane's width in bytes).
    pub stride: u32,
}

/// A video frame: planes in a pixel format, with its timing and rotation.
/// Frames received from a room are always [`VideoPixelFormat::I420`] (Y, U,
/// V planes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoFrame {
    /// Pixels per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// The layout of `planes`.
    pub format: VideoPixelFormat,
    /// I420: Y, U, V. NV12: Y, UV. RGBA: one plane.
    pub planes: Vec<VideoPlane>,
    /// Capture time in microseconds (any monotonic clock the sender likes).
    pub timestamp_us: i64,
    /// How to turn the frame for display.
    pub rotation: VideoRotation,
}

impl VideoFrame {
    /// The planes a format has and, for each, (bytes per row, rows).
    pub(crate) fn plane_shapes(
        format: VideoPixelFormat,
        width: u32,
        height: u32,
    ) -> Vec<(u32, u32)> {
        let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
        match format {
            VideoPixelFormat::I420 => vec![(width, height), (cw, ch), (cw, ch)],
            VideoPixelFormat::Nv12 => vec![(width, height), (cw * 2, ch)],
            VideoPixelFormat::Rgba => vec![(width * 4, height)],
        }
    }

    /// Checks dimensions, plane count, strides and sizes.
    pub fn validate(&self) -> Result<(), UTDStreamError> {
        if self.width == 0 || self.height == 0 || self.width > 8192 || self.height > 8192 {
            return Err(UTDStreamError::invalid_argument(format!(
                "a video frame must be 1x1 to 8192x8192, not {}x{}",
                self.width, self.height
            )));
        }
        let shapes = Self::plane_shapes(self.format, self.width, self.height);
        if shapes.len() != self.planes.len() {
            return Err(UTDStreamError::invalid_argument(format!(
                "a {:?} frame has {} planes, not {}",
                self.format,
                shapes.len(),
                self.planes.len()
            )));
        }
        for (i, ((row_bytes, rows), plane)) in shapes.iter().zip(&self.planes).enumerate() {
            let needed = u64::from(plane.stride) * u64::from(*rows);
            if plane.stride < *row_bytes || (plane.data.len() as u64) < needed {
                return Err(UTDStreamError::invalid_argument(format!(
                    "plane {i} of a {}x{} {:?} frame needs a stride of at least {row_bytes} and \
                     {needed} bytes; it has stride {} and {} bytes",
                    self.width,
                    self.height,
                    self.format,
                    plane.stride,
                    plane.data.len()
                )));
            }
        }
        Ok(())
    }
}

/// A one-frame mailbox: the producer overwrites, the consumer takes the
/// newest. A slow consumer skips frames instead of queueing them.
#[derive(Debug)]
pub struct FrameSlot<T> {
    state: Mutex<SlotState<T>>,
    changed: Notify,
}

#[derive(Debug)]
struct SlotState<T> {
    frame: Option<T>,
    closed: bool,
    /// Frames overwritten before anyone took them.
    skipped: u64,
}

impl<T> Default for FrameSlot<T> {
    fn default() -> Self {
        Self {
            state: Mutex::new(SlotState {
                frame: None,
                closed: false,
                skipped: 0,
            }),
            changed: Notify::new(),
        }
    }
}

impl<T> FrameSlot<T> {
    fn lock(&self) -> MutexGuard<'_, SlotState<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Puts the newest frame (never waits).
    pub fn put(&self, frame: T) {
        {
            let mut state = self.lock();
            if state.closed {
                return;
            }
            if state.frame.replace(frame).is_some() {
                state.skipped += 1;
            }
        }
        self.changed.notify_one();
    }

    /// Ends the stream: `next` returns `None` once the last frame is taken.
    pub fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_one();
    }

    /// Waits for the next frame; `None` when the stream ended.
    pub async fn next(&self) -> Option<T> {
        loop {
            let notified = self.changed.notified();
            {
                let mut state = self.lock();
                if let Some(frame) = state.frame.take() {
                    return Some(frame);
                }
                if state.closed {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// How many frames were replaced before being taken.
    pub fn skipped(&self) -> u64 {
        self.lock().skipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_slow_consumer_gets_the_newest_frame_and_the_skips_are_counted() {
        let slot = FrameSlot::default();
        slot.put(1);
        slot.put(2);
        slot.put(3);
        assert_eq!(slot.next().await, Some(3));
        assert_eq!(slot.skipped(), 2);
        slot.put(4);
        slot.close();
        assert_eq!(slot.next().await, Some(4));
        assert_eq!(slot.next().await, None);
        slot.put(5);
        assert_eq!(slot.next().await, None, "a closed slot takes no frames");
    }

    #[test]
    fn malformed_frames_are_refused_with_the_reason() {
        let frame = AudioFrame {
            samples: vec![0; 479],
            sample_rate: 48_000,
            num_channels: 2,
        };
        assert!(frame
            .validate()
            .unwrap_err()
            .message()
            .contains("multiple of 2"));
        let video = VideoFrame {
            width: 4,
            height: 2,
            format: VideoPixelFormat::I420,
            planes: vec![
                VideoPlane {
                    data: vec![0; 8],
                    stride: 4,
                },
                VideoPlane {
                    data: vec![0; 2],
                    stride: 2,
                },
                VideoPlane {
                    data: vec![0; 1],
                    stride: 2,
                },
            ],
            timestamp_us: 0,
            rotation: VideoRotation::Deg0,
        };
        let e = video.validate().unwrap_err();
        assert!(e.message().contains("plane 2"), "{e}");
    }

    #[test]
    fn the_level_of_a_full_scale_square_wave_is_one_and_silence_is_zero() {
        let square = AudioFrame {
            samples: (0..480)
                .map(|i| if i % 2 == 0 { i16::MAX } else { -i16::MAX })
                .collect(),
            sample_rate: 48_000,
            num_channels: 1,
        };
        assert!((square.rms_level() - 1.0).abs() < 1e-9);
        let silence = AudioFrame {
            samples: vec![0; 480],
            ..square
        };
        assert_eq!(silence.rms_level(), 0.0);
    }
}
