#!/usr/bin/env bash
# Swift suite: `swift test` of the SwiftPM package platforms/apple (the
# generated Swift API + Tests/UTDStreamTests) inside the Debian trixie chroot
# that holds swiftlang, linked against the host's target/debug/libutd_stream.so.
# The repo is bind-mounted into the chroot at its own absolute path
# (scripts/swift-chroot.sh), so every path means the same inside and out; the
# chroot shares the host's network, so the tests reach utd-stack's engine on
# 127.0.0.1.
#
# Prints `swift: N passed, N failed` as its last line. Extra arguments go to
# `swift test` (e.g. --filter LoggingTests).
# Needs: scripts/setup.sh (swift), scripts/bindings.sh; root (mount, chroot).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

summary_failed() {
  # The suite could not run at all: still print a summary line so the
  # caller's totals count it as a failure.
  echo "swift: 0 passed, 1 failed"
  exit 1
}

pkg="$REPO_ROOT/platforms/apple"
lib_dir="$REPO_ROOT/target/debug"
out="$REPO_ROOT/target/swift-tests"
[ -f "$SWIFT_ROOT/.utd-ready" ] || { log "no Swift chroot at $SWIFT_ROOT: run scripts/setup.sh swift"; summary_failed; }
[ -f "$pkg/Sources/UTDStream/UTDStream.swift" ] || { log "no generated Swift sources: run scripts/bindings.sh"; summary_failed; }
[ -f "$lib_dir/libutd_stream.so" ] || { log "no $lib_dir/libutd_stream.so: run scripts/bindings.sh"; summary_failed; }
[ "$(id -u)" -eq 0 ] || { log "the Swift suite needs root for mount and chroot"; summary_failed; }
mkdir -p "$out"
source "$REPO_ROOT/testkit/scripts/stack.sh"

source "$REPO_ROOT/scripts/swift-chroot.sh"

cleanup() {
  local status=$?
  stack_stop
  swift_chroot_unmount
  exit "$status"
}
trap cleanup EXIT
# Ctrl-C / SIGTERM: leave through the EXIT trap so the mounts go away.
trap 'exit 130' INT
trap 'exit 143' TERM

package_version() {
  sed -n '/^\[package\]/,/^\[/{s/^version *= *"\(.*\)"/\1/p}' "$REPO_ROOT/Cargo.toml" | head -n1
}

run_swift_test() {
  local args=""
  [ $# -eq 0 ] || args=$(printf ' %q' "$@")
  # Only what the tests need is passed into the chroot (scripts/swift-chroot.sh).
  swift_chroot_run \
    UTD_STREAM_LIB_DIR="$lib_dir" \
    UTD_LIVEKIT_FFI_LIB="$lib_dir/livekit-ffi/liblivekit_ffi.so" \
    UTD_STACK_ENV="${UTD_STACK_ENV:-}" \
    UTD_EXPECTED_VERSION="$(package_version)" \
    UTD_EXPECTED_TARGET="$(rustc -vV | sed -n 's/^host: //p')" \
    UTD_EXPECTED_PROFILE=debug \
    "cd '$pkg' && swift test --disable-swift-testing$args"
}

# The chroot sees only the repo: LiveKit's media library (cached outside it)
# is copied next to the SDK library and named to the loader.
copy_livekit_ffi() {
  [ -f "$UTD_LIVEKIT_FFI_DIR/liblivekit_ffi.so" ] || { log "no LiveKit FFI library: run scripts/setup.sh livekit-ffi"; return 1; }
  mkdir -p "$lib_dir/livekit-ffi"
  cp -u "$UTD_LIVEKIT_FFI_DIR/liblivekit_ffi.so" "$lib_dir/livekit-ffi/liblivekit_ffi.so"
}

step "LiveKit FFI library into the chroot's view" copy_livekit_ffi || summary_failed
step "mount repo + proc into the Swift chroot" swift_chroot_mount || summary_failed
stack_start "$out" || summary_failed

output="$out/last-run.log"
set +e
step "swift test" run_swift_test "$@" 2>&1 | tee "$output"
status=${PIPESTATUS[0]}
set -e

# XCTest prints one "Executed N tests, with M failures" line per suite and a
# last one for the whole run.
totals=$(grep -E 'Executed [0-9]+ tests?, with [0-9]+ failures?' "$output" | tail -n1 || true)
if [ -z "$totals" ]; then
  log "swift test ended (exit $status) before running tests (build failure?)"
  summary_failed
fi
executed=$(sed -E 's/.*Executed ([0-9]+) tests?.*/\1/' <<<"$totals")
failures=$(sed -E 's/.*with ([0-9]+) failures?.*/\1/' <<<"$totals")
# A test with several failed assertions counts each one: count failed tests
# from their own "' failed" lines instead.
failed_tests=$(grep -cE "^Test Case '.*' failed" "$output" || true)
passed=$((executed - failed_tests))
echo "swift: $passed passed, $failed_tests failed"
if [ "$status" -ne 0 ] || [ "$failures" -ne 0 ] || [ "$failed_tests" -ne 0 ]; then
  exit 1
fi
