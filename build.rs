//! Records build facts (target triple, git commit) for `build_info()` and,
//! with the `livekit-ffi` feature, generates the Rust types of LiveKit's FFI
//! protocol from the descriptor set `scripts/setup.sh livekit-ffi` extracted
//! from the pinned wheel (no .proto file, no protoc).
use std::process::Command;

fn main() {
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=UTD_BUILD_TARGET={target}");
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    if let Some(commit) = commit {
        println!("cargo:rustc-env=UTD_GIT_COMMIT={commit}");
    }
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    #[cfg(feature = "livekit-ffi")]
    livekit_ffi::generate();
}

#[cfg(feature = "livekit-ffi")]
mod livekit_ffi {
    use std::path::PathBuf;

    use prost::Message;

    /// Must match `LIVEKIT_FFI_WHEEL_VERSION` in scripts/common.sh.
    const WHEEL_VERSION: &str = "1.2.0";

    /// The folder setup.sh fills: `UTD_LIVEKIT_FFI_DIR`, else under
    /// `UTD_CACHE`, else under `~/.cache/utd-stream` (the scripts' defaults).
    fn cache_dir() -> PathBuf {
        println!("cargo:rerun-if-env-changed=UTD_LIVEKIT_FFI_DIR");
        println!("cargo:rerun-if-env-changed=UTD_CACHE");
        if let Some(dir) = std::env::var_os("UTD_LIVEKIT_FFI_DIR") {
            return PathBuf::from(dir);
        }
        let cache = std::env::var_os("UTD_CACHE")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/utd-stream"))
            })
            .unwrap_or_else(|| PathBuf::from(".cache/utd-stream"));
        cache.join(format!("livekit-ffi-{WHEEL_VERSION}"))
    }

    pub fn generate() {
        let dir = cache_dir();
        let descriptors = dir.join("descriptors.bin");
        println!("cargo:rerun-if-changed={}", descriptors.display());
        let bytes = std::fs::read(&descriptors).unwrap_or_else(|e| {
            panic!(
                "the `livekit-ffi` feature needs LiveKit's FFI descriptors at {}: {e}. \
                 Run `scripts/setup.sh livekit-ffi` (it fetches the pinned livekit=={WHEEL_VERSION} \
                 wheel from PyPI), or build with --no-default-features.",
                descriptors.display()
            )
        });
        let set = prost_types::FileDescriptorSet::decode(bytes.as_slice()).unwrap_or_else(|e| {
            panic!(
                "{} is not a protobuf FileDescriptorSet ({e}): re-run `scripts/setup.sh livekit-ffi`",
                descriptors.display()
            )
        });
        prost_build::Config::new()
            .compile_fds(set)
            .unwrap_or_else(|e| panic!("generating LiveKit's FFI types failed: {e}"));
        // The loader's default path; UTD_LIVEKIT_FFI_LIB overrides it at run time.
        println!(
            "cargo:rustc-env=UTD_LIVEKIT_FFI_DEFAULT_LIB={}",
            dir.join("liblivekit_ffi.so").display()
        );
        println!("cargo:rustc-env=UTD_LIVEKIT_FFI_WHEEL_VERSION={WHEEL_VERSION}");
    }
}
