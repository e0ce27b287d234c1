#!/usr/bin/env bash
# Builds the Android package of the SDK: an AAR and a Maven repository layout
# under target/android/<mode>/, validated before they are kept (a package that
# fails validation never sits at the final path). docs/android-packaging.md
# says what each step does and what is checked.
#
#   scripts/package-android.sh          release: native libraries for arm64-v8a,
#                                       armeabi-v7a and x86_64; needs an Android NDK
#                                       (ANDROID_NDK_HOME)
#   scripts/package-android.sh --check  no NDK (what CI runs here): cargo check of the
#                                       core for Android, the Kotlin compiled, dexed and
#                                       packaged without native code, all validated
#
# The last line is `android: N passed, N failed` (validator self-tests plus
# package checks; a failed build step counts as a failure). Exits non-zero on
# any failure.
# Needs: scripts/setup.sh (apt kotlin android), scripts/bindings.sh (--check
# compiles its Android bindings and the self-tests read its desktop library).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

mode=release
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  -h | --help)
    sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *) die "unknown argument '$1' (expected --check, or nothing for the release build)" ;;
esac

# What the package promises; the validator checks each against the output.
JVM_TARGET=11
MIN_SDK=26        # = the manifest's minSdkVersion and D8's --min-api
COMPILE_SDK=35    # android-all 15 is API 35: the AAR's minCompileSdk
CARGO_NDK_VERSION=4.1.2
CARGO_NDK_ROOT="$UTD_CACHE/cargo-ndk-$CARGO_NDK_VERSION"
# Phones carry media over the official livekit crate (see Cargo.toml [features]).
ANDROID_CARGO_FEATURES="${UTD_ANDROID_CARGO_FEATURES:---no-default-features --features livekit}"
JNA_VERSION=5.17.0
FIREBASE_MESSAGING_VERSION=26.0.1

tools="$REPO_ROOT/scripts/android"
# The helpers import each other: keep their bytecode caches out of the work tree.
export PYTHONDONTWRITEBYTECODE=1
out="$REPO_ROOT/target/android/$mode"
build="$out/build"
staging="$out/staging"
manifest="$REPO_ROOT/platforms/android/src/main/AndroidManifest.xml"
proguard="$REPO_ROOT/platforms/android/consumer-rules.pro"
platform_sources="$REPO_ROOT/platforms/android/src/main/kotlin"

layout_value() { PYTHONPATH="$tools" python3 -c "import layout; print(layout.$1)"; }
crate_version() {
  sed -n '/^\[package\]/,/^\[/{s/^version *= *"\(.*\)"/\1/p}' "$REPO_ROOT/Cargo.toml" | head -n1
}
crate_license() {
  sed -n '/^\[workspace.package\]/,/^\[/{s/^license *= *"\(.*\)"/\1/p}' "$REPO_ROOT/Cargo.toml" | head -n1
}

version="$(crate_version)"
[ -n "$version" ] || die "no version in Cargo.toml [package]"
if [ "$mode" = check ]; then
  # Marked in its version and its contents: a check build can never be
  # mistaken for, or published as, the real package.
  version="$version$(layout_value CHECK_VERSION_SUFFIX)"
fi
aar_file="$(layout_value "aar_name('$version')")"

passed=0
failed=0
# finish: the summary line, then the exit status.
finish() {
  echo "android: $passed passed, $failed failed"
  if [ "$failed" -eq 0 ]; then exit 0; fi
  exit 1
}
# must NAME FUNCTION: a build step the following ones depend on; stops the run if it fails.
must() {
  step "$1" "$2" && return 0
  failed=$((failed + 1))
  log "android: '$1' failed; nothing after it can run"
  finish
}

require_ndk() {
  local ndk="${ANDROID_NDK_HOME:-}"
  if [ -z "$ndk" ] || [ ! -d "$ndk/toolchains/llvm/prebuilt" ]; then
    die "the release build links libutd_stream.so for arm64-v8a, armeabi-v7a and x86_64 and needs an
      Android NDK (r23 or newer): set ANDROID_NDK_HOME to it (now: '${ndk:-unset}').
      No NDK can be had on this machine; scripts/package-android.sh --check builds and validates
      everything else (Kotlin, dex, AAR without native code, Maven layout)."
  fi
}

[ "$mode" = check ] || require_ndk

# The compile classpath: what the bindings and the platform layer use
# (android-all stands in for android.jar: the framework API of level 35).
jar_path() {
  local path="$ANDROID_JARS/$1"
  [ -f "$path" ] || die "$path missing: run scripts/setup.sh android"
  printf '%s' "$path"
}
android_all="$(jar_path android-all-15-robolectric-13954326.jar)"
compile_deps=(
  "$(jar_path "firebase-messaging-$FIREBASE_MESSAGING_VERSION.jar")"
  "$(jar_path firebase-common-23.0.0.jar)"
  "$(jar_path firebase-components-20.0.0.jar)"
  "$(jar_path play-services-basement-18.9.0.jar)"
  "$(jar_path play-services-tasks-18.4.0.jar)"
  "$(jar_path play-services-cloud-messaging-17.4.0.jar)"
  "$(jar_path collection-1.0.0.jar)"
  "$(jar_path annotation-jvm-1.9.1.jar)"
  "$(jar_path "jna-$JNA_VERSION.jar")"
  "$KOTLIN_HOME/lib/kotlinx-coroutines-core-jvm.jar"
)
d8_jar="$(jar_path r8-8.7.18.jar)"
[ -x "$KOTLIN_HOME/bin/kotlinc" ] || die "kotlinc missing: run scripts/setup.sh kotlin"
classpath="$android_all$(printf ':%s' "${compile_deps[@]}")"

source "$REPO_ROOT/scripts/package-steps.sh"

# Debian's clang and llvm-ar (scripts/setup.sh apt): the check build's C
# compiler for Android targets.
ensure_clang() {
  command -v clang >/dev/null && command -v llvm-ar >/dev/null && return 0
  die "clang and llvm-ar are missing: run scripts/setup.sh apt"
}

cargo_check_android() {
  ensure_rust_targets aarch64-linux-android || return 1
  ensure_clang
  # Even `cargo check` runs build scripts, which compile C for the target:
  # ring's (freestanding: its RING_CORE_NOSTDLIBINC mode, made for cross
  # builds) and SQLite's (the chat send queue; it needs a libc's headers).
  # Without an NDK there is no bionic: Debian's clang compiles against the
  # aarch64 musl headers zig bundles (the ziglang wheel of the iOS check),
  # enough to check the Rust; nothing of it is linked or shipped.
  local zig_include="$IOS_ZIG_DIR/python/ziglang/lib/libc/include"
  if [ ! -d "$zig_include/aarch64-linux-musl" ]; then
    "$REPO_ROOT/scripts/setup.sh" ios || return 1
  fi
  local headers=""
  for dir in aarch64-linux-musl generic-musl aarch64-linux-any any-linux-any; do
    headers="$headers -isystem $zig_include/$dir"
  done
  CC_aarch64_linux_android="${CC_aarch64_linux_android:-clang}" \
    AR_aarch64_linux_android="${AR_aarch64_linux_android:-llvm-ar}" \
    CFLAGS_aarch64_linux_android="${CFLAGS_aarch64_linux_android:---target=aarch64-linux-android$MIN_SDK -nostdlibinc -DRING_CORE_NOSTDLIBINC$headers}" \
    cargo check --lib --target aarch64-linux-android --quiet
}

install_cargo_ndk() {
  if [ -x "$CARGO_NDK_ROOT/bin/cargo-ndk" ]; then
    log "cargo-ndk $CARGO_NDK_VERSION already at $CARGO_NDK_ROOT"
    return 0
  fi
  rm -rf "$CARGO_NDK_ROOT.partial"
  cargo install --locked --quiet cargo-ndk --version "$CARGO_NDK_VERSION" --root "$CARGO_NDK_ROOT.partial" ||
    die "cargo install cargo-ndk@$CARGO_NDK_VERSION failed: is crates.io reachable?"
  rm -rf "$CARGO_NDK_ROOT"
  mv "$CARGO_NDK_ROOT.partial" "$CARGO_NDK_ROOT"
}

build_native() {
  ensure_rust_targets aarch64-linux-android armv7-linux-androideabi x86_64-linux-android || return 1
  rm -rf "$build/jniLibs"
  # 16 KB pages: NDK r28+ does it by default, cargo-ndk only for 64-bit on
  # older NDKs; asked for explicitly so every ABI and NDK gets it. With
  # --target (which cargo-ndk passes) RUSTFLAGS reach the target crates only.
  # shellcheck disable=SC2086 # the features are several words on purpose
  RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-Wl,-z,max-page-size=16384" \
    PATH="$CARGO_NDK_ROOT/bin:$PATH" \
    cargo ndk -t arm64-v8a -t armeabi-v7a -t x86_64 -P "$MIN_SDK" -o "$build/jniLibs" \
    build --lib --profile release-size $ANDROID_CARGO_FEATURES || return 1
  ship_libcxx_if_needed
}

# libc++_shared.so is no system library: if the core (e.g. WebRTC) needs it,
# it ships beside it, taken from the same NDK that linked it.
ship_libcxx_if_needed() {
  local abi triple lib
  for abi in arm64-v8a armeabi-v7a x86_64; do
    lib="$build/jniLibs/$abi/libutd_stream.so"
    [ -f "$lib" ] || { log "cargo ndk produced no $lib"; return 1; }
    if PYTHONPATH="$tools" python3 -c 'import sys, native_rules; sys.exit(0 if "libc++_shared.so" in native_rules.needed(open(sys.argv[1], "rb").read()) else 1)' "$lib"; then
      case "$abi" in
        arm64-v8a) triple=aarch64-linux-android ;;
        armeabi-v7a) triple=arm-linux-androideabi ;;
        x86_64) triple=x86_64-linux-android ;;
      esac
      cp "$ANDROID_NDK_HOME"/toolchains/llvm/prebuilt/*/sysroot/usr/lib/"$triple"/libc++_shared.so "$build/jniLibs/$abi/" ||
        return 1
      log "$abi: shipping libc++_shared.so (NEEDED by libutd_stream.so)"
    fi
  done
}

# The release AAR's bindings come from the arm64-v8a library it ships, so
# their API checksums are those of that build (features included), not of
# the desktop one. Same generator, rename and post-processing as
# scripts/bindings.sh (keep the two in step).
release_bindings() {
  cargo build --quiet --manifest-path "$REPO_ROOT/bindings/uniffi-bindgen/Cargo.toml" \
    --target-dir "$REPO_ROOT/target/bindgen" || return 1
  rm -rf "$build/bindings"
  "$REPO_ROOT/target/bindgen/debug/uniffi-bindgen" generate --no-format "$build/jniLibs/arm64-v8a/libutd_stream.so" \
    --config "$REPO_ROOT/bindings/android.toml" --language kotlin --out-dir "$build/bindings" || return 1
  find "$build/bindings" -name '*.kt' -print0 | xargs -0 sed -i -E 's/\bUtd([A-Z])/UTD\1/g' || return 1
  if [ -f "$REPO_ROOT/scripts/kotlin_postprocess.py" ]; then
    python3 "$REPO_ROOT/scripts/kotlin_postprocess.py" "$build/bindings/com/utdstream/sdk/utd_stream.kt" || return 1
  fi
}

kotlin_sources() {
  printf '%s\n' "$bindings"
  find "$platform_sources" -name '*.kt' | LC_ALL=C sort
}

# kotlinc takes 20 s to minutes (machine load): skipped when the sources, the classpath and the flags
# are what the existing classes.jar was built from.
compile_kotlin() {
  local jar="$build/classes.jar" stamp="$build/classes.sha256" current
  local flags=(-jvm-target "$JVM_TARGET" -module-name utd-stream-android -no-reflect -nowarn)
  current=$({
    printf '%s\n' "${flags[*]}" "$KOTLIN_VERSION"
    tr ':' '\n' <<<"$classpath" | xargs -n1 basename
    kotlin_sources | while read -r f; do printf '%s\n' "$f"; cat "$f"; done
  } | sha256sum | cut -d' ' -f1)
  if [ -f "$jar" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$current" ]; then
    log "kotlin: sources unchanged, reusing $jar"
    return 0
  fi
  rm -f "$jar" "$stamp"
  local sources
  mapfile -t sources < <(kotlin_sources)
  log "kotlin: ${#sources[@]} files (bindings + platform layer), jvm target $JVM_TARGET"
  JAVA_OPTS="${JAVA_OPTS:--Xmx1g}" "$KOTLIN_HOME/bin/kotlinc" "${flags[@]}" -cp "$classpath" \
    "${sources[@]}" -d "$jar.partial.jar" || return 1
  mv "$jar.partial.jar" "$jar" || return 1
  echo "$current" >"$stamp"
}

# The host app dexes the AAR's class files itself; dexing them here proves
# D8 accepts them for API 26 against the framework and the dependencies.
dex() {
  local stamp="$build/dex/classes.jar.sha256" current
  current=$(sha256sum "$build/classes.jar" | cut -d' ' -f1)
  if [ -f "$build/dex/classes.dex" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$current" ]; then
    log "dex: classes.jar unchanged, reusing $build/dex/classes.dex"
    return 0
  fi
  rm -rf "$build/dex"
  mkdir -p "$build/dex"
  local cp_args=() jar
  for jar in "${compile_deps[@]}" "$KOTLIN_HOME/lib/kotlin-stdlib.jar"; do cp_args+=(--classpath "$jar"); done
  java -Xmx1g -cp "$d8_jar" com.android.tools.r8.D8 --release --min-api "$MIN_SDK" \
    --lib "$android_all" "${cp_args[@]}" --output "$build/dex" "$build/classes.jar" || return 1
  [ -f "$build/dex/classes.dex" ] || { log "D8 wrote no classes.dex"; return 1; }
  log "dex: $(du -k "$build/dex/classes.dex" | cut -f1) KiB classes.dex (min-api $MIN_SDK)"
  echo "$current" >"$stamp"
}

assemble() {
  local kind=(--check-build)
  [ "$mode" = release ] && kind=(--jni-dir "$build/jniLibs")
  python3 "$tools/assemble_aar.py" --out "$staging/$aar_file" --manifest "$manifest" \
    --classes "$build/classes.jar" --proguard "$proguard" --min-compile-sdk "$COMPILE_SDK" "${kind[@]}" >&2
}

maven_layout() {
  local coroutines
  coroutines="$(unzip -p "$KOTLIN_HOME/lib/kotlinx-coroutines-core-jvm.jar" META-INF/kotlinx_coroutines_core.version)"
  [ -n "$coroutines" ] || { log "cannot read the coroutines version"; return 1; }
  local check_flag=()
  [ "$mode" = check ] && check_flag=(--check-build)
  # The versions the AAR was compiled against are the ones it asks for.
  python3 "$tools/write_maven.py" --repo "$staging/maven" --aar "$staging/$aar_file" --version "$version" \
    --license "$(crate_license)" \
    --dependency "net.java.dev.jna:jna:$JNA_VERSION@aar" \
    --dependency "org.jetbrains.kotlinx:kotlinx-coroutines-core:$coroutines" \
    --dependency "org.jetbrains.kotlin:kotlin-stdlib:$KOTLIN_VERSION" \
    --dependency "com.google.firebase:firebase-messaging:$FIREBASE_MESSAGING_VERSION" \
    "${check_flag[@]}" >&2
}

validate() {
  local log_file="$build/validate.log" status=0
  python3 "$tools/validate_aar.py" --aar "$staging/$aar_file" --mode "$mode" --bindings "$bindings" \
    --jvm-target "$JVM_TARGET" --min-sdk "$MIN_SDK" --classpath "$classpath" \
    --maven-repo "$staging/maven" --version "$version" >"$log_file" 2>&1 || status=$?
  cat "$log_file" >&2
  local line
  line=$(grep -E '^validator: [0-9]+ passed, [0-9]+ failed$' "$log_file" | tail -n1 || true)
  if [ -z "$line" ]; then
    failed=$((failed + 1))
    return 1
  fi
  passed=$((passed + $(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")))
  failed=$((failed + $(sed -E 's/.*, ([0-9]+) failed/\1/' <<<"$line")))
  return "$status"
}

# Only a validated package reaches target/android/<mode>/.
promote() {
  rm -rf "${out:?}/$aar_file" "$out/maven"
  mv "$staging/$aar_file" "$out/$aar_file"
  mv "$staging/maven" "$out/maven"
  rmdir "$staging"
}

mkdir -p "$build"
# No stale package survives a run that does not validate.
rm -rf "$staging" "$out/maven" "$out"/*.aar
mkdir -p "$staging"

step "validator self-tests" self_tests || log "android: the validator's self-tests failed (see above)"

if [ "$mode" = check ]; then
  bindings="$REPO_ROOT/bindings/generated-android/com/utdstream/sdk/utd_stream.kt"
  [ -f "$bindings" ] || die "$bindings missing: run scripts/bindings.sh first"
  log "check build: no Android NDK is used; the AAR gets no native libraries and version $version"
  step "cargo check --lib (aarch64-linux-android)" cargo_check_android || failed=$((failed + 1))
else
  must "cargo-ndk $CARGO_NDK_VERSION" install_cargo_ndk
  must "cargo ndk build (arm64-v8a, armeabi-v7a, x86_64; release-size)" build_native
  bindings="$build/bindings/com/utdstream/sdk/utd_stream.kt"
  must "bindings from the arm64-v8a library" release_bindings
fi
must "kotlinc (bindings + platform layer, jvm target $JVM_TARGET)" compile_kotlin
must "d8 (min-api $MIN_SDK)" dex
must "assemble $aar_file" assemble
must "maven layout" maven_layout
if step "validate aar + maven layout" validate; then
  [ "$failed" -gt 0 ] || promote
fi
if [ "$failed" -eq 0 ]; then
  log "android ($mode): $out/$aar_file"
  log "android ($mode): maven { url = uri(\"$out/maven\") } + implementation(\"com.utdstream:utd-stream-android:$version\")"
  [ "$mode" = release ] || log "android: CHECK BUILD (no native libraries): not for shipping"
else
  log "android ($mode): failed; nothing promoted (partial output left in $staging)"
fi
finish
