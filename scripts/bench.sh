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
#   scripts/bench.sh kotlin [args]  the Kotlin call-cost bench (tests/kotlin/CallCostBench.kt)
#       on the JVM against the release library: ns per call (median of batches)
#       of a sync getter, String and record-returning calls, each next to a bare
#       JNA call of libc getpid() measured in the same run. Builds the release
#       library, the bindings if missing and the Kotlin jar if stale.
#       Args: --iterations N (calls per batch), --batches N, --warmup N.
#   scripts/bench.sh size           the SDK library's size (x86_64 Linux): the default
#       release build next to the size profile the phone packages use
#       (`--profile release-size`: opt-level z, fat LTO, one codegen unit).
#   scripts/bench.sh [args]         the four timing benches, each with args
#       (so only the flags all take: --runs N, --warmup N); not kotlin or size.
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
  kotlin)
    shift
    step "setup (JDK + JNA, kotlinc, LiveKit FFI library)" "$REPO_ROOT/scripts/setup.sh" apt kotlin livekit-ffi
    step "cargo build --release --lib" cargo build --release --lib
    # The bindings only depend on the sources, so the jar the Kotlin suite
    # builds (from the debug library's bindings) runs against the release one.
    # Bindings from before scripts/kotlin_postprocess.py are regenerated.
    generated="$REPO_ROOT/bindings/generated/com/utdstream/sdk/utd_stream.kt"
    if ! python3 "$REPO_ROOT/scripts/kotlin_postprocess.py" --check "$generated" 2>/dev/null; then
      step "bindings" "$REPO_ROOT/scripts/bindings.sh"
    fi
    step "Kotlin jar (scripts/test-kotlin.sh --compile-only)" "$REPO_ROOT/scripts/test-kotlin.sh" --compile-only
    step "bench kotlin (release)" java -Djna.library.path="$REPO_ROOT/target/release" \
      -cp "$REPO_ROOT/target/kotlin-tests/utd-stream-kotlin-tests.jar:$KOTLIN_HOME/lib/kotlin-stdlib.jar:$KOTLIN_HOME/lib/kotlinx-coroutines-core-jvm.jar:$JNA_JAR" \
      com.utdstream.tests.CallCostBenchKt "$@"
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
