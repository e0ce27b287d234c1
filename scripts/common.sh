# Shared helpers for the project's shell entry points. Sourced, never run.
#
# Everything the scripts install lives under UTD_CACHE (outside the repo), so a
# second run on the same machine reuses it and a fresh clone stays clean.

UTD_CACHE="${UTD_CACHE:-$HOME/.cache/utd-stream}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

KOTLIN_VERSION="2.4.20"
LIVEKIT_SERVER_VERSION="v1.13.5"
# The S3-compatible store of the upload tests (testkit/src/s3.rs).
VERSITYGW_VERSION="v1.8.0"
SWIFT_SUITE="trixie"
# LiveKit's own Rust SDK as a C-ABI library, from the PyPI wheel `livekit`:
# the desktop media transport (src/media/livekit_ffi). Its build version is
# what the library reports at run time (checked before use).
LIVEKIT_FFI_WHEEL_VERSION="1.2.0"

KOTLIN_HOME="$UTD_CACHE/kotlin-$KOTLIN_VERSION"
SWIFT_ROOT="$UTD_CACHE/swift-$SWIFT_SUITE-root"
LIVEKIT_SERVER_BIN="$UTD_CACHE/bin/livekit-server-$LIVEKIT_SERVER_VERSION"
# testkit reads UTD_VERSITYGW_BIN, defaulting to this path.
VERSITYGW_BIN="$UTD_CACHE/bin/versitygw-$VERSITYGW_VERSION"
JNA_JAR="/usr/share/java/jna.jar"
# Android on the JVM (scripts/setup.sh android): Robolectric, the android-all
# jars, Firebase Messaging, JNA 5.17 (what the AAR ships) and D8, from Maven
# Central, as plain jars in one folder (an .aar's classes.jar is unpacked to
# <artifact>-<version>.jar). Bump the suffix when the list changes.
ANDROID_DEPS_DIR="$UTD_CACHE/android-deps-1"
ANDROID_JARS="$ANDROID_DEPS_DIR/jars"
MAVEN_REPO_LOCAL="$UTD_CACHE/m2"
# build.rs and the runtime loader read the same folder (see build.rs).
LIVEKIT_FFI_DIR="$UTD_CACHE/livekit-ffi-$LIVEKIT_FFI_WHEEL_VERSION"
export UTD_LIVEKIT_FFI_DIR="${UTD_LIVEKIT_FFI_DIR:-$LIVEKIT_FFI_DIR}"
# iOS (scripts/package-ios.sh): the deployment target every slice is built
# for (= Package.swift's `.iOS(.v15)`), and, for the check build without
# Xcode (scripts/setup.sh ios), zig cc/c++ from the PyPI wheel `ziglang` as
# the C/C++ compiler of iOS targets plus an SDK root of its bundled Darwin headers.
IOS_DEPLOYMENT_TARGET="15.0"
ZIGLANG_VERSION="0.17.0"
# Bump the suffix when what setup_ios writes there changes.
IOS_ZIG_DIR="$UTD_CACHE/ios-zig-$ZIGLANG_VERSION-1"

mkdir -p "$UTD_CACHE"

log() { printf '[utd] %s\n' "$*" >&2; }
die() { printf '[utd] ERROR: %s\n' "$*" >&2; exit 1; }

# step NAME COMMAND...: runs a step, printing what it does and how long it took.
step() {
  local name="$1"; shift
  local start end
  start=$(date +%s.%N)
  log "step '$name': start"
  if "$@"; then
    end=$(date +%s.%N)
    log "step '$name': done in $(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.1f", b-a}') s"
  else
    local rc=$?
    end=$(date +%s.%N)
    log "step '$name': FAILED (exit $rc) after $(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.1f", b-a}') s"
    return "$rc"
  fi
}

# with_services COMMAND...: runs COMMAND with a PostgreSQL and a Redis of its
# own on loopback (testkit's utd-services), named in UTD_TEST_POSTGRES and
# UTD_TEST_REDIS: every test engine then stores in PostgreSQL, and with
# UTD_TEST_NODES=2 runs as two nodes behind a balancer. Both servers and
# their data are gone afterwards.
with_services() {
  local dir pid status=0
  dir="$(mktemp -d)"
  (cd "$REPO_ROOT" && cargo build --quiet -p utd-testkit --bin utd-services) || return 1
  "$REPO_ROOT/target/debug/utd-services" >"$dir/env" 2>"$dir/log" &
  pid=$!
  for _ in $(seq 1 300); do
    if grep -qx READY "$dir/env" 2>/dev/null || ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  if ! grep -qx READY "$dir/env"; then
    cat "$dir/log" >&2
    log "PostgreSQL and Redis did not start (utd-services)"
    kill "$pid" 2>/dev/null || true
    rm -rf "$dir"
    return 1
  fi
  env $(grep '=' "$dir/env") "$@" || status=$?
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
  return "$status"
}
