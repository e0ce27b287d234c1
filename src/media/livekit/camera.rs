//! The camera source platform code pushes frames into.

use livekit::webrtc::native::yuv_helper;
use livekit::webrtc::video_frame::{I420Buffer, NV12Buffer, VideoFrame, VideoRotation};
use livekit::webrtc::video_source::native::NativeVideoSource;
use livekit::webrtc::video_source::VideoResolution;

use crate::error::UTDStreamError;

/// Where the platform camera delivers frames (AVCaptureSession on iOS,
/// CameraX on Android). Cheap to clone; every clone feeds the same track.
/// Frames pushed while the camera is not published are dropped by WebRTC.
#[derive(Clone, Debug)]
pub struct CameraFrameSink {
    source: NativeVideoSource,
}

/// How the frame is rotated relative to how it should be shown.
fn rotation(degrees: u32) -> Result<VideoRotation, UTDStreamError> {
    Ok(match degrees {
        0 => VideoRotation::VideoRotation0,
        90 => VideoRotation::VideoRotation90,
        180 => VideoRotation::VideoRotation180,
        270 => VideoRotation::VideoRotation270,
        other => {
            return Err(UTDStreamError::invalid_argument(format!(
                "frame rotation must be 0, 90, 180 or 270 degrees, not {other}"
            )))
        }
    })
}

/// Checks that a plane holds `rows` rows of `stride` bytes, each at least
/// `row_bytes` long, so the copy and libyuv never read past its end.
fn check_plane(
    name: &str,
    plane: &[u8],
    stride: u32,
    row_bytes: u32,
    rows: u32,
) -> Result<(), UTDStreamError> {
    let needed = u64::from(stride) * u64::from(rows);
    if stride < row_bytes || (plane.len() as u64) < needed {
        return Err(UTDStreamError::invalid_argument(format!(
            "{name} plane too small: {} bytes with stride {stride} for {rows} rows of {row_bytes} bytes",
            plane.len()
        )));
    }
    Ok(())
}

fn check_size(width: u32, height: u32) -> Result<(), UTDStreamError> {
    if width == 0 || height == 0 || width > 8192 || height > 8192 {
        return Err(UTDStreamError::invalid_argument(format!(
            "frame size {width}x{height} is out of range (1..=8192)"
        )));
    }
    Ok(())
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
        rotation_degrees: u32,
        timestamp_us: i64,
    ) -> Result<(), UTDStreamError> {
        let frame = VideoFrame {
            rotation: rotation(rotation_degrees)?,
            timestamp_us,
            frame_metadata: None,
            buffer,
        };
        self.source.capture_frame(&frame);
        Ok(())
    }

    /// Pushes an I420 (planar Y, U, V) frame. Each plane must hold
    /// `stride * rows` bytes.
    #[allow(clippy::too_many_arguments)]
    pub fn push_i420(
        &self,
        width: u32,
        height: u32,
        y: &[u8],
        stride_y: u32,
        u: &[u8],
        stride_u: u32,
        v: &[u8],
        stride_v: u32,
        rotation_degrees: u32,
        timestamp_us: i64,
    ) -> Result<(), UTDStreamError> {
        check_size(width, height)?;
        let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
        check_plane("Y", y, stride_y, width, height)?;
        check_plane("U", u, stride_u, cw, ch)?;
        check_plane("V", v, stride_v, cw, ch)?;
        let mut buffer = I420Buffer::with_strides(width, height, stride_y, stride_u, stride_v);
        let (dy, du, dv) = buffer.data_mut();
        dy.copy_from_slice(&y[..dy.len()]);
        du.copy_from_slice(&u[..du.len()]);
        dv.copy_from_slice(&v[..dv.len()]);
        self.capture(buffer, rotation_degrees, timestamp_us)
    }

    /// Pushes an NV12 (Y plane, interleaved UV plane) frame, the native
    /// format of iOS and most Android cameras.
    #[allow(clippy::too_many_arguments)]
    pub fn push_nv12(
        &self,
        width: u32,
        height: u32,
        y: &[u8],
        stride_y: u32,
        uv: &[u8],
        stride_uv: u32,
        rotation_degrees: u32,
        timestamp_us: i64,
    ) -> Result<(), UTDStreamError> {
        check_size(width, height)?;
        check_plane("Y", y, stride_y, width, height)?;
        check_plane(
            "UV",
            uv,
            stride_uv,
            width.div_ceil(2) * 2,
            height.div_ceil(2),
        )?;
        let mut buffer = NV12Buffer::with_strides(width, height, stride_y, stride_uv);
        let (dy, duv) = buffer.data_mut();
        dy.copy_from_slice(&y[..dy.len()]);
        duv.copy_from_slice(&uv[..duv.len()]);
        self.capture(buffer, rotation_degrees, timestamp_us)
    }

    /// Pushes an RGBA frame (bytes R, G, B, A per pixel), converted to I420.
    pub fn push_rgba(
        &self,
        width: u32,
        height: u32,
        rgba: &[u8],
        stride: u32,
        rotation_degrees: u32,
        timestamp_us: i64,
    ) -> Result<(), UTDStreamError> {
        check_size(width, height)?;
        check_plane("RGBA", rgba, stride, width * 4, height)?;
        let mut buffer = I420Buffer::new(width, height);
        let (sy, su, sv) = buffer.strides();
        let (dy, du, dv) = buffer.data_mut();
        // libyuv names formats by little-endian word order: its "ABGR" is the
        // byte order R, G, B, A.
        yuv_helper::abgr_to_i420(
            rgba,
            stride,
            dy,
            sy,
            du,
            su,
            dv,
            sv,
            width as i32,
            height as i32,
        );
        self.capture(buffer, rotation_degrees, timestamp_us)
    }
}
