#!/usr/bin/env bash
# Soak and leak checks of the SDK against a real chatkitty-server (tests/soak/):
#
#   scripts/soak.sh              leak check + a 45 s soak (part of the default run)
#   scripts/soak.sh 600          leak check + a 10 min soak (also: --long, or SOAK_SECONDS=600)
#   scripts/soak.sh --share 90   the soak with each receiver as SOAK_TABS (3) tabs of one
#                                browser profile sharing one connection (shareConnection,
#                                docs/api.md §18): every tab must get every message once,
#                                in order, and each receiver hold one connection
#
# The soak runs SOAK_SENDERS (3) senders and SOAK_RECEIVERS (3) receivers, each a page
# using pkg/ in headless Chromium, kills the server with SIGKILL and restarts it on the
# same database file and port at least twice (SOAK_RESTARTS, default one per 15 s,
# at least 3), and checks that every acknowledged message reached every receiver
# exactly once and in order. The leak check starts and ends LEAK_SESSIONS (1000) chat
# sessions and checks the server's subscriptions, the page's event listeners and the
# SDK's tables. Builds the server and pkg/ first (CHATKITTY_SERVER_BIN=path skips the
# server build, SOAK_SKIP_PKG=1 the package build); SOAK_SKIP_LEAK=1 skips the leak
# check. Exits non-zero on any loss, duplicate, disorder or leak.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '\033[1;34m[soak]\033[0m %s\n' "$*"; }

for arg in "$@"; do
  case "$arg" in
    --long) export SOAK_SECONDS=600 ;;
    --share) export SOAK_TABS=${SOAK_TABS:-3} ;;
    ""|*[!0-9]*) echo "usage: scripts/soak.sh [--share] [seconds|--long]" >&2; exit 2 ;;
    *) export SOAK_SECONDS=$arg ;;
  esac
done

if [ -z "${CHATKITTY_SERVER_BIN:-}" ]; then
  log "building chatkitty-server"
  SERVER_TARGET_DIR=${SERVER_TARGET_DIR:-target}
  CARGO_TARGET_DIR=$SERVER_TARGET_DIR cargo build -p chatkitty-server
  export CHATKITTY_SERVER_BIN=$PWD/$SERVER_TARGET_DIR/debug/chatkitty-server
fi
if [ -z "${SOAK_SKIP_PKG:-}" ]; then
  log "building the npm package"
  bash scripts/build-pkg.sh >/dev/null
fi
[ -f pkg/index.js ] || { log "pkg/ is not built"; exit 1; }

cd tests/soak
npm ci --no-audit --no-fund --loglevel=error
if [ -z "${SOAK_SKIP_LEAK:-}" ]; then
  log "leak check"
  node leak.mjs
fi
log "soak (${SOAK_SECONDS:-45} s${SOAK_TABS:+, $SOAK_TABS tabs per receiver sharing one connection})"
node soak.mjs
