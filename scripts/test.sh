#!/usr/bin/env bash
# The one test command (README, CI): installs what is missing, builds the
# library and its bindings once, checks formatting and lints, then runs the
# Rust, Kotlin, Robolectric and Swift suites (the Rust, Kotlin and Swift ones
# also against a two-node engine on PostgreSQL + Redis), the Android and iOS
# package checks and a smoke run of each bench. A failing suite
# does not stop the others, so every `<suite>: N passed, N failed` line is
# printed; the last line is `all: N passed, N failed`. Exits non-zero if
# anything failed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

started=$(date +%s)
problems=()

# The two Go builds (livekit-server, versitygw: minutes of CPU on a bare
# machine, nothing on a warm one) run beside the rest of the set-up and the
# Rust build, which leave a core idle for long stretches (downloads, links).
# Joined before the first step that needs them (the API fuzz's S3 store).
mkdir -p "$REPO_ROOT/target"
go_setup_log="$REPO_ROOT/target/setup-go.log"
"$REPO_ROOT/scripts/setup.sh" livekit versitygw >"$go_setup_log" 2>&1 &
go_setup_pid=$!
join_go_setup() {
  local status=0
  wait "$go_setup_pid" || status=$?
  cat "$go_setup_log" >&2
  [ "$status" -eq 0 ]
}
step "setup (toolchains)" "$REPO_ROOT/scripts/setup.sh" apt kotlin android swift livekit-ffi ios ||
  die "setup failed: see above"
step "bindings (library + Kotlin/Swift sources)" "$REPO_ROOT/scripts/bindings.sh" ||
  die "building the library or generating bindings failed: see above"

step "cargo fmt --check" cargo fmt --all --check || problems+=("cargo fmt --check")
step "cargo clippy -D warnings" cargo clippy --workspace --all-targets --quiet -- -D warnings ||
  problems+=("cargo clippy")
# The production media transport (`livekit` feature) cannot link here: its
# build downloads libwebrtc. DOCS_RS=1 makes webrtc-sys skip that, so clippy
# still type-checks and lints the code behind the feature.
if sed -n '/^\[features\]/,/^\[/p' Cargo.toml | grep -qE '^livekit *='; then
  # The transport conformance suite is type-checked against it too.
  step "cargo clippy --features livekit (DOCS_RS=1)" \
    env DOCS_RS=1 cargo clippy -p utd-stream --features livekit --lib --test transport_conformance \
    --quiet -- -D warnings ||
    problems+=("cargo clippy --features livekit")
fi

step "setup (Go builds: livekit-server, versitygw)" join_go_setup || die "setup failed: see above"

# Property-based fuzz of the engine against docs/openapi.yaml: any 5xx or
# reply outside the contract fails the run.
step "engine API fuzz (schemathesis)" env MAX_EXAMPLES="${MAX_EXAMPLES:-40}" \
  "$REPO_ROOT/engine/fuzz/schemathesis.sh" || problems+=("engine API fuzz")

total_passed=0
total_failed=0
# run_suite NAME SCRIPT [ARGS...]: runs a suite, adds its summary line to the totals.
run_suite() {
  run_suite_as "$1" "$1" "${@:2}"
}

# run_suite_on_two_nodes NAME SCRIPT [ARGS...]: the suite again, its engine
# two nodes on PostgreSQL + Redis behind a balancer (utd_testkit::test_engine).
run_suite_on_two_nodes() {
  local name="$1" script="$2"
  shift 2
  run_suite_as "$name" "$name (two engine nodes)" with_services env UTD_TEST_NODES=2 "$script" "$@"
}

# run_suite_as NAME LABEL SCRIPT [ARGS...]: the suite prints `NAME: N
# passed, N failed`; LABEL names it in the summary.
run_suite_as() {
  local name="$1" label="$2" log_file="$REPO_ROOT/target/suite-$2.log" status=0
  local script="$3"
  shift 3
  log_file="${log_file// /-}"
  log_file="${log_file//[()]/}"
  mkdir -p "$REPO_ROOT/target"
  step "$label suite" "$script" "$@" 2>&1 | tee "$log_file" || status=$?
  local line
  line=$(grep -E "^$name: [0-9]+ passed, [0-9]+ failed$" "$log_file" | tail -n1 || true)
  if [ -z "$line" ]; then
    line="$name: 0 passed, 1 failed"
    log "$label suite printed no summary; counting it as one failure"
  fi
  local p f
  p=$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")
  f=$(sed -E 's/.*, ([0-9]+) failed/\1/' <<<"$line")
  total_passed=$((total_passed + p))
  total_failed=$((total_failed + f))
  if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
    total_failed=$((total_failed + 1))
  fi
  [ "$status" -eq 0 ] || problems+=("$label suite")
  summaries+=("${line/#$name:/$label:}")
}

summaries=()
run_suite rust "$REPO_ROOT/scripts/test-rust.sh"
run_suite kotlin "$REPO_ROOT/scripts/test-kotlin.sh"
run_suite_on_two_nodes kotlin "$REPO_ROOT/scripts/test-kotlin.sh"
# The Android check first: the Robolectric suite runs the classes it compiled.
run_suite android "$REPO_ROOT/scripts/package-android.sh" --check
run_suite robolectric "$REPO_ROOT/scripts/test-robolectric.sh"
run_suite swift "$REPO_ROOT/scripts/test-swift.sh"
run_suite_on_two_nodes swift "$REPO_ROOT/scripts/test-swift.sh"
# The iOS check build (no Xcode here): device slice, xcframework, zip,
# checksum and release manifest, validated (docs/ios-packaging.md).
run_suite ios "$REPO_ROOT/scripts/package-ios.sh" --check

# The benches print numbers in release (scripts/bench.sh); a few runs in the
# debug build here keep them working. Their numbers are not judged.
export UTD_LIVEKIT_SERVER_BIN="${UTD_LIVEKIT_SERVER_BIN:-$LIVEKIT_SERVER_BIN}"
for bench in bench_rooms bench_calls bench_media bench_push; do
  step "bench smoke ($bench, 5 runs)" cargo run --quiet --example "$bench" -- --runs 5 --warmup 1 ||
    problems+=("bench smoke $bench")
done
step "bench smoke (bench_chat, 5 runs, 2000-message history)" \
  cargo run --quiet --example bench_chat -- --runs 5 --warmup 1 --history 2000 ||
  problems+=("bench smoke bench_chat")
step "bench smoke (bench_engine, 1 s per endpoint, 200 sockets)" bash -c \
  'cargo build --quiet -p utd-engine --bin utd-engine --example bench_engine &&
   target/debug/examples/bench_engine --seconds 1 --sockets 200' ||
  problems+=("bench smoke bench_engine")

echo
for line in "${summaries[@]}"; do echo "$line"; done
if [ ${#problems[@]} -gt 0 ]; then
  log "failed: ${problems[*]}"
fi
log "whole run: $(($(date +%s) - started)) s"
echo "all: $total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ] && [ ${#problems[@]} -eq 0 ]
