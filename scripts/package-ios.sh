#!/usr/bin/env bash
# Builds the iOS package of the SDK: UTDStreamFFI.xcframework, its zip and
# checksum, and a publishable SwiftPM package folder (the release manifest +
# the Swift sources) under target/ios/<mode>/, validated before they are kept
# (a package that fails validation never sits at the final path).
# docs/ios-packaging.md says what each step does and what is checked.
#
#   scripts/package-ios.sh [--url URL]  release, on a Mac with Xcode: the core with the
#                                       `livekit` feature for aarch64-apple-ios,
#                                       aarch64-apple-ios-sim and x86_64-apple-ios
#                                       (release-size), lipo, xcodebuild -create-xcframework
#   scripts/package-ios.sh --check      no Xcode (what CI runs here): the device slice only,
#                                       C code compiled by zig, the xcframework laid out by
#                                       hand, checksum and manifest checked by the Swift
#                                       chroot's SwiftPM; all validated, marked not for shipping
#
# --url (or UTD_IOS_RELEASE_URL) is where the zip will be downloaded from: the
# release manifest's binaryTarget url. Default: a GitHub release asset of the
# origin remote (UTD_IOS_RELEASE_BASE_URL overrides the part before /<version>/).
# The last line is `ios: N passed, N failed` (validator self-tests plus
# package checks; a failed build step counts as a failure). Exits non-zero on
# any failure.
# Needs: release: Xcode (xcodebuild, lipo, swift), rustup. --check: scripts/setup.sh
# (ios swift livekit-ffi), scripts/bindings.sh (the host bindings to compare with), root.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

mode=release
url="${UTD_IOS_RELEASE_URL:-}"
while [ $# -gt 0 ]; do
  case "$1" in
    --check) mode=check ;;
    --url)
      [ $# -ge 2 ] || die "--url needs a value"
      url="$2"
      shift
      ;;
    --url=*) url="${1#--url=}" ;;
    -h | --help)
      sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown argument '$1' (expected --check, --url URL, or nothing for the release build)" ;;
  esac
  shift
done

# What the package promises; the validator checks each against the output.
# The deployment target is Package.swift's `.iOS(.v15)` (checked through dump-package).
export IPHONEOS_DEPLOYMENT_TARGET="$IOS_DEPLOYMENT_TARGET"
# Phones carry media over the official livekit crate (see Cargo.toml [features]).
IOS_CARGO_FEATURES="${UTD_IOS_CARGO_FEATURES:---no-default-features --features livekit}"
DEVICE_TARGET=aarch64-apple-ios
SIMULATOR_TARGETS=(aarch64-apple-ios-sim x86_64-apple-ios)

tools="$REPO_ROOT/scripts/ios"
# The helpers import each other: keep their bytecode caches out of the work tree.
export PYTHONDONTWRITEBYTECODE=1
out="$REPO_ROOT/target/ios/$mode"
build="$out/build"
staging="$out/staging"
apple="$REPO_ROOT/platforms/apple"
template="$apple/Package.swift"
host_bindings="$REPO_ROOT/bindings/generated"
generator="$REPO_ROOT/target/bindgen/debug/uniffi-bindgen"

layout_value() { PYTHONPATH="$tools" python3 -c "import layout; print(layout.$1)"; }
crate_version() {
  sed -n '/^\[package\]/,/^\[/{s/^version *= *"\(.*\)"/\1/p}' "$REPO_ROOT/Cargo.toml" | head -n1
}

version="$(crate_version)"
[ -n "$version" ] || die "no version in Cargo.toml [package]"
if [ "$mode" = check ]; then
  # Marked in its version and its contents: a check build can never be
  # mistaken for, or published as, the real package.
  version="$version$(layout_value CHECK_VERSION_SUFFIX)"
fi
zip_file="$(layout_value "zip_name('$version')")"
xcframework_name="$(layout_value XCFRAMEWORK)"
package_name="$(layout_value PACKAGE_NAME)"

# The release url: a GitHub release asset named after the version, on the
# origin remote's repository when that is on GitHub.
default_base_url() {
  local origin slug
  origin="$(git -C "$REPO_ROOT" remote get-url origin 2>/dev/null || true)"
  slug="$(sed -nE 's#^(https://github\.com/|git@github\.com:|ssh://git@github\.com/)([^/]+/[^/]+)$#\2#p' <<<"$origin")"
  slug="${slug%.git}"
  printf 'https://github.com/%s/releases/download' "${slug:-utd-stream/utd-stream}"
}
url_is_default=""
if [ -z "$url" ]; then
  url="${UTD_IOS_RELEASE_BASE_URL:-$(default_base_url)}/$version/$zip_file"
  [ -n "${UTD_IOS_RELEASE_BASE_URL:-}" ] || url_is_default=1
fi

passed=0
failed=0
# finish: the summary line, then the exit status.
finish() {
  echo "ios: $passed passed, $failed failed"
  if [ "$failed" -eq 0 ]; then exit 0; fi
  exit 1
}
# must NAME FUNCTION: a build step the following ones depend on; stops the run if it fails.
must() {
  step "$1" "$2" && return 0
  failed=$((failed + 1))
  log "ios: '$1' failed; nothing after it can run"
  finish
}

on_mac=""
[ "$(uname -s)" = Darwin ] && on_mac=1

require_xcode() {
  local missing=()
  [ -n "$on_mac" ] || missing+=("macOS (this is $(uname -s))")
  command -v xcodebuild >/dev/null || missing+=("xcodebuild (Xcode 16 or newer: the manifest is swift-tools-version 6.0)")
  command -v xcrun >/dev/null && xcrun --find lipo >/dev/null 2>&1 || missing+=("lipo (xcrun lipo, from Xcode)")
  command -v swift >/dev/null || missing+=("swift (Xcode's, for compute-checksum and dump-package)")
  xcrun --sdk iphoneos --show-sdk-path >/dev/null 2>&1 || missing+=("the iPhoneOS SDK (xcrun --sdk iphoneos)")
  xcrun --sdk iphonesimulator --show-sdk-path >/dev/null 2>&1 || missing+=("the iPhoneSimulator SDK")
  command -v rustup >/dev/null || missing+=("rustup (to add the three iOS targets)")
  if [ ${#missing[@]} -gt 0 ]; then
    die "the release build needs a Mac with Xcode: it compiles the core (feature livekit, whose
      build downloads and links libwebrtc) for aarch64-apple-ios, aarch64-apple-ios-sim and
      x86_64-apple-ios against the iOS SDKs, joins the simulator slices with lipo and writes the
      xcframework with xcodebuild -create-xcframework. Missing here: $(IFS=';'; sed 's/;/; /g' <<<"${missing[*]}").
      scripts/package-ios.sh --check builds and validates what can be done without them."
  fi
}

if [ "$mode" = check ]; then
  [ -f "$IOS_ZIG_DIR/.utd-ready" ] || die "no zig toolchain at $IOS_ZIG_DIR: run scripts/setup.sh ios"
  [ -f "$host_bindings/UTDStream.swift" ] || die "$host_bindings/UTDStream.swift missing: run scripts/bindings.sh first"
  if [ -z "$on_mac" ]; then
    [ -f "$SWIFT_ROOT/.utd-ready" ] || die "no Swift chroot at $SWIFT_ROOT: run scripts/setup.sh swift"
    [ "$(id -u)" -eq 0 ] || die "the check needs root (mount and chroot for the Swift chroot)"
    source "$REPO_ROOT/scripts/swift-chroot.sh"
    trap swift_chroot_unmount EXIT
    # Ctrl-C / SIGTERM: leave through the EXIT trap so the mounts go away.
    trap 'exit 130' INT
    trap 'exit 143' TERM
  else
    command -v swift >/dev/null || die "swift is missing (Xcode or the Command Line Tools)"
  fi
else
  require_xcode
fi

source "$REPO_ROOT/scripts/package-steps.sh"

# The check build's C and C++ compilers (scripts/setup.sh ios): ring's build
# script compiles C and assembly for the target, the cxx crate's (livekit
# feature) C++. Nothing of it is shipped.
zig_env() {
  local bin="$IOS_ZIG_DIR/bin"
  env "CC_aarch64_apple_ios=$bin/cc-aarch64-apple-ios" \
    "CXX_aarch64_apple_ios=$bin/c++-aarch64-apple-ios" \
    "AR_aarch64_apple_ios=$bin/ar" \
    "SDKROOT=$IOS_ZIG_DIR/sdk" "$@"
}

# The shipping configuration (feature livekit), type-checked: DOCS_RS=1 makes
# webrtc-sys skip its libwebrtc download (which CI cannot reach) and its link.
cargo_check_livekit() {
  ensure_rust_targets "$DEVICE_TARGET" || return 1
  # shellcheck disable=SC2086 # the features are several words on purpose
  zig_env DOCS_RS=1 cargo check --lib --target "$DEVICE_TARGET" $IOS_CARGO_FEATURES --quiet
}

# cargo rustc TARGET PROFILE FEATURES...: the core as a static library
# (Cargo.toml's crate-type also lists cdylib, which would need an Apple
# linker), with rustc's list of the native libraries it needs. Cargo replays
# that note when the build is fresh, so it is there on every run.
build_staticlib() {
  local target="$1" profile="$2" dir
  shift 2
  local log_file="$build/cargo-$target.log"
  case "$profile" in
    dev) dir=debug ;;
    *) dir="$profile" ;;
  esac
  local run=(cargo rustc --lib --crate-type staticlib --target "$target" --profile "$profile" "$@"
    -- --print native-static-libs)
  [ "$mode" = check ] && run=(zig_env "${run[@]}")
  "${run[@]}" 2>"$log_file" || { tail -n 40 "$log_file" >&2; return 1; }
  grep -E '^(warning|error)' "$log_file" | sort | uniq -c | head -n 20 >&2 || true
  mkdir -p "$build/native" "$build/lib/$target"
  grep 'native-static-libs:' "$log_file" >"$build/native/$target.txt" ||
    { log "rustc printed no native-static-libs for $target"; return 1; }
  log "$target: $(sed 's/.*native-static-libs: //' "$build/native/$target.txt")"
  cp "$REPO_ROOT/target/$target/$dir/libutd_stream.a" "$build/lib/$target/libutd_stream.a" || return 1
  log "$target: $(du -m "$build/lib/$target/libutd_stream.a" | cut -f1) MB libutd_stream.a ($profile)"
}

# Check build: the device slice with the default features (livekit-ffi:
# everything but the phone media transport, which links libwebrtc), debug.
build_device_check() {
  ensure_rust_targets "$DEVICE_TARGET" || return 1
  build_staticlib "$DEVICE_TARGET" dev
}

build_release_targets() {
  ensure_rust_targets "$DEVICE_TARGET" "${SIMULATOR_TARGETS[@]}" || return 1
  local target
  for target in "$DEVICE_TARGET" "${SIMULATOR_TARGETS[@]}"; do
    # shellcheck disable=SC2086 # the features are several words on purpose
    build_staticlib "$target" release-size $IOS_CARGO_FEATURES || return 1
  done
}

lipo_simulator() {
  mkdir -p "$build/lib/simulator"
  xcrun lipo -create "$build/lib/aarch64-apple-ios-sim/libutd_stream.a" \
    "$build/lib/x86_64-apple-ios/libutd_stream.a" -output "$build/lib/simulator/libutd_stream.a" || return 1
  xcrun lipo -info "$build/lib/simulator/libutd_stream.a" >&2
}

# The Swift bindings, generated (UniFFI library mode) from the device static
# library itself: their checksums are those of the build that ships. Same
# generator and rename as scripts/bindings.sh (keep the two in step).
ios_bindings() {
  cargo build --quiet --manifest-path "$REPO_ROOT/bindings/uniffi-bindgen/Cargo.toml" \
    --target-dir "$REPO_ROOT/target/bindgen" || return 1
  rm -rf "$build/bindings"
  "$generator" generate --no-format "$build/lib/$DEVICE_TARGET/libutd_stream.a" \
    --language swift --out-dir "$build/bindings" || return 1
  find "$build/bindings" -name '*.swift' -print0 | xargs -0 sed -i.orig -E 's/\bUtd([A-Z])/UTD\1/g' || return 1
  rm -f "$build/bindings"/*.orig
  local f
  for f in UTDStream.swift UTDStreamFFI.h UTDStreamFFI.modulemap; do
    [ -f "$build/bindings/$f" ] || { log "uniffi-bindgen wrote no $f"; return 1; }
  done
  mkdir -p "$build/headers"
  cp "$build/bindings/UTDStreamFFI.h" "$build/headers/UTDStreamFFI.h"
  cp "$build/bindings/UTDStreamFFI.modulemap" "$build/headers/module.modulemap"
}

assemble_check() {
  python3 "$tools/xcframework.py" --out "$staging/$xcframework_name" \
    --header "$build/headers/UTDStreamFFI.h" --modulemap "$build/headers/module.modulemap" \
    --slice "ios-arm64=$build/lib/$DEVICE_TARGET/libutd_stream.a" --check-build >&2
}

assemble_release() {
  rm -rf "${staging:?}/$xcframework_name"
  xcodebuild -create-xcframework \
    -library "$build/lib/$DEVICE_TARGET/libutd_stream.a" -headers "$build/headers" \
    -library "$build/lib/simulator/libutd_stream.a" -headers "$build/headers" \
    -output "$staging/$xcframework_name" >&2
}

zip_xcframework() {
  python3 "$tools/package.py" zip --xcframework "$staging/$xcframework_name" --out "$staging/$zip_file" >&2
}

# Swift's own tools: Xcode's on a Mac, the chroot's swiftlang here.
swift_tool() {
  local dir="$1" command="$2"
  if [ -n "$on_mac" ]; then
    (cd "$dir" && eval "swift $command")
  else
    swift_chroot_run "cd '$dir' && swift $command"
  fi
}

# A process whose root is the chroot (another run's swift test) would lose
# its view of the repo when this run replaces and then removes the mount.
wait_for_chroot_idle() {
  local waited=0 pid root busy
  while :; do
    busy=""
    for pid in /proc/[0-9]*; do
      root="$(readlink "$pid/root" 2>/dev/null || true)"
      if [ "$root" = "$SWIFT_ROOT" ]; then busy="${pid#/proc/}"; break; fi
    done
    [ -n "$busy" ] || return 0
    [ "$waited" -lt 900 ] || { log "the Swift chroot is still in use (pid $busy) after ${waited} s"; return 1; }
    [ "$waited" -gt 0 ] || log "the Swift chroot is in use (pid $busy, another swift run?); waiting"
    sleep 5
    waited=$((waited + 5))
  done
}

mount_swift_chroot() {
  wait_for_chroot_idle || return 1
  swift_chroot_mount
}

checksum() {
  local output
  output="$(swift_tool "$staging" "package compute-checksum '$staging/$zip_file'")" || return 1
  swiftpm_checksum="$(tail -n1 <<<"$output" | tr -d '[:space:]')"
  sha256sum_checksum="$(sha256sum "$staging/$zip_file" | cut -d' ' -f1)"
  log "compute-checksum: $swiftpm_checksum; sha256sum: $sha256sum_checksum"
  [ -n "$swiftpm_checksum" ] || return 1
  echo "$swiftpm_checksum" >"$staging/$zip_file.sha256"
}

# The publishable package folder: the release manifest, the generated Swift
# API with the hand-written sources beside it, the CallKit layer and the
# tests (SwiftPM refuses a dependency whose test target's folder is missing).
package_folder() {
  local pkg="$staging/$package_name"
  rm -rf "$pkg" "$build/apple-branch"
  mkdir -p "$pkg/Sources/UTDStream" "$pkg/Sources/UTDStreamCallKit" "$pkg/Tests/UTDStreamTests"
  python3 "$tools/package.py" manifest --template "$template" --url "$url" --checksum "$swiftpm_checksum" \
    --out "$pkg/Package.swift" --apple-branch "$build/apple-branch/Package.swift" >&2 || return 1
  cp "$build/bindings/UTDStream.swift" "$pkg/Sources/UTDStream/UTDStream.swift"
  local f
  for f in "$apple"/Sources/UTDStream/*.swift; do
    [ "$(basename "$f")" = UTDStream.swift ] || cp "$f" "$pkg/Sources/UTDStream/"
  done
  cp "$apple"/Sources/UTDStreamCallKit/*.swift "$pkg/Sources/UTDStreamCallKit/" || return 1
  cp "$apple"/Tests/UTDStreamTests/*.swift "$pkg/Tests/UTDStreamTests/" || return 1
  log "package: $(find "$pkg" -name '*.swift' | wc -l) Swift files"
}

# Off Apple platforms dump-package evaluates the manifest's host branch only:
# the Apple-branch copy makes it evaluate the binaryTarget(url:checksum:).
dump_package() {
  local scratch="$build/swiftpm-scratch"
  swift_tool "$staging/$package_name" "package --scratch-path '$scratch' dump-package" \
    >"$build/dump-host.json" || return 1
  swift_tool "$build/apple-branch" "package --scratch-path '$scratch' dump-package" \
    >"$build/dump-apple.json" || return 1
  rm -rf "$scratch"
}

# Swift for iOS compiles only with Xcode: the package, with the binary target
# pointing at the xcframework built here, for the device and the simulator.
xcodebuild_package() {
  local work="$build/xcodebuild-package" scheme destination
  rm -rf "$work"
  cp -R "$staging/$package_name" "$work"
  cp "$template" "$work/Package.swift"
  cp -R "$staging/$xcframework_name" "$work/$xcframework_name"
  scheme="$package_name"
  if (cd "$work" && xcodebuild -list) 2>/dev/null | grep -qx " *$package_name-Package"; then
    scheme="$package_name-Package"
  fi
  for destination in "generic/platform=iOS" "generic/platform=iOS Simulator"; do
    (cd "$work" && xcodebuild build -quiet -scheme "$scheme" -destination "$destination" \
      -derivedDataPath "$build/derived-data") >&2 || return 1
  done
}

validate() {
  local log_file="$build/validate.log" status=0
  local toolchain=() native=() target
  for target in "${built_targets[@]}"; do
    toolchain+=(--toolchain-lib "$(rustc --print target-libdir --target "$target")")
    native+=(--native-static-libs "$build/native/$target.txt")
  done
  local extra=() archive
  if [ "$mode" = check ]; then
    extra=(--ios-bindings "$build/bindings" --host-bindings "$host_bindings")
  else
    # libwebrtc.a as webrtc-sys downloaded it (or LK_CUSTOM_WEBRTC): its
    # objects are prebuilt, for an older iOS maybe, which links.
    while IFS= read -r archive; do
      extra+=(--prebuilt-archive "$archive")
    done < <(find "$REPO_ROOT/target" ${LK_CUSTOM_WEBRTC:+"$LK_CUSTOM_WEBRTC"} -name libwebrtc.a 2>/dev/null)
    [ ${#extra[@]} -gt 0 ] || log "found no libwebrtc.a under target/ (or LK_CUSTOM_WEBRTC)"
  fi
  python3 "$tools/validate.py" --xcframework "$staging/$xcframework_name" --mode "$mode" --version "$version" \
    --deployment-target "$IOS_DEPLOYMENT_TARGET" \
    --header "$build/bindings/UTDStreamFFI.h" --modulemap "$build/bindings/UTDStreamFFI.modulemap" \
    "${toolchain[@]}" "${native[@]}" \
    --zip "$staging/$zip_file" --swiftpm-checksum "$swiftpm_checksum" --sha256sum "$sha256sum_checksum" \
    --url "$url" --manifest "$staging/$package_name/Package.swift" --template "$template" \
    --dump-host "$build/dump-host.json" --dump-apple "$build/dump-apple.json" \
    --package-dir "$staging/$package_name" --generated-swift "$build/bindings/UTDStream.swift" \
    --apple-dir "$apple" "${extra[@]}" >"$log_file" 2>&1 || status=$?
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

# Only a validated package reaches target/ios/<mode>/.
promote() {
  rm -rf "${out:?}/$xcframework_name" "$out/$package_name" "$out"/*.xcframework.zip "$out"/*.xcframework.zip.sha256
  mv "$staging/$xcframework_name" "$staging/$zip_file" "$staging/$zip_file.sha256" "$staging/$package_name" "$out/"
  rmdir "$staging"
}

mkdir -p "$build"
# No stale package survives a run that does not validate.
rm -rf "$staging" "${out:?}/$xcframework_name" "$out/$package_name" "$out"/*.xcframework.zip "$out"/*.xcframework.zip.sha256
mkdir -p "$staging"
swiftpm_checksum=""
sha256sum_checksum=""

step "validator self-tests" self_tests || log "ios: the validator's self-tests failed (see above)"

if [ "$mode" = check ]; then
  log "check build: no Xcode or Apple SDK is used; C code by zig $ZIGLANG_VERSION against its Darwin headers;"
  log "  device slice only, default features, debug profile; version $version; NOT FOR SHIPPING"
  step "cargo check --lib ($DEVICE_TARGET, $IOS_CARGO_FEATURES, DOCS_RS=1)" cargo_check_livekit ||
    failed=$((failed + 1))
  built_targets=("$DEVICE_TARGET")
  must "cargo rustc --crate-type staticlib ($DEVICE_TARGET, default features, dev)" build_device_check
  must "uniffi-bindgen swift (from the $DEVICE_TARGET library)" ios_bindings
  must "assemble $xcframework_name (ios-arm64, by hand)" assemble_check
else
  [ -z "$url_is_default" ] || log "ios: the release url is the default $url: pass --url or set UTD_IOS_RELEASE_URL if the zip goes elsewhere"
  built_targets=("$DEVICE_TARGET" "${SIMULATOR_TARGETS[@]}")
  must "cargo rustc --crate-type staticlib (3 targets, release-size, $IOS_CARGO_FEATURES)" build_release_targets
  must "lipo (aarch64-apple-ios-sim + x86_64-apple-ios)" lipo_simulator
  must "uniffi-bindgen swift (from the $DEVICE_TARGET library)" ios_bindings
  must "xcodebuild -create-xcframework" assemble_release
fi
must "zip $zip_file" zip_xcframework
[ -n "$on_mac" ] || must "mount repo + proc into the Swift chroot" mount_swift_chroot
must "swift package compute-checksum" checksum
must "release manifest + package folder" package_folder
must "swift package dump-package (host branch + Apple branch)" dump_package
if [ "$mode" = release ]; then
  must "xcodebuild build (the package for iOS and the iOS simulator)" xcodebuild_package
fi
if step "validate xcframework + zip + manifest" validate; then
  [ "$failed" -gt 0 ] || promote
fi
if [ "$failed" -eq 0 ]; then
  log "ios ($mode): $out/$zip_file (checksum $swiftpm_checksum)"
  log "ios ($mode): the Swift package: $out/$package_name (binaryTarget url $url)"
  [ "$mode" = release ] || log "ios: CHECK BUILD (device slice only, zig-compiled C, default features, debug): not for shipping"
else
  log "ios ($mode): failed; nothing promoted (partial output left in $staging)"
fi
finish
