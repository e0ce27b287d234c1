#!/usr/bin/env bash
# Builds the SDK library and generates its Swift and Kotlin bindings (UniFFI
# library mode) into bindings/generated/ (and the Android variant of the Kotlin
# ones into bindings/generated-android/), then lays the Swift files into the
# SwiftPM package under platforms/apple/.
#
# Usage: scripts/bindings.sh [--release]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

profile=debug
cargo_flags=()
if [ "${1:-}" = "--release" ]; then
  profile=release
  cargo_flags=(--release)
fi

out="$REPO_ROOT/bindings/generated"
# The Kotlin bindings again with UniFFI's `android = true` (bindings/android.toml):
# what the AAR ships. The desktop JVM suite uses the plain ones in $out.
android_out="$REPO_ROOT/bindings/generated-android"
lib="$REPO_ROOT/target/$profile/libutd_stream.so"

generator="$REPO_ROOT/target/bindgen/debug/uniffi-bindgen"

build_generator() {
  # Its own small crate and workspace (bindings/uniffi-bindgen): it links
  # uniffi's generator only, so the SDK core is never compiled a second time
  # with uniffi's `cli` feature. Its own target dir keeps the two lock files'
  # builds from waiting on each other.
  cargo build --quiet --manifest-path "$REPO_ROOT/bindings/uniffi-bindgen/Cargo.toml" \
    --target-dir "$REPO_ROOT/target/bindgen"
}

build_library() {
  cargo build --lib "${cargo_flags[@]}"
}

generate() {
  rm -rf "$out"
  "$generator" generate --no-format "$lib" \
    --language kotlin --language swift --out-dir "$out"
  rm -rf "$android_out"
  "$generator" generate --no-format "$lib" --config "$REPO_ROOT/bindings/android.toml" \
    --language kotlin --out-dir "$android_out"
  # UniFFI writes type names as UtdStreamType; the public API is UTDStreamType.
  find "$out" "$android_out" -type f \( -name '*.kt' -o -name '*.swift' \) -print0 |
    xargs -0 sed -i -E 's/\bUtd([A-Z])/UTD\1/g'
  # The Kotlin call path without JNA Structures (a sync call: ~50 µs -> ~1 µs):
  # see the script's header and docs/kotlin-call-cost.md. It fails when the
  # generated code it rewrites is not there.
  local kotlin_files=("$out/com/utdstream/sdk/utd_stream.kt" "$android_out/com/utdstream/sdk/utd_stream.kt")
  python3 "$REPO_ROOT/scripts/kotlin_postprocess.py" "${kotlin_files[@]}"
}

install_swift_sources() {
  local pkg="$REPO_ROOT/platforms/apple/Sources"
  mkdir -p "$pkg/UTDStream" "$pkg/UTDStreamFFI"
  cp "$out/UTDStream.swift" "$pkg/UTDStream/UTDStream.swift"
  cp "$out/UTDStreamFFI.h" "$pkg/UTDStreamFFI/UTDStreamFFI.h"
  # SwiftPM wants the module map named module.modulemap.
  cp "$out/UTDStreamFFI.modulemap" "$pkg/UTDStreamFFI/module.modulemap"
}

step "build uniffi-bindgen (bindings/uniffi-bindgen)" build_generator
step "cargo build --lib ($profile)" build_library
step "uniffi-bindgen (kotlin + swift)" generate
if [ -d "$REPO_ROOT/platforms/apple" ]; then
  step "swift package sources" install_swift_sources
fi
log "bindings in $out, library at $lib"
