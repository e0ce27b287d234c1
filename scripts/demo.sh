#!/usr/bin/env bash
# The demo: starts a real engine on loopback and walks through what the SDK
# does today (sessions, plan flags, presence, reconnect, plan gates, bans).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"
step "demo" cargo run --quiet --example demo
