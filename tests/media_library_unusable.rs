//! A machine without LiveKit's media library (or with something else at its
//! path) gets a typed error naming the fix, never a crash. Its own test
//! binary: the library is loaded once per process.

use utd_stream::media::livekit_ffi::{LiveKitFfiTransport, LIBRARY_PATH_ENV};
use utd_stream::media::{RoomTransport, TransportOptions};
use utd_stream::UTDErrorCode;

#[tokio::test]
async fn without_the_library_joins_fail_with_unsupported_naming_the_setup_command() {
    let missing = std::env::temp_dir().join("utd-no-such-dir/liblivekit_ffi.so");
    // Before anything loads the library; this process has no other test.
    std::env::set_var(LIBRARY_PATH_ENV, &missing);
    let e = LiveKitFfiTransport::check_library().unwrap_err();
    assert_eq!(e.kind(), UTDErrorCode::Unsupported, "{e}");
    assert!(e.message().contains("scripts/setup.sh livekit-ffi"), "{e}");
    assert!(e.message().contains(&missing.display().to_string()), "{e}");
    let transport = LiveKitFfiTransport::new();
    let e = transport
        .connect("ws://127.0.0.1:9", "token", TransportOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        e.kind(),
        UTDErrorCode::Unsupported,
        "every later use says the same: {e}"
    );
}
