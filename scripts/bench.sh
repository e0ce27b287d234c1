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
#   scripts/bench.sh [args]         all four, each with args
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
