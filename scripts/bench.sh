#!/usr/bin/env bash
# The room bench (examples/bench_rooms.rs), release build: median and p99 of
# takeSeat → canPublish and inviteToStage → viewer canPublish over 200 runs,
# next to the bare engine round trip of the same request, against a real
# livekit-server and the in-process engine. Installs livekit-server if it is
# missing. Extra arguments go to the bench: --runs N, --warmup N,
# --rotate-after S (see `scripts/bench.sh --help`). Exits non-zero on failure.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

step "setup (livekit-server)" "$REPO_ROOT/scripts/setup.sh" livekit
# The bench finds livekit-server here, like the tests.
export UTD_LIVEKIT_SERVER_BIN="${UTD_LIVEKIT_SERVER_BIN:-$LIVEKIT_SERVER_BIN}"
step "bench (release)" cargo run --release --example bench_rooms -- "$@"
