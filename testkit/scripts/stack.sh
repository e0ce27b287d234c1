# Starts and stops target/debug/utd-stack (livekit-server + engine) around a
# foreign test suite. Sourced by scripts/test-kotlin.sh and scripts/test-swift.sh
# after scripts/common.sh; never run directly.
#
# stack_start DIR   starts it, waits for DIR/stack-env.json, exports
#                   UTD_STACK_ENV=<that file>. Logs go to DIR/stack.log.
# stack_stop        asks it to shut down and waits (safe to call twice).

STACK_PID=""

stack_start() {
  local dir="$1"
  local bin="$REPO_ROOT/target/debug/utd-stack"
  # Always through cargo: a binary left from an older build would run an
  # older engine (a no-op when it is up to date).
  cargo build --quiet -p utd-testkit --bin utd-stack || return 1
  mkdir -p "$dir"
  STACK_ENV_FILE="$dir/stack-env.json"
  STACK_LOG="$dir/stack.log"
  rm -f "$STACK_ENV_FILE"
  # --watch-pid: if this script is killed without running its traps, the
  # stack notices and exits by itself.
  "$bin" --env-file "$STACK_ENV_FILE" --watch-pid "$$" >"$STACK_LOG" 2>&1 &
  STACK_PID=$!
  local waited=0
  until [ -s "$STACK_ENV_FILE" ]; do
    if ! kill -0 "$STACK_PID" 2>/dev/null; then
      log "utd-stack exited during startup; its log:"
      tail -n 40 "$STACK_LOG" >&2
      STACK_PID=""
      return 1
    fi
    if [ "$waited" -ge 600 ]; then
      log "utd-stack not ready after 60 s; its log:"
      tail -n 40 "$STACK_LOG" >&2
      stack_stop
      return 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  export UTD_STACK_ENV="$STACK_ENV_FILE"
  log "utd-stack ready (pid $STACK_PID); env file $STACK_ENV_FILE"
}

stack_stop() {
  [ -n "$STACK_PID" ] || return 0
  # SIGTERM runs the same graceful path as POST /shutdown and needs no curl.
  kill -TERM "$STACK_PID" 2>/dev/null || true
  local waited=0
  while kill -0 "$STACK_PID" 2>/dev/null && [ "$waited" -lt 150 ]; do
    sleep 0.1
    waited=$((waited + 1))
  done
  if kill -0 "$STACK_PID" 2>/dev/null; then
    log "utd-stack did not stop in 15 s; killing it"
    kill -KILL "$STACK_PID" 2>/dev/null || true
  fi
  wait "$STACK_PID" 2>/dev/null || true
  STACK_PID=""
}
