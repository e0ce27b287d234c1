//! The camera source platform code pushes frames into.

use livekit::webrtc::native::yuv_helper;
use livekit::webrtc::video_frame::{I420Buffer, NV12Buffer, VideoFrame, VideoRotation};
use livekit::webrtc::video_source::native::NativeVideoSource;
use livekit::webrtc::video_source::VideoResolution;

use crate::error::UTDStreamError;
use crate::media::frames::{VideoFrame as Frame, VideoPixelFormat, VideoRotation as FrameRotation};

/// Where the platform camera delivers frames (AVCaptureSession on iOS,
/// CameraX on Android). Cheap to clone; every clone feeds the same track.
/// Frames pushed while the camera is not published are dropped by WebRTC.
#[derive(Clone, Debug)]
pub struct CameraFrameSink {
    source: NativeVideoSource,
}

fn rotation(rotation: FrameRotation) -> VideoRotation {
    match rotation {
        FrameRotation::Deg0 => VideoRotation::VideoRotation0,
        FrameRotation::Deg90 => VideoRotation::VideoRotation90,
        FrameRotation::Deg180 => VideoRotation::VideoRotation180,
        FrameRotation::Deg270 => VideoRotation::VideoRotation270,
    }
}

impl CameraFrameSink {
    /// A sink for camera frames of about `width` x `height` pixels.
    pub(crate) fn new(width: u32, height: u32) -> Self {
        Self {
            source: NativeVideoSource::new(VideoResolution { width, height }, false),
        }
    }

    /// The WebRTC source the camera track is created from.
    pub(crate) fn native_source(&self) -> NativeVideoSource {
        self.source.clone()
    }

    fn capture<T: AsRef<dyn livekit::webrtc::video_frame::VideoBuffer>>(
        &self,
        buffer: T,
        frame: &Frame,
    ) {
        let frame = VideoFrame {
            rotation: rotation(frame.rotation),
            timestamp_us: frame.timestamp_us,
            frame_metadata: None,
            buffer,
        };
        self.source.capture_frame(&frame);
    }

    /// Pushes a camera frame (I420, NV12 or RGBA), checked first.
    pub fn push(&self, frame: &Frame) -> Result<(), UTDStreamError> {
        frame.validate()?;
        let (width, height) = (frame.width, frame.height);
        let plane = |i: usize| &frame.planes[i];
        match frame.format {
            VideoPixelFormat::I420 => {
                let (y, u, v) = (plane(0), plane(1), plane(2));
                let mut buffer =
                    I420Buffer::with_strides(width, height, y.stride, u.stride, v.stride);
                let (dy, du, dv) = buffer.data_mut();
                dy.copy_from_slice(&y.data[..dy.len()]);
                du.copy_from_slice(&u.data[..du.len()]);
                dv.copy_from_slice(&v.data[..dv.len()]);
                self.capture(buffer, frame);
            }
            VideoPixelFormat::Nv12 => {
                let (y, uv) = (plane(0), plane(1));
                let mut buffer = NV12Buffer::with_strides(width, height, y.stride, uv.stride);
                let (dy, duv) = buffer.data_mut();
                dy.copy_from_slice(&y.data[..dy.len()]);
                duv.copy_from_slice(&uv.data[..duv.len()]);
                self.capture(buffer, frame);
            }
            VideoPixelFormat::Rgba => {
                let rgba = plane(0);
                let mut buffer = I420Buffer::new(width, height);
                let (sy, su, sv) = buffer.strides();
                let (dy, du, dv) = buffer.data_mut();
                // libyuv names formats by little-endian word order: its "ABGR"
                // is the byte order R, G, B, A.
                yuv_helper::abgr_to_i420(
                    &rgba.data,
                    rgba.stride,
                    dy,
                    sy,
                    du,
                    su,
                    dv,
                    sv,
                    width as i32,
                    height as i32,
                );
                self.capture(buffer, frame);
            }
        }
        Ok(())
    }
}
