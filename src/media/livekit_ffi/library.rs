//! Loading `liblivekit_ffi` and talking to it: one client per process.
//!
//! The library is LiveKit's Rust SDK behind a C ABI: a request is a protobuf
//! `FfiRequest` in and an `FfiResponse` out; everything asynchronous (a join,
//! a publish, room events, decoded frames) comes back as `FfiEvent`s through
//! one callback given to `livekit_ffi_initialize`. That callback has no user
//! data pointer, so the client that routes its events is a process global.
//!
//! The callback runs on the library's own threads: it never blocks. It
//! decodes, copies frame buffers out (then drops their handles), and hands
//! everything to channels that never wait: callbacks and room events go to
//! unbounded channels (they are small and rare), audio frames to a bounded
//! one that drops when a consumer falls behind, video to a "newest frame
//! wins" slot.

use std::collections::HashMap;
use std::ffi::{c_char, CString};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use libloading::Library;
use prost::Message;
use tokio::sync::{mpsc, oneshot};

use super::frames::{copy_audio_frame, copy_video_frame};
use super::proto;
use crate::error::{UTDErrorCode, UTDStreamError};
use crate::media::frames::{AudioFrame, FrameSlot, VideoFrame};

/// The build version `liblivekit_ffi` of the pinned wheel reports; the types
/// this crate was generated with match that build only.
pub const EXPECTED_BUILD_VERSION: &str = "0.13.2";

/// Environment variable naming the library to load instead of the one
/// `scripts/setup.sh livekit-ffi` cached at build time.
pub const LIBRARY_PATH_ENV: &str = "UTD_LIVEKIT_FFI_LIB";

type CallbackFn = unsafe extern "C" fn(*const u8, usize);
type InitializeFn = unsafe extern "C" fn(CallbackFn, bool, *const c_char, *const c_char);
type RequestFn = unsafe extern "C" fn(*const u8, usize, *mut *const u8, *mut usize) -> u64;
type DropHandleFn = unsafe extern "C" fn(u64) -> bool;

/// UniFFI's byte buffer, as `uniffi_livekit_ffi_fn_func_build_version`
/// returns it.
#[repr(C)]
struct RustBuffer {
    capacity: u64,
    len: u64,
    data: *mut u8,
}

#[repr(C)]
struct RustCallStatus {
    code: i8,
    error_buf: RustBuffer,
}

type BuildVersionFn = unsafe extern "C" fn(*mut RustCallStatus) -> RustBuffer;
type RustBufferFreeFn = unsafe extern "C" fn(RustBuffer, *mut RustCallStatus);

/// Where the frames of one remote stream go.
pub(crate) enum StreamSink {
    /// Decoded PCM; a full channel drops the frame (the consumer is behind).
    Audio(mpsc::Sender<AudioFrame>),
    /// Decoded video; only the newest frame is kept.
    Video(Arc<FrameSlot<VideoFrame>>),
}

#[derive(Default)]
struct Routes {
    /// Waiters for the callback of an asynchronous request, by async id.
    pending: HashMap<u64, oneshot::Sender<proto::ffi_event::Message>>,
    /// Event channels of connected rooms, by room handle.
    rooms: HashMap<u64, mpsc::UnboundedSender<proto::room_event::Message>>,
    /// Consumers of remote audio and video streams, by stream handle.
    streams: HashMap<u64, StreamSink>,
}

/// The loaded library and the routing of its events.
pub(crate) struct FfiClient {
    /// Kept loaded for the life of the process (the symbols below point
    /// into it, and the library's threads keep running).
    _library: Library,
    request: RequestFn,
    drop_handle: DropHandleFn,
    routes: Mutex<Routes>,
    next_async_id: AtomicU64,
}

static CLIENT: OnceLock<Result<Arc<FfiClient>, UTDStreamError>> = OnceLock::new();

impl FfiClient {
    /// The process's client, loading and initializing the library on first
    /// use. A missing library or another build gets a typed `Unsupported`
    /// error (every later call gets the same one), never a crash.
    pub(crate) fn get() -> Result<Arc<FfiClient>, UTDStreamError> {
        CLIENT.get_or_init(|| Self::load().map(Arc::new)).clone()
    }

    fn library_path() -> PathBuf {
        std::env::var_os(LIBRARY_PATH_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("UTD_LIVEKIT_FFI_DEFAULT_LIB")))
    }

    fn load() -> Result<FfiClient, UTDStreamError> {
        let path = Self::library_path();
        let unusable = |why: String| {
            UTDStreamError::new(
                UTDErrorCode::Unsupported,
                format!(
                    "LiveKit's media library at {} cannot be used: {why}. Run `scripts/setup.sh \
                     livekit-ffi` (wheel livekit=={}) or set {LIBRARY_PATH_ENV}",
                    path.display(),
                    env!("UTD_LIVEKIT_FFI_WHEEL_VERSION"),
                ),
            )
        };
        // SAFETY: loading runs the library's initialisers; this is LiveKit's
        // own library, checked for its build version before any other use.
        let library = unsafe { Library::new(&path) }.map_err(|e| unusable(e.to_string()))?;
        // SAFETY: the types match the C ABI of livekit-ffi's cabi.rs and of
        // UniFFI's scaffolding for a `fn build_version() -> String`.
        let (initialize, request, drop_handle, version) = unsafe {
            let symbol = |name: &str| unusable(format!("it has no symbol {name}"));
            let initialize = *library
                .get::<InitializeFn>(b"livekit_ffi_initialize\0")
                .map_err(|_| symbol("livekit_ffi_initialize"))?;
            let request = *library
                .get::<RequestFn>(b"livekit_ffi_request\0")
                .map_err(|_| symbol("livekit_ffi_request"))?;
            let drop_handle = *library
                .get::<DropHandleFn>(b"livekit_ffi_drop_handle\0")
                .map_err(|_| symbol("livekit_ffi_drop_handle"))?;
            let build_version = *library
                .get::<BuildVersionFn>(b"uniffi_livekit_ffi_fn_func_build_version\0")
                .map_err(|_| symbol("uniffi_livekit_ffi_fn_func_build_version"))?;
            let free = *library
                .get::<RustBufferFreeFn>(b"ffi_livekit_ffi_rustbuffer_free\0")
                .map_err(|_| symbol("ffi_livekit_ffi_rustbuffer_free"))?;
            (
                initialize,
                request,
                drop_handle,
                read_version(build_version, free),
            )
        };
        check_build_version(version).map_err(unusable)?;
        let sdk = CString::new("utd-stream").unwrap_or_default();
        let sdk_version = CString::new(env!("CARGO_PKG_VERSION")).unwrap_or_default();
        // SAFETY: `on_event` is thread-safe and never blocks or unwinds; the
        // strings are copied by the library.
        unsafe { initialize(on_event, true, sdk.as_ptr(), sdk_version.as_ptr()) };
        Ok(FfiClient {
            _library: library,
            request,
            drop_handle,
            routes: Mutex::new(Routes::default()),
            // Our own async ids (sent as `request_async_id`) so a waiter is
            // registered before the callback can possibly arrive. High enough
            // never to meet the ids the library would pick itself.
            next_async_id: AtomicU64::new(1 << 48),
        })
    }

    fn routes(&self) -> MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A fresh id for `request_async_id`.
    pub(crate) fn next_async_id(&self) -> u64 {
        self.next_async_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends one request and returns the library's immediate response.
    pub(crate) fn request(
        &self,
        request: proto::ffi_request::Message,
    ) -> Result<proto::ffi_response::Message, UTDStreamError> {
        let what = request_name(&request);
        let bytes = proto::FfiRequest {
            message: Some(request),
        }
        .encode_to_vec();
        let mut response_ptr: *const u8 = std::ptr::null();
        let mut response_len: usize = 0;
        // SAFETY: the input slice outlives the call; the library writes the
        // response location and keeps the bytes alive until the returned
        // handle is dropped, which happens after they were decoded.
        let handle = unsafe {
            (self.request)(
                bytes.as_ptr(),
                bytes.len(),
                &mut response_ptr,
                &mut response_len,
            )
        };
        if handle == 0 {
            return Err(UTDStreamError::internal(format!(
                "LiveKit's media library refused the {what} request"
            )));
        }
        let response: &[u8] = if response_ptr.is_null() {
            &[]
        } else {
            // SAFETY: see above; valid until drop_handle(handle).
            unsafe { std::slice::from_raw_parts(response_ptr, response_len) }
        };
        let decoded = proto::FfiResponse::decode(response);
        self.drop_handle(handle);
        decoded
            .map_err(|e| {
                UTDStreamError::protocol(format!("undecodable {what} response from LiveKit: {e}"))
            })?
            .message
            .ok_or_else(|| UTDStreamError::protocol(format!("empty {what} response from LiveKit")))
    }

    /// Sends an asynchronous request whose `request_async_id` is `async_id`
    /// and waits for its callback.
    pub(crate) async fn request_async(
        &self,
        async_id: u64,
        request: proto::ffi_request::Message,
    ) -> Result<proto::ffi_event::Message, UTDStreamError> {
        let what = request_name(&request);
        let (tx, rx) = oneshot::channel();
        self.routes().pending.insert(async_id, tx);
        if let Err(e) = self.request(request) {
            self.routes().pending.remove(&async_id);
            return Err(e);
        }
        rx.await.map_err(|_| {
            UTDStreamError::internal(format!("LiveKit's media library never answered {what}"))
        })
    }

    /// Releases a handle the library gave us (rooms, tracks, sources, ...).
    pub(crate) fn drop_handle(&self, handle: u64) {
        if handle != 0 {
            // SAFETY: plain integer call; unknown handles are ignored.
            unsafe { (self.drop_handle)(handle) };
        }
    }

    /// Routes the events of the room `handle` to `events`.
    pub(crate) fn route_room(
        &self,
        handle: u64,
        events: mpsc::UnboundedSender<proto::room_event::Message>,
    ) {
        self.routes().rooms.insert(handle, events);
    }

    /// Stops routing the events of room `handle`.
    pub(crate) fn unroute_room(&self, handle: u64) {
        self.routes().rooms.remove(&handle);
    }

    /// Routes the frames of stream `handle` to `sink`.
    pub(crate) fn route_stream(&self, handle: u64, sink: StreamSink) {
        self.routes().streams.insert(handle, sink);
    }

    /// Stops routing stream `handle`.
    pub(crate) fn unroute_stream(&self, handle: u64) {
        self.routes().streams.remove(&handle);
    }

    fn dispatch(&self, event: proto::ffi_event::Message) {
        use proto::ffi_event::Message as E;
        match event {
            E::RoomEvent(room_event) => {
                let Some(message) = room_event.message else {
                    return;
                };
                let routes = self.routes();
                if let Some(tx) = routes.rooms.get(&room_event.room_handle) {
                    let _ = tx.send(message);
                }
            }
            E::AudioStreamEvent(stream_event) => self.dispatch_audio(stream_event),
            E::VideoStreamEvent(stream_event) => self.dispatch_video(stream_event),
            E::Logs(batch) => forward_logs(batch),
            E::Panic(panic) => {
                tracing::error!(target: "utd_stream::media", "LiveKit's media library panicked: {}", panic.message);
            }
            other => {
                if let Some(async_id) = async_id_of(&other) {
                    if let Some(waiter) = self.routes().pending.remove(&async_id) {
                        let _ = waiter.send(other);
                    }
                }
            }
        }
    }

    fn dispatch_audio(&self, event: proto::AudioStreamEvent) {
        use proto::audio_stream_event::Message as A;
        let stream = event.stream_handle;
        match event.message {
            Some(A::FrameReceived(received)) => {
                let buffer = received.frame;
                let frame = copy_audio_frame(&buffer.info);
                self.drop_handle(buffer.handle.id);
                let routes = self.routes();
                if let Some(StreamSink::Audio(tx)) = routes.streams.get(&stream) {
                    // Full: the consumer is behind; dropping keeps the
                    // library's thread from ever waiting on the app.
                    let _ = tx.try_send(frame);
                }
            }
            Some(A::Eos(_)) => {
                self.routes().streams.remove(&stream);
            }
            None => {}
        }
    }

    fn dispatch_video(&self, event: proto::VideoStreamEvent) {
        use proto::video_stream_event::Message as V;
        let stream = event.stream_handle;
        match event.message {
            Some(V::FrameReceived(received)) => {
                let buffer = received.buffer;
                let handle = buffer.handle.id;
                // Copy only when someone watches; the copy is the one copy.
                let slot = match self.routes().streams.get(&stream) {
                    Some(StreamSink::Video(slot)) => Some(slot.clone()),
                    _ => None,
                };
                let frame = match &slot {
                    Some(_) => {
                        copy_video_frame(&buffer.info, received.timestamp_us, received.rotation)
                    }
                    None => None,
                };
                self.drop_handle(handle);
                if let (Some(slot), Some(frame)) = (slot, frame) {
                    slot.put(frame);
                }
            }
            Some(V::Eos(_)) => {
                if let Some(StreamSink::Video(slot)) = self.routes().streams.remove(&stream) {
                    slot.close();
                }
            }
            None => {}
        }
    }
}

/// Refuses any build of the library but the one the types were generated for.
fn check_build_version(reported: Option<String>) -> Result<(), String> {
    match reported {
        Some(v) if v == EXPECTED_BUILD_VERSION => Ok(()),
        Some(v) => Err(format!(
            "it is build {v}, this SDK speaks to build {EXPECTED_BUILD_VERSION} only"
        )),
        None => Err("it did not report its build version".into()),
    }
}

/// The library's event callback.
unsafe extern "C" fn on_event(data: *const u8, len: usize) {
    if data.is_null() {
        return;
    }
    // SAFETY: the library passes a buffer valid for the duration of the call.
    let bytes = unsafe { std::slice::from_raw_parts(data, len) };
    // Never unwind into the library's threads.
    let _ = std::panic::catch_unwind(|| {
        let Some(Ok(client)) = CLIENT.get() else {
            return;
        };
        match proto::FfiEvent::decode(bytes) {
            Ok(proto::FfiEvent {
                message: Some(event),
            }) => client.dispatch(event),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(target: "utd_stream::media", "undecodable event from LiveKit's media library: {e}");
            }
        }
    });
}

/// Reads `build_version()` through UniFFI's calling convention.
///
/// # Safety
/// Both functions must be the library's UniFFI scaffolding functions.
unsafe fn read_version(build_version: BuildVersionFn, free: RustBufferFreeFn) -> Option<String> {
    let mut status = RustCallStatus {
        code: 0,
        error_buf: RustBuffer {
            capacity: 0,
            len: 0,
            data: std::ptr::null_mut(),
        },
    };
    let buffer = unsafe { build_version(&mut status) };
    if status.code != 0 || buffer.data.is_null() {
        return None;
    }
    let len = usize::try_from(buffer.len).ok()?;
    // SAFETY: UniFFI lowers a String return as its UTF-8 bytes.
    let version = String::from_utf8_lossy(unsafe { std::slice::from_raw_parts(buffer.data, len) })
        .into_owned();
    unsafe { free(buffer, &mut status) };
    Some(version)
}

fn forward_logs(batch: proto::LogBatch) {
    for record in batch.records {
        let level = proto::LogLevel::try_from(record.level).unwrap_or(proto::LogLevel::LogInfo);
        // LiveKit logs at its own levels; only its warnings and errors are
        // worth an app's attention, the rest is kept at debug/trace.
        match level {
            proto::LogLevel::LogError => {
                tracing::warn!(target: "utd_stream::media", "livekit {}: {}", record.target, record.message)
            }
            proto::LogLevel::LogWarn => {
                tracing::info!(target: "utd_stream::media", "livekit {}: {}", record.target, record.message)
            }
            proto::LogLevel::LogInfo => {
                tracing::debug!(target: "utd_stream::media", "livekit {}: {}", record.target, record.message)
            }
            _ => {
                tracing::trace!(target: "utd_stream::media", "livekit {}: {}", record.target, record.message)
            }
        }
    }
}

/// The async id of a callback event (the ones that answer a request).
fn async_id_of(event: &proto::ffi_event::Message) -> Option<u64> {
    use proto::ffi_event::Message as E;
    Some(match event {
        E::Connect(e) => e.async_id,
        E::Disconnect(e) => e.async_id,
        E::PublishTrack(e) => e.async_id,
        E::UnpublishTrack(e) => e.async_id,
        E::PublishData(e) => e.async_id,
        E::CaptureAudioFrame(e) => e.async_id,
        E::GetStats(e) => e.async_id,
        E::GetSessionStats(e) => e.async_id,
        E::Dispose(e) => e.async_id,
        _ => return None,
    })
}

fn request_name(request: &proto::ffi_request::Message) -> &'static str {
    use proto::ffi_request::Message as R;
    match request {
        R::Connect(_) => "connect",
        R::Disconnect(_) => "disconnect",
        R::ReadyForRoomEvent(_) => "ready-for-room-event",
        R::PublishTrack(_) => "publish-track",
        R::UnpublishTrack(_) => "unpublish-track",
        R::PublishData(_) => "publish-data",
        R::NewAudioSource(_) => "new-audio-source",
        R::CreateAudioTrack(_) => "create-audio-track",
        R::CaptureAudioFrame(_) => "capture-audio-frame",
        R::NewVideoSource(_) => "new-video-source",
        R::CreateVideoTrack(_) => "create-video-track",
        R::CaptureVideoFrame(_) => "capture-video-frame",
        R::NewAudioStream(_) => "new-audio-stream",
        R::NewVideoStream(_) => "new-video-stream",
        R::LocalTrackMute(_) => "local-track-mute",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_pinned_build_is_accepted() {
        assert!(check_build_version(Some(EXPECTED_BUILD_VERSION.into())).is_ok());
        let other = check_build_version(Some("0.12.74".into())).unwrap_err();
        assert!(
            other.contains("0.12.74") && other.contains(EXPECTED_BUILD_VERSION),
            "{other}"
        );
        assert!(check_build_version(None).is_err());
    }
}
