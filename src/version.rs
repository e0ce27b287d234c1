//! What SDK build is running, for bug reports and support.

/// Version and build facts of the SDK library in use.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UTDBuildInfo {
    /// Semantic version of the SDK (`Cargo.toml` version).
    pub version: String,
    /// Git commit the library was built from, when known at build time.
    pub git_commit: Option<String>,
    /// Target triple the native library was compiled for.
    pub target: String,
    /// `debug` or `release`.
    pub profile: String,
}

/// Returns the SDK's version and build information.
#[uniffi::export]
pub fn build_info() -> UTDBuildInfo {
    UTDBuildInfo {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        git_commit: option_env!("UTD_GIT_COMMIT").map(str::to_owned),
        target: env!("UTD_BUILD_TARGET").to_owned(),
        profile: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
        .to_owned(),
    }
}

/// The SDK's semantic version, e.g. `"0.1.0"`.
#[uniffi::export]
pub fn sdk_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}
