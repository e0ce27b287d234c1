#!/usr/bin/env bash
# The benches, release build, against a real livekit-server and the
# in-process engine. Installs livekit-server and LiveKit's FFI library if missing.
#
#   scripts/bench.sh rooms [args]   the room bench (examples/bench_rooms.rs):
#       median and p99 of takeSeat → canPublish and inviteToStage → viewer
#       canPublish over 200 runs, next to the bare engine round trip of the
#       same request. Args: --runs N, --warmup N, --rotate-after S.
#   scripts/bench.sh calls [args]   the call bench (examples/bench_calls.rs):
#       median and p99 of the caller's start() → invitation at the callee's
#       listener and of accept() → both sides active over 200 calls, next to
#       the bare signal WebSocket round trip measured in the same run.
#       Args: --runs N, --warmup N, --type audio|video.
#   scripts/bench.sh media [args]   the media bench (examples/bench_media.rs):
#       median and p99 of join → first remote audio frame, takeSeat → first
#       audio frame at the host and one-way 1 KB reliable data over 50 runs,
#       each next to the same step on LiveKit's FFI transport alone (the
#       floor). Args: --runs N, --warmup N.
#   scripts/bench.sh push [args]    the wake-from-killed bench (examples/bench_push.rs):
#       median and p99 of push sent → APNs stand-in → reconcile done → first
#       remote audio over 50 cold starts (a new controller built from the VoIP
#       payload), next to a warm accept (connected phone) in the same run.
#       Args: --runs N, --warmup N.
#   scripts/bench.sh size           the SDK library's size (x86_64 Linux): the default
#       release build next to the size profile the phone packages use
#       (`--profile release-size`: opt-level z, fat LTO, one codegen unit).
#   scripts/bench.sh [args]         the four timing benches, each with args
#       (so only the flags all take: --runs N, --warmup N).
#
# `scripts/bench.sh rooms --help` / `calls --help` print a bench's usage.
# Exits non-zero when a bench fails (with no bench name, after running both).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

benches=(rooms calls media push)
case "${1:-}" in
  rooms | calls | media | push) benches=("$1"); shift ;;
  size)
    # Both are the desktop library (default features): what differs is the
    # profile. Needs build.rs's LiveKit descriptors, like every build.
    step "setup (LiveKit FFI library)" "$REPO_ROOT/scripts/setup.sh" livekit-ffi
    step "cargo build --release --lib" cargo build --release --lib
    step "cargo build --profile release-size --lib" cargo build --profile release-size --lib
    default_size=$(stat -c %s target/release/libutd_stream.so)
    small_size=$(stat -c %s target/release-size/libutd_stream.so)
    printf '%-44s %12s\n' "library (x86_64 Linux)" "bytes"
    printf '%-44s %12d\n' "release (default profile)" "$default_size"
    printf '%-44s %12d  (%s of release)\n' "release-size (opt z, fat LTO, 1 CGU)" "$small_size" \
      "$(awk -v a="$small_size" -v b="$default_size" 'BEGIN { printf "%.2f", a / b }')"
    exit 0
    ;;
esac

step "setup (livekit-server, LiveKit FFI library)" "$REPO_ROOT/scripts/setup.sh" livekit livekit-ffi
# The benches find livekit-server here, like the tests.
export UTD_LIVEKIT_SERVER_BIN="${UTD_LIVEKIT_SERVER_BIN:-$LIVEKIT_SERVER_BIN}"
failed=()
for bench in "${benches[@]}"; do
  step "bench $bench (release)" cargo run --release --example "bench_$bench" -- "$@" \
    || failed+=("$bench")
done
if ((${#failed[@]})); then
  die "bench failed: ${failed[*]}"
fi
