#!/usr/bin/env bash
# Kotlin suite: compiles the generated bindings together with tests/kotlin/*.kt
# and runs them on the JVM against the host library target/debug/libutd_stream.so.
# When the utd-stack binary is built, the real engine + livekit-server run for
# the duration of the suite and tests find them through UTD_STACK_ENV.
#
# Prints `kotlin: N passed, N failed` as its last line. Extra arguments filter
# tests by name: scripts/test-kotlin.sh "logs:"
# After a full run, a smoke run of the call-cost bench (tests/kotlin/CallCostBench.kt,
# a few iterations, no timing judged): a wrong value there counts as one failure.
# `scripts/test-kotlin.sh --compile-only` only builds the jar (scripts/bench.sh kotlin).
# Needs: scripts/setup.sh (apt kotlin), scripts/bindings.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

summary_failed() {
  # The suite could not run at all: still print a summary line so the
  # caller's totals count it as a failure.
  echo "kotlin: 0 passed, 1 failed"
  exit 1
}

generated="$REPO_ROOT/bindings/generated/com/utdstream/sdk/utd_stream.kt"
lib_dir="$REPO_ROOT/target/debug"
[ -f "$generated" ] || { log "no generated Kotlin bindings: run scripts/bindings.sh first"; summary_failed; }
compile_only=false
if [ "${1:-}" = "--compile-only" ]; then
  compile_only=true
  shift
fi
$compile_only || [ -f "$lib_dir/libutd_stream.so" ] || { log "no $lib_dir/libutd_stream.so: run scripts/bindings.sh first"; summary_failed; }
[ -x "$KOTLIN_HOME/bin/kotlinc" ] || { log "kotlinc missing: run scripts/setup.sh kotlin"; summary_failed; }
[ -f "$JNA_JAR" ] || { log "$JNA_JAR missing: run scripts/setup.sh apt"; summary_failed; }

out="$REPO_ROOT/target/kotlin-tests"
jar="$out/utd-stream-kotlin-tests.jar"
libs="$KOTLIN_HOME/lib/kotlinx-coroutines-core-jvm.jar:$KOTLIN_HOME/lib/kotlin-test.jar:$JNA_JAR"
mkdir -p "$out"

compile() {
  # kotlinc takes ~15 s; skip it when neither the bindings nor the tests changed.
  local stamp="$out/inputs.sha256" current
  current=$(cat "$generated" platforms/android/src/main/kotlin/com/utdstream/sdk/*.kt tests/kotlin/*.kt | sha256sum | cut -d' ' -f1)
  if [ -f "$jar" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$current" ]; then
    log "kotlin: sources unchanged, reusing $jar"
    return 0
  fi
  rm -f "$jar" "$stamp"
  # JAVA_OPTS keeps kotlinc's own JVM from grabbing a quarter of the RAM of
  # a small CI machine next to cargo.
  JAVA_OPTS="${JAVA_OPTS:--Xmx1g}" "$KOTLIN_HOME/bin/kotlinc" -nowarn -cp "$libs" \
    "$generated" platforms/android/src/main/kotlin/com/utdstream/sdk/*.kt tests/kotlin/*.kt -d "$jar" || return 1
  echo "$current" >"$stamp"
}

package_version() {
  # The SDK crate's version, read from Cargo.toml independently of the library.
  sed -n '/^\[package\]/,/^\[/{s/^version *= *"\(.*\)"/\1/p}' "$REPO_ROOT/Cargo.toml" | head -n1
}

run_tests() {
  java -Djna.library.path="$lib_dir" \
    -Dutd.expectedVersion="$(package_version)" \
    -Dutd.expectedTarget="$(rustc -vV | sed -n 's/^host: //p')" \
    -Dutd.expectedProfile=debug \
    -cp "$jar:$KOTLIN_HOME/lib/kotlin-stdlib.jar:$libs" \
    com.utdstream.tests.TestRunnerKt "$@"
}

if $compile_only; then
  step "kotlinc (bindings + tests)" compile
  exit $?
fi
step "kotlinc (bindings + tests)" compile || summary_failed

source "$REPO_ROOT/testkit/scripts/stack.sh"
stack_start "$out" || summary_failed
trap stack_stop EXIT

bench_smoke() {
  # The same main scripts/bench.sh kotlin runs in release, with few
  # iterations: it checks the values returned, never the times.
  java -Djna.library.path="$lib_dir" \
    -cp "$jar:$KOTLIN_HOME/lib/kotlin-stdlib.jar:$libs" \
    com.utdstream.tests.CallCostBenchKt --iterations 200 --batches 3 --warmup 200
}

output="$out/last-run.log"
summary_re='^kotlin: [0-9]+ passed, [0-9]+ failed$'
set +e
# The runner's summary line is held back and printed last, after the bench.
step "kotlin tests" run_tests "$@" 2>&1 | tee "$output" | grep -vE "$summary_re"
status=${PIPESTATUS[0]}
set -e
summary=$(grep -E "$summary_re" "$output" | tail -n1 || true)
if [ -z "$summary" ]; then
  log "the Kotlin test runner ended (exit $status) without a summary: it crashed"
  summary_failed
fi
if [ $# -eq 0 ]; then
  if ! step "call-cost bench (smoke)" bench_smoke; then
    passed=$(sed -E 's/^kotlin: ([0-9]+) passed.*/\1/' <<<"$summary")
    failed=$(sed -E 's/.*, ([0-9]+) failed$/\1/' <<<"$summary")
    summary="kotlin: $passed passed, $((failed + 1)) failed"
    status=1
  fi
else
  log "call-cost bench smoke skipped: tests filtered by $*"
fi
echo "$summary"
exit "$status"
