#!/usr/bin/env bash
# The demo: starts a real engine and a real livekit-server on loopback and
# walks through what the SDK does today (sessions, plan flags, presence,
# reconnect, plan gates, bans, audio-room seats, the live-stream stage, a
# seated speaker heard by the host with the level measured, data reaching
# only its addressee, and a 1:1 call to a user on two devices).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"
step "livekit-server + LiveKit FFI library" bash scripts/setup.sh livekit livekit-ffi
step "demo" cargo run --quiet --example demo
