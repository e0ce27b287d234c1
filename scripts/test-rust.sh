#!/usr/bin/env bash
# Rust suite: every test of the workspace (SDK, engine, testkit), with the
# real livekit-server the testkit starts. Prints `rust: N passed, N failed`
# (summed over cargo's "test result:" lines) as its last line.
# Extra arguments go to `cargo test`.
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
