#!/usr/bin/env bash
# Builds the SDK library and generates its Swift and Kotlin bindings (UniFFI
# library mode) into bindings/generated/, then lays the Swift files into the
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
lib="$REPO_ROOT/target/$profile/libutd_stream.so"

build_generator() {
  # Built in the shared target dir so dependencies compile once. Building it
  # relinks the library with `cli` on, so the shipping library is rebuilt
  # (relinked, cheaply) right after: the bindings and tests use that one.
  cargo build --quiet --features cli --bin uniffi-bindgen
}

build_library() {
  cargo build --lib "${cargo_flags[@]}"
}

generate() {
  rm -rf "$out"
  "$REPO_ROOT/target/debug/uniffi-bindgen" generate --no-format "$lib" \
    --language kotlin --language swift --out-dir "$out"
  # UniFFI writes type names as UtdStreamType; the public API is UTDStreamType.
  find "$out" -type f \( -name '*.kt' -o -name '*.swift' \) -print0 |
    xargs -0 sed -i -E 's/\bUtd([A-Z])/UTD\1/g'
}

install_swift_sources() {
  local pkg="$REPO_ROOT/platforms/apple/Sources"
  mkdir -p "$pkg/UTDStream" "$pkg/UTDStreamFFI"
  cp "$out/UTDStream.swift" "$pkg/UTDStream/UTDStream.swift"
  cp "$out/UTDStreamFFI.h" "$pkg/UTDStreamFFI/UTDStreamFFI.h"
  # SwiftPM wants the module map named module.modulemap.
  cp "$out/UTDStreamFFI.modulemap" "$pkg/UTDStreamFFI/module.modulemap"
}

step "build uniffi-bindgen (cli feature)" build_generator
step "cargo build --lib ($profile)" build_library
step "uniffi-bindgen (kotlin + swift)" generate
if [ -d "$REPO_ROOT/platforms/apple" ]; then
  step "swift package sources" install_swift_sources
fi
log "bindings in $out, library at $lib"
