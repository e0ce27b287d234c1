//! Frames between the app's types and the library's buffers: the one copy out
//! of a buffer the library owns, and the buffer descriptions of frames the
//! library copies in.

use super::proto;
use crate::media::frames::{AudioFrame, VideoFrame, VideoPixelFormat, VideoPlane, VideoRotation};

/// Copies a decoded PCM buffer out of the library (whose handle the caller
/// drops right after).
pub(crate) fn copy_audio_frame(info: &proto::AudioFrameBufferInfo) -> AudioFrame {
    let len = info.num_channels as usize * info.samples_per_channel as usize;
    let samples = if info.data_ptr == 0 || len == 0 {
        Vec::new()
    } else {
        // SAFETY: the library hands out `samples_per_channel * num_channels`
        // i16 samples at `data_ptr`, valid until its handle is dropped.
        unsafe { std::slice::from_raw_parts(info.data_ptr as *const i16, len) }.to_vec()
    };
    AudioFrame {
        samples,
        sample_rate: info.sample_rate,
        num_channels: info.num_channels,
    }
}

/// Copies a decoded I420 buffer out of the library. `None` for any other
/// layout (the streams are opened asking for I420).
pub(crate) fn copy_video_frame(
    info: &proto::VideoBufferInfo,
    timestamp_us: i64,
    rotation: i32,
) -> Option<VideoFrame> {
    if info.r#type != proto::VideoBufferType::I420 as i32 || info.components.len() != 3 {
        return None;
    }
    let planes = info
        .components
        .iter()
        .map(|c| VideoPlane {
            data: if c.data_ptr == 0 {
                Vec::new()
            } else {
                // SAFETY: each component is `size` bytes at `data_ptr`, valid
                // until the buffer's handle is dropped.
                unsafe { std::slice::from_raw_parts(c.data_ptr as *const u8, c.size as usize) }
                    .to_vec()
            },
            stride: c.stride,
        })
        .collect();
    Some(VideoFrame {
        width: info.width,
        height: info.height,
        format: VideoPixelFormat::I420,
        planes,
        timestamp_us,
        rotation: rotation_from_proto(rotation),
    })
}

fn rotation_from_proto(rotation: i32) -> VideoRotation {
    match proto::VideoRotation::try_from(rotation) {
        Ok(proto::VideoRotation::VideoRotation90) => VideoRotation::Deg90,
        Ok(proto::VideoRotation::VideoRotation180) => VideoRotation::Deg180,
        Ok(proto::VideoRotation::VideoRotation270) => VideoRotation::Deg270,
        _ => VideoRotation::Deg0,
    }
}

pub(crate) fn rotation_to_proto(rotation: VideoRotation) -> proto::VideoRotation {
    match rotation {
        VideoRotation::Deg0 => proto::VideoRotation::VideoRotation0,
        VideoRotation::Deg90 => proto::VideoRotation::VideoRotation90,
        VideoRotation::Deg180 => proto::VideoRotation::VideoRotation180,
        VideoRotation::Deg270 => proto::VideoRotation::VideoRotation270,
    }
}

/// The buffer description of a [validated](VideoFrame::validate) frame whose planes stay alive
/// while the library copies them (it does so within the request).
pub(crate) fn video_buffer_info(frame: &VideoFrame) -> proto::VideoBufferInfo {
    let buffer_type = match frame.format {
        VideoPixelFormat::I420 => proto::VideoBufferType::I420,
        VideoPixelFormat::Nv12 => proto::VideoBufferType::Nv12,
        VideoPixelFormat::Rgba => proto::VideoBufferType::Rgba,
    };
    // The library copies exactly `stride * rows` bytes per plane into a
    // buffer of that size, so the size is that, never the Vec's length.
    let shapes = VideoFrame::plane_shapes(frame.format, frame.width, frame.height);
    let components = frame
        .planes
        .iter()
        .zip(shapes)
        .map(|(p, (_, rows))| proto::video_buffer_info::ComponentInfo {
            data_ptr: p.data.as_ptr() as u64,
            stride: p.stride,
            size: p.stride.saturating_mul(rows),
        })
        .collect();
    proto::VideoBufferInfo {
        r#type: buffer_type as i32,
        width: frame.width,
        height: frame.height,
        data_ptr: frame.planes.first().map_or(0, |p| p.data.as_ptr() as u64),
        stride: frame.planes.first().map(|p| p.stride),
        components,
    }
}
