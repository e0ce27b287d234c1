#!/usr/bin/env bash
# Rust suite: every test of the workspace (SDK, engine, testkit), with the
# real livekit-server the testkit starts and each engine on SQLite; then the
# engine's tests again with every engine on PostgreSQL and a node of a
# cluster on Redis, and the
# SDK's end-to-end tests against a two-node engine (PostgreSQL + Redis,
# behind a round-robin balancer). Prints `rust: N passed, N failed` (summed
# over cargo's "test result:" lines of all three) as its last line.
# Extra arguments go to each `cargo test`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

# The testkit finds livekit-server here (scripts/setup.sh livekit installs it).
export UTD_LIVEKIT_SERVER_BIN="${UTD_LIVEKIT_SERVER_BIN:-$LIVEKIT_SERVER_BIN}"

out="$REPO_ROOT/target/rust-tests"
mkdir -p "$out"
output="$out/last-run.log"

set +e
# --no-fail-fast: one failing test binary must not hide the results of the
# others from the totals.
step "cargo test --workspace" cargo test --workspace --no-fail-fast "$@" 2>&1 | tee "$output"
status=${PIPESTATUS[0]}
step "cargo test -p utd-engine (PostgreSQL + Redis)" \
  with_services cargo test -p utd-engine --no-fail-fast "$@" 2>&1 | tee -a "$output"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
step "cargo test -p utd-stream --test '*' (two engine nodes)" \
  with_services env UTD_TEST_NODES=2 cargo test -p utd-stream --test '*' --no-fail-fast "$@" \
  2>&1 | tee -a "$output"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
set -e

read -r passed failed < <(
  awk '/^test result:/ {
         for (i = 1; i <= NF; i++) {
           if ($(i + 1) ~ /^passed;?$/) p += $i
           if ($(i + 1) ~ /^failed;?$/) f += $i
         }
       }
       END { print p + 0, f + 0 }' "$output"
)
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # A build error or a test binary that crashed (signal, abort) reports no
  # failed test: count the run itself as one failure.
  log "cargo test failed (exit $status) without a failed test: build error or crashed test binary"
  failed=1
fi
echo "rust: $passed passed, $failed failed"
[ "$status" -eq 0 ]
