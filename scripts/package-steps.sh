# Steps shared by the platform package scripts (scripts/package-android.sh,
# scripts/package-ios.sh). Sourced after common.sh, never run. The caller
# sets `tools` (its validator folder, holding test_validators.py), `build`
# (its scratch folder) and the counters `passed` / `failed`.
#
# Note for step functions: they run as `step NAME fn || …`, where bash
# ignores `set -e`, so each command that can fail says `|| return 1`.

# ensure_rust_targets TARGET...: adds the rustup targets not installed yet.
ensure_rust_targets() {
  local installed missing=() target
  installed="$(rustup target list --installed)"
  for target in "$@"; do
    grep -qx "$target" <<<"$installed" || missing+=("$target")
  done
  [ ${#missing[@]} -eq 0 ] || rustup target add "${missing[@]}"
}

# Self-tests of the validator: it must reject the desktop library, a wrong
# CPU, ABI, platform or minimum OS, a missing symbol, … A validator that
# cannot fail would pass anything. Each test counts in passed / failed.
self_tests() {
  local log_file="$build/self-tests.log" status=0
  python3 -m unittest "$tools/test_validators.py" >"$log_file" 2>&1 || status=$?
  tail -n 3 "$log_file" >&2
  local ran bad
  ran=$(sed -n 's/^Ran \([0-9]*\) tests\{0,1\}.*/\1/p' "$log_file" | tail -n1)
  ran=${ran:-0}
  bad=0
  for n in $(grep -oE '(failures|errors)=[0-9]+' "$log_file" | cut -d= -f2); do bad=$((bad + n)); done
  [ "$status" -eq 0 ] || [ "$bad" -gt 0 ] || bad=1
  [ "$status" -ne 0 ] || [ "$ran" -gt 0 ] || { log "the self-tests ran no test"; bad=1; }
  passed=$((passed + ran - (bad > ran ? ran : bad)))
  failed=$((failed + bad))
  [ "$status" -eq 0 ] || { sed -n '/^\(FAIL\|ERROR\):/,/^---/p' "$log_file" >&2; return 1; }
}
