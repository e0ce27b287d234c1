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
#   scripts/bench.sh chat [args]    the chat bench (examples/bench_chat.rs), no LiveKit:
#       median and p99 of send() → the message in the other member's timeline
#       over 200 messages, next to the bare signal WebSocket round trip measured
#       in the same run; and the median of timeline() → latest page of a
#       100 000-message conversation (seeded through the engine's HTTP API
#       first) over 20 fresh clients, next to the same on a 100-message one.
#       Args: --runs N, --warmup N, --history N (messages of the large
#       conversation; the smoke run in scripts/test.sh passes 2000), --loads N.
#   scripts/bench.sh engine [args]  the engine bench (engine/examples/bench_engine.rs): the
#       engine binary as its own process, on SQLite and as one node of a
#       PostgreSQL + Redis cluster (--mode sqlite|cluster|both, default both); session mints/s and
#       GET /me/s from 16 connections next to GET /health/s in the same run,
#       then its memory per idle signal socket at 1k / 5k / 10k sockets and
#       the presence push latency meanwhile (÷ with no idle socket). Raises
#       the open-files limit to the hard limit. Args: --seconds S,
#       --connections C, --sockets 1000,5000,10000.
#   scripts/bench.sh kotlin [args]  the Kotlin call-cost bench (tests/kotlin/CallCostBench.kt)
#       on the JVM against the release library: ns per call (median of batches)
#       of a sync getter, String and record-returning calls, each next to a bare
#       JNA call of libc getpid() measured in the same run. Builds the release
#       library, the bindings if missing and the Kotlin jar if stale.
#       Args: --iterations N (calls per batch), --batches N, --warmup N.
#   scripts/bench.sh size           the SDK library's size (x86_64 Linux): the default
#       release build next to the size profile the phone packages use
#       (`--profile release-size`: opt-level z, fat LTO, one codegen unit).
#   scripts/bench.sh [args]         the five timing benches (rooms, calls, media,
#       push, chat), each with args (so only the flags all take: --runs N,
#       --warmup N); not kotlin or size.
#
# `scripts/bench.sh rooms --help` / `calls --help` / `chat --help` print a
# bench's usage.
# Exits non-zero when a bench fails (with no bench name, after running both).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

benches=(rooms calls media push chat)
case "${1:-}" in
  rooms | calls | media | push | chat) benches=("$1"); shift ;;
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
  engine)
    shift
    step "cargo build --release -p utd-engine (binary + bench)" \
      cargo build --release -p utd-engine --bin utd-engine --example bench_engine
    # Each idle socket is a file descriptor in both processes.
    ulimit -n "$(ulimit -Hn)"
    # --mode sqlite|cluster|both (default both): the cluster mode starts
    # PostgreSQL 15 and redis-server through the testkit, and one node.
    step "bench engine (release)" target/release/examples/bench_engine "$@"
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
