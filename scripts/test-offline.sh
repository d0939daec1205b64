#!/usr/bin/env bash
# The offline features (docs/api.md §17, §18): the outbox's, the cache's and a shared
# tab's decisions in Node (a store in a Map, ports that record), then the package (pkg/,
# from scripts/build-pkg.sh) in headless Chromium and Firefox and in WebKitGTK (on Xvfb,
# through WebKitWebDriver) against a live server, IndexedDB, SharedWorker, Web Locks and
# BroadcastChannel as the browsers have them (tests/offline/run.mjs; BROWSERS="chrome",
# "firefox", "webkit" or a list picks).
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '\033[1;34m[test-offline]\033[0m %s\n' "$*"; }

if [ -z "${CHATKITTY_SERVER_BIN:-}" ]; then
  log "building chatkitty-server"
  cargo build -p chatkitty-server
  export CHATKITTY_SERVER_BIN="$PWD/${CARGO_TARGET_DIR:-target}/debug/chatkitty-server"
  case ${CARGO_TARGET_DIR:-} in /*) export CHATKITTY_SERVER_BIN="$CARGO_TARGET_DIR/debug/chatkitty-server" ;; esac
fi
[ -f pkg/offline.js ] || bash scripts/build-pkg.sh

log "the outbox's decisions (node --test, a store in a Map)"
node --test tests/offline/*.test.mjs

log "in Chromium, Firefox and WebKitGTK against a live server"
(cd tests/offline && npm install --no-audit --no-fund --loglevel=error && node run.mjs)
