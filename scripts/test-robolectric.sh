#!/usr/bin/env bash
# Robolectric suite: the Android platform layer (platforms/android) with the
# Android variant of the Kotlin bindings, as scripts/package-android.sh
# compiled them for the AAR (its classes.jar: the same bytecode, compiled
# once), on the JVM under Robolectric 4.17
# (android-all 15, SDK 35), against the host library target/debug/libutd_stream.so
# through JNA 5.17 and the real engine + livekit-server + APNs/FCM stand-ins
# of utd-stack.
#
# Prints `robolectric: N passed, N failed` as its last line. Extra arguments
# filter tests by name: scripts/test-robolectric.sh answering
# Needs: scripts/setup.sh (apt kotlin android), scripts/bindings.sh,
# scripts/package-android.sh --check.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

summary_failed() {
  echo "robolectric: 0 passed, 1 failed"
  exit 1
}

platform_jar="$REPO_ROOT/target/android/check/build/classes.jar"
lib_dir="$REPO_ROOT/target/debug"
[ -f "$platform_jar" ] || { log "no $platform_jar: run scripts/package-android.sh --check first"; summary_failed; }
[ -f "$lib_dir/libutd_stream.so" ] || { log "no $lib_dir/libutd_stream.so: run scripts/bindings.sh first"; summary_failed; }
[ -x "$KOTLIN_HOME/bin/kotlinc" ] || { log "kotlinc missing: run scripts/setup.sh kotlin"; summary_failed; }
[ -f "$ANDROID_DEPS_DIR/.utd-ready" ] || { log "Android jars missing: run scripts/setup.sh android"; summary_failed; }

out="$REPO_ROOT/target/robolectric-tests"
jar="$out/utd-stream-robolectric-tests.jar"
mkdir -p "$out"

# Everything setup.sh fetched but D8 (a compiler, not a test dependency);
# `classpath compile` leaves out the instrumented android-all too (only
# Robolectric's sandbox loads it), which halves kotlinc's time.
classpath() {
  local jars=() file
  for file in "$ANDROID_JARS"/*.jar; do
    case "$(basename "$file")" in
      r8-*) continue ;;
      android-all-instrumented-*) [ "${1:-}" = compile ] && continue ;;
    esac
    jars+=("$file")
  done
  jars+=("$KOTLIN_HOME/lib/kotlin-stdlib.jar" "$KOTLIN_HOME/lib/kotlinx-coroutines-core-jvm.jar" "$KOTLIN_HOME/lib/kotlin-test.jar")
  local IFS=:
  echo "${jars[*]}"
}

sources() {
  find tests/robolectric -name '*.kt' | sort
  # The stack helpers (StackEnv, EngineAdmin, JSON) of the desktop Kotlin suite.
  echo tests/kotlin/Support.kt
}

compile() {
  local stamp="$out/inputs.sha256" current
  current=$({ sources | xargs cat; cat "$platform_jar"; } | sha256sum | cut -d' ' -f1)
  if [ -f "$jar" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$current" ]; then
    log "robolectric: sources unchanged, reusing $jar"
    return 0
  fi
  rm -f "$jar" "$stamp"
  # shellcheck disable=SC2046 # one path per line, none with spaces
  JAVA_OPTS="${JAVA_OPTS:--Xmx1g}" "$KOTLIN_HOME/bin/kotlinc" -nowarn -jvm-target 11 -cp "$platform_jar:$(classpath compile)" \
    $(sources) -d "$jar" || return 1
  echo "$current" >"$stamp"
}

run_tests() {
  # SDK 35 on Java 17 needs jdk.internal.ref exported (Robolectric's Cleaner
  # shadow); offline mode makes Robolectric take android-all-instrumented
  # from the folder setup.sh filled instead of downloading it.
  java --add-exports java.base/jdk.internal.ref=ALL-UNNAMED \
    -Drobolectric.offline=true \
    -Drobolectric.dependency.dir="$ANDROID_JARS" \
    -Drobolectric.logging.enabled=false \
    -Djna.library.path="$lib_dir" \
    -Xmx1g \
    -cp "$jar:$platform_jar:$(classpath)" \
    com.utdstream.robolectric.RobolectricMainKt "$@"
}

step "kotlinc (Robolectric tests)" compile || summary_failed

source "$REPO_ROOT/testkit/scripts/stack.sh"
stack_start "$out" || summary_failed
trap stack_stop EXIT

output="$out/last-run.log"
set +e
step "robolectric tests" run_tests "$@" 2>&1 | tee "$output"
status=${PIPESTATUS[0]}
set -e
if ! grep -qE '^robolectric: [0-9]+ passed, [0-9]+ failed$' "$output"; then
  log "the Robolectric runner ended (exit $status) without a summary: it crashed"
  summary_failed
fi
exit "$status"
