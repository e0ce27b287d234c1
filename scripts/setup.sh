#!/usr/bin/env bash
# Installs the real toolchains the tests and the demo need, idempotently, cached
# under $UTD_CACHE (default ~/.cache/utd-stream). Safe to run again: every step
# checks for its finished result first and does nothing when it is there.
#
# Usage: scripts/setup.sh [apt] [kotlin] [android] [swift] [livekit] [livekit-ffi] [ios]   (no argument: all)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Debian packages: the JDK and JNA for the Kotlin tests, debootstrap for Swift,
# clang + llvm for the Android check build's C code (scripts/package-android.sh),
# Redis for the engine's multi-node tests (testkit's utd-services; PostgreSQL 15
# comes with the image, else Debian's).
setup_apt() {
  local wanted=(default-jdk-headless libjna-java debootstrap clang llvm redis-server)
  [ -x /usr/lib/postgresql/15/bin/postgres ] || wanted+=(postgresql-15)
  local missing=()
  for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "apt: ${wanted[*]} already installed"
    return 0
  fi
  log "apt: installing ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ -f "$JNA_JAR" ] || die "libjna-java installed but $JNA_JAR is missing"
}

# kotlinc, the Kotlin stdlib, coroutines and kotlin-test, from the npm package.
setup_kotlin() {
  if [ -x "$KOTLIN_HOME/bin/kotlinc" ]; then
    log "kotlin: $KOTLIN_VERSION already at $KOTLIN_HOME"
    return 0
  fi
  command -v npm >/dev/null || die "npm is needed to fetch kotlin-compiler from the npm registry"
  local work
  work=$(mktemp -d "$UTD_CACHE/kotlin-download.XXXXXX")
  log "kotlin: fetching kotlin-compiler@$KOTLIN_VERSION from the npm registry (~90 MB)"
  (cd "$work" && npm pack --silent "kotlin-compiler@$KOTLIN_VERSION" >/dev/null)
  tar -xzf "$work"/kotlin-compiler-*.tgz -C "$work"
  chmod +x "$work/package/bin/"*
  rm -rf "$KOTLIN_HOME"
  mv "$work/package" "$KOTLIN_HOME"
  rm -rf "$work"
  [ -x "$KOTLIN_HOME/bin/kotlinc" ] || die "kotlin-compiler package has no bin/kotlinc"
}

# Swift 6 on Linux: Debian trixie's swiftlang in a debootstrapped chroot, because
# the host's (bookworm) glibc is too old for it.
setup_swift() {
  if [ -f "$SWIFT_ROOT/.utd-ready" ]; then
    log "swift: chroot already at $SWIFT_ROOT"
    return 0
  fi
  command -v debootstrap >/dev/null || setup_apt
  local building="$SWIFT_ROOT.partial"
  # A half-built root from an interrupted run may still have proc mounted.
  umount -l "$building/proc" 2>/dev/null || true
  as_root rm -rf "$building"
  log "swift: debootstrap $SWIFT_SUITE (minbase) into $building"
  as_root debootstrap --variant=minbase "$SWIFT_SUITE" "$building" http://deb.debian.org/debian >/dev/null
  cp /etc/resolv.conf "$building/etc/resolv.conf"
  as_root mount -t proc proc "$building/proc"
  # shellcheck disable=SC2064 # expand now: the path is fixed for this run
  trap "umount -l '$building/proc' 2>/dev/null || true" RETURN
  log "swift: installing swiftlang inside the chroot"
  as_root chroot "$building" /usr/bin/env DEBIAN_FRONTEND=noninteractive bash -c \
    'apt-get update -qq && apt-get install -y -qq --no-install-recommends swiftlang libc6-dev >/dev/null && apt-get clean'
  as_root chroot "$building" swift --version >&2
  umount -l "$building/proc"
  touch "$building/.utd-ready"
  as_root rm -rf "$SWIFT_ROOT"
  mv "$building" "$SWIFT_ROOT"
}

# The real LiveKit SFU, built from the Go module proxy.
setup_livekit() {
  if [ -x "$LIVEKIT_SERVER_BIN" ]; then
    log "livekit-server: $LIVEKIT_SERVER_VERSION already at $LIVEKIT_SERVER_BIN"
    return 0
  fi
  command -v go >/dev/null || die "the Go toolchain (1.26+) is needed to build livekit-server; install Go and re-run"
  local gobin
  gobin=$(mktemp -d "$UTD_CACHE/livekit-build.XXXXXX")
  log "livekit-server: go install github.com/livekit/livekit-server/cmd/server@$LIVEKIT_SERVER_VERSION"
  if ! GOBIN="$gobin" GOFLAGS=-mod=mod go install "github.com/livekit/livekit-server/cmd/server@$LIVEKIT_SERVER_VERSION"; then
    rm -rf "$gobin"
    die "go install of livekit-server failed: is the Go module proxy ($(go env GOPROXY)) reachable?"
  fi
  mkdir -p "$(dirname "$LIVEKIT_SERVER_BIN")"
  mv "$gobin/server" "$LIVEKIT_SERVER_BIN"
  rm -rf "$gobin"
}

# The S3-compatible server of the upload tests (real SigV4 checks: a tampered
# signature, an expired URL, another signed type or length are refused), built
# from the Go module proxy. Its Go caches stay in their own folders under
# UTD_CACHE so nothing else in the cache is touched.
setup_versitygw() {
  if [ -x "$VERSITYGW_BIN" ]; then
    log "versitygw: $VERSITYGW_VERSION already at $VERSITYGW_BIN"
    return 0
  fi
  local go_cmd
  go_cmd=$(command -v go || true)
  if [ -z "$go_cmd" ] && [ -x /usr/local/go/bin/go ]; then
    go_cmd=/usr/local/go/bin/go
  fi
  [ -n "$go_cmd" ] || die "the Go toolchain is needed to build versitygw (go install); install Go (or put it at /usr/local/go/bin/go) and re-run"
  local work="$UTD_CACHE/versitygw-build"
  mkdir -p "$work/bin" "$work/gopath" "$work/gocache"
  log "versitygw: go install github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
  if ! GOBIN="$work/bin" GOPATH="$work/gopath" GOMODCACHE="$work/gopath/pkg/mod" \
    GOCACHE="$work/gocache" GOFLAGS=-mod=mod \
    "$go_cmd" install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"; then
    die "go install of versitygw failed: is the Go module proxy ($("$go_cmd" env GOPROXY)) reachable?"
  fi
  mkdir -p "$(dirname "$VERSITYGW_BIN")"
  # Copy then rename: the binary appears under its final name complete or not at all.
  cp "$work/bin/versitygw" "$VERSITYGW_BIN.partial"
  mv "$VERSITYGW_BIN.partial" "$VERSITYGW_BIN"
}

# LiveKit's FFI library and the protobuf descriptors of its API, from the
# pinned PyPI wheel. Nothing of it enters the repo: build.rs generates the Rust
# types from descriptors.bin, the transport loads the .so at run time.
setup_livekit_ffi() {
  local dir="$UTD_LIVEKIT_FFI_DIR"
  if [ -f "$dir/.utd-ready" ]; then
    log "livekit-ffi: wheel $LIVEKIT_FFI_WHEEL_VERSION already at $dir"
    return 0
  fi
  command -v python3 >/dev/null || die "python3 (with pip) is needed to fetch the livekit wheel from PyPI"
  local work
  work=$(mktemp -d "$UTD_CACHE/livekit-ffi-download.XXXXXX")
  log "livekit-ffi: pip download --no-deps livekit==$LIVEKIT_FFI_WHEEL_VERSION"
  if ! python3 -m pip download --quiet --no-deps --only-binary=:all: \
    --platform manylinux_2_28_x86_64 --python-version 3.11 \
    "livekit==$LIVEKIT_FFI_WHEEL_VERSION" -d "$work"; then
    rm -rf "$work"
    die "pip download of livekit==$LIVEKIT_FFI_WHEEL_VERSION failed: is PyPI reachable?"
  fi
  python3 -m zipfile -e "$work"/livekit-*.whl "$work/wheel"
  local res="$work/wheel/livekit/rtc/resources"
  [ -f "$res/liblivekit_ffi.so" ] || die "the livekit wheel has no livekit/rtc/resources/liblivekit_ffi.so"
  rm -rf "$dir.partial"
  mkdir -p "$dir.partial"
  cp "$res/liblivekit_ffi.so" "$res/livekit_ffi.h" "$res/LICENSE.md" "$dir.partial/"
  python3 "$REPO_ROOT/scripts/livekit_ffi_descriptors.py" "$work/wheel/livekit/rtc/_proto" \
    "$dir.partial/descriptors.bin" >&2
  touch "$dir.partial/.utd-ready"
  rm -rf "$dir" "$work"
  mv "$dir.partial" "$dir"
}

# Android on the JVM, from Maven Central through the machine's Maven: what
# the Robolectric suite runs on and what scripts/package-android.sh compiles
# and dexes against. Resolved transitively where the POMs allow it; the
# Firebase artifacts' POMs do not resolve, so those come one by one.
ANDROID_RESOLVED=(
  org.robolectric:robolectric:4.17
  org.robolectric:android-all:15-robolectric-13954326
  org.robolectric:android-all-instrumented:15-robolectric-13954326-i7
  junit:junit:4.13.2
  net.java.dev.jna:jna:5.17.0
  androidx.annotation:annotation-jvm:1.9.1
  com.android.tools:r8:8.7.18
)
ANDROID_ONE_BY_ONE=(
  com.google.firebase:firebase-messaging:26.0.1:aar
  com.google.firebase:firebase-common:23.0.0:aar
  com.google.firebase:firebase-components:20.0.0:aar
  com.google.android.gms:play-services-basement:18.9.0:aar
  com.google.android.gms:play-services-tasks:18.4.0:aar
  com.google.android.gms:play-services-cloud-messaging:17.4.0:aar
  androidx.collection:collection:1.0.0:jar
)
setup_android() {
  if [ -f "$ANDROID_DEPS_DIR/.utd-ready" ]; then
    log "android: Robolectric, android-all, Firebase, JNA, D8 already at $ANDROID_JARS"
    return 0
  fi
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch the Android jars from Maven Central"
  local work="$ANDROID_DEPS_DIR.partial"
  rm -rf "$work"
  mkdir -p "$work/jars"
  local deps="" coordinate g a v
  for coordinate in "${ANDROID_RESOLVED[@]}"; do
    IFS=: read -r g a v <<<"$coordinate"
    deps+="<dependency><groupId>$g</groupId><artifactId>$a</artifactId><version>$v</version></dependency>"
  done
  cat >"$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>dev.utdstream.setup</groupId><artifactId>android-deps</artifactId><version>1</version>
<packaging>pom</packaging><dependencies>$deps</dependencies></project>
POM
  local mvn=(mvn -q -B -f "$work/pom.xml" "-Dmaven.repo.local=$MAVEN_REPO_LOCAL")
  log "android: resolving ${#ANDROID_RESOLVED[@]} artifacts with their dependencies (~600 MB)"
  "${mvn[@]}" dependency:copy-dependencies "-DoutputDirectory=$work/jars" >&2 ||
    die "mvn could not resolve the Robolectric / android-all / D8 jars from Maven Central"
  for coordinate in "${ANDROID_ONE_BY_ONE[@]}"; do
    log "android: fetching $coordinate"
    "${mvn[@]}" dependency:copy "-Dartifact=$coordinate" -Dtransitive=false \
      "-DoutputDirectory=$work/jars" >&2 || die "mvn could not fetch $coordinate from Maven Central"
  done
  # The Kotlin stdlib comes from the Kotlin distribution (scripts/setup.sh kotlin).
  rm -f "$work"/jars/kotlin-stdlib-*.jar
  local aar
  for aar in "$work"/jars/*.aar; do
    python3 - "$aar" "${aar%.aar}.jar" <<'PY' || die "$aar has no classes.jar"
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as aar:
    open(sys.argv[2], "wb").write(aar.read("classes.jar"))
PY
    rm -f "$aar"
  done
  rm -f "$work/pom.xml"
  touch "$work/.utd-ready"
  rm -rf "$ANDROID_DEPS_DIR"
  mv "$work" "$ANDROID_DEPS_DIR"
}

# iOS without Xcode (scripts/package-ios.sh --check): the aarch64-apple-ios
# rust-std, and zig's clang from the PyPI wheel `ziglang` as the C compiler of
# iOS targets (ring's build script compiles C and assembly for the target).
# Zig bundles Darwin's libc headers but gives no iOS SDK of its own: sdk/ is
# an SDK root whose usr/include is zig's any-darwin-any headers, and the
# wrappers in bin/ add it to zig's search path (zig ignores -isysroot).
# bin/cc-<rust target> and bin/c++-<rust target> (the cxx crate builds C++
# even under DOCS_RS) drop cc-rs's clang-style --target and give zig its own
# target with $IPHONEOS_DEPLOYMENT_TARGET; bin/ar is zig's llvm-ar. What
# they build is for checking only: no Apple SDK, nothing to ship.
setup_ios() {
  if ! rustup target list --installed | grep -qx aarch64-apple-ios; then
    log "ios: rustup target add aarch64-apple-ios"
    rustup target add aarch64-apple-ios >&2 || die "rustup target add aarch64-apple-ios failed"
  fi
  local dir="$IOS_ZIG_DIR"
  if [ -f "$dir/.utd-ready" ]; then
    log "ios: zig $ZIGLANG_VERSION (ziglang wheel) already at $dir"
    return 0
  fi
  command -v python3 >/dev/null || die "python3 (with pip) is needed to fetch the ziglang wheel from PyPI"
  local work="$dir.partial"
  rm -rf "$work"
  mkdir -p "$work/bin" "$work/sdk/usr"
  log "ios: pip install ziglang==$ZIGLANG_VERSION (~100 MB download, ~400 MB on disk)"
  if ! python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-compile --no-deps \
    --target "$work/python" "ziglang==$ZIGLANG_VERSION" >&2; then
    rm -rf "$work"
    die "pip install ziglang==$ZIGLANG_VERSION failed: is PyPI reachable?"
  fi
  local zig_lib="$work/python/ziglang/lib"
  [ -x "$work/python/ziglang/zig" ] || die "the ziglang wheel has no ziglang/zig executable"
  [ -f "$zig_lib/libc/include/any-darwin-any/TargetConditionals.h" ] ||
    die "zig $ZIGLANG_VERSION has no Darwin headers at lib/libc/include/any-darwin-any"
  # Relative, so the folder still works after the move below.
  ln -s ../../python/ziglang/lib/libc/include/any-darwin-any "$work/sdk/usr/include"
  local target zig_target
  for target in aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios; do
    case "$target" in
      aarch64-apple-ios) zig_target='aarch64-ios.$version' ;;
      aarch64-apple-ios-sim) zig_target='aarch64-ios.$version-simulator' ;;
      x86_64-apple-ios) zig_target='x86_64-ios.$version-simulator' ;;
    esac
    local driver
    for driver in cc c++; do
      cat >"$work/bin/$driver-$target" <<WRAPPER
#!/bin/sh
# C/C++ compiler for $target (check builds only): zig $driver with zig's Darwin headers.
root=\$(cd "\$(dirname "\$0")/.." && pwd)
version="\${IPHONEOS_DEPLOYMENT_TARGET:?set IPHONEOS_DEPLOYMENT_TARGET (e.g. $IOS_DEPLOYMENT_TARGET)}"
for arg in "\$@"; do
  shift
  case "\$arg" in
    --target=*) ;;
    *) set -- "\$@" "\$arg" ;;
  esac
done
export ZIG_GLOBAL_CACHE_DIR="\${ZIG_GLOBAL_CACHE_DIR:-\$root/zig-cache}" ZIG_LOCAL_CACHE_DIR="\${ZIG_LOCAL_CACHE_DIR:-\$root/zig-cache}"
exec "\$root/python/ziglang/zig" $driver -target "$zig_target" -idirafter "\$root/sdk/usr/include" "\$@"
WRAPPER
    done
  done
  cat >"$work/bin/ar" <<'WRAPPER'
#!/bin/sh
# Archiver for the iOS check builds: zig's llvm-ar.
root=$(cd "$(dirname "$0")/.." && pwd)
export ZIG_GLOBAL_CACHE_DIR="${ZIG_GLOBAL_CACHE_DIR:-$root/zig-cache}" ZIG_LOCAL_CACHE_DIR="${ZIG_LOCAL_CACHE_DIR:-$root/zig-cache}"
exec "$root/python/ziglang/zig" ar "$@"
WRAPPER
  chmod +x "$work"/bin/*
  # A smoke test: one C file that needs the Darwin headers, compiled for the device.
  printf '#include <TargetConditionals.h>\n#include <stdint.h>\nint utd_ios_probe(void) { return TARGET_OS_IOS + (int)sizeof(uint64_t); }\n' \
    >"$work/probe.c"
  if ! IPHONEOS_DEPLOYMENT_TARGET="$IOS_DEPLOYMENT_TARGET" "$work/bin/cc-aarch64-apple-ios" \
    -c "$work/probe.c" -o "$work/probe.o" >&2; then
    rm -rf "$work"
    die "zig cc could not compile a probe for aarch64-apple-ios"
  fi
  printf '#include <algorithm>\n#include <TargetConditionals.h>\nint utd_ios_probe_cxx(int a, int b) { return std::max(a, b) + TARGET_OS_IOS; }\n' \
    >"$work/probe.cc"
  if ! IPHONEOS_DEPLOYMENT_TARGET="$IOS_DEPLOYMENT_TARGET" "$work/bin/c++-aarch64-apple-ios" \
    -c "$work/probe.cc" -o "$work/probe-cxx.o" >&2; then
    rm -rf "$work"
    die "zig c++ could not compile a probe for aarch64-apple-ios"
  fi
  rm -f "$work"/probe*
  touch "$work/.utd-ready"
  rm -rf "$dir"
  mv "$work" "$dir"
}

main() {
  local parts=("$@")
  [ ${#parts[@]} -gt 0 ] || parts=(apt kotlin android swift livekit versitygw livekit-ffi ios)
  for part in "${parts[@]}"; do
    case "$part" in
      apt) step "apt packages (JDK, JNA, debootstrap, clang, llvm, redis)" setup_apt ;;
      kotlin) step "kotlin $KOTLIN_VERSION" setup_kotlin ;;
      android) step "android jars (Robolectric 4.17, android-all 15, Firebase, JNA 5.17, D8)" setup_android ;;
      swift) step "swift chroot ($SWIFT_SUITE swiftlang)" setup_swift ;;
      livekit) step "livekit-server $LIVEKIT_SERVER_VERSION" setup_livekit ;;
      versitygw) step "versitygw $VERSITYGW_VERSION (S3 test server)" setup_versitygw ;;
      livekit-ffi) step "livekit FFI library (wheel $LIVEKIT_FFI_WHEEL_VERSION)" setup_livekit_ffi ;;
      ios) step "ios check toolchain (aarch64-apple-ios rust-std, zig $ZIGLANG_VERSION)" setup_ios ;;
      *) die "unknown setup part '$part' (expected apt, kotlin, android, swift, livekit, versitygw, livekit-ffi or ios)" ;;
    esac
  done
}

main "$@"
