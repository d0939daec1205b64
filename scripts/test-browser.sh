#!/usr/bin/env bash
# Runs the SDK's browser tests (tests/*.rs, wasm-bindgen-test) in headless Chromium,
# headless Firefox and WebKitGTK (on Xvfb) against a live chatkitty-server: builds the
# server, starts it on a free port with a temporary database, bakes its address and its
# Platform API secret into the tests (CHATKITTY_TEST_HOST, CHATKITTY_TEST_PLATFORM_SECRET),
# runs `wasm-pack test` once per browser, and stops the server. BROWSERS="chrome" (or
# "firefox", "webkit", or a list) picks. Exits non-zero if any browser failed.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1;34m[test-browser]\033[0m %s\n' "$*"; }

API_KEY=${CHATKITTY_TEST_API_KEY:-test-key}
# The Platform API's secret for that key: the moderation tests read the review queue.
PLATFORM_SECRET=${CHATKITTY_TEST_PLATFORM_SECRET:-test-platform-secret}
# CHATKITTY_SERVER_BIN=path skips the build and uses that binary instead.
if [ -n "${CHATKITTY_SERVER_BIN:-}" ]; then
  SERVER_BIN=$CHATKITTY_SERVER_BIN
else
  log "building chatkitty-server"
  cargo build -p chatkitty-server
  SERVER_BIN=${SERVER_TARGET_DIR:-target}/debug/chatkitty-server
fi

TMP=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

log "starting the server"
# Uploads go to the temporary directory too (an env var, which older binaries ignore).
CHATKITTY_FILES_DIR="$TMP/files" "$SERVER_BIN" --bind 127.0.0.1 --port 0 --database "$TMP/chat.db" --api-key "$API_KEY" \
  --platform-secret "$API_KEY=$PLATFORM_SECRET" --presence-grace-ms 0 --typing-timeout-ms 2000 >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
PORT=
for _ in $(seq 1 100); do
  PORT=$(sed -n 's#.*chatkitty-server listening on http://127.0.0.1:\([0-9]*\).*#\1#p' "$TMP/server.log" | head -1)
  [ -n "$PORT" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/server.log"; exit 1; }
  sleep 0.1
done
[ -n "$PORT" ] || { log "server did not start"; cat "$TMP/server.log"; exit 1; }
log "server on 127.0.0.1:$PORT"

export CHATKITTY_TEST_HOST="127.0.0.1:$PORT"
export CHATKITTY_TEST_API_KEY="$API_KEY"
export CHATKITTY_TEST_PLATFORM_SECRET="$PLATFORM_SECRET"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/sdk-dev}
status=0
for browser in ${BROWSERS:-chrome firefox webkit}; do
  log "wasm-pack test --headless --$browser"
  case $browser in
    chrome) wasm-pack test --headless --chrome --chromedriver "$(command -v chromedriver)" "$@" || status=$? ;;
    # webdriver.json names Debian's firefox-esr binary.
    firefox) wasm-pack test --headless --firefox --geckodriver "$(command -v geckodriver)" "$@" || status=$? ;;
    # WebKitGTK: WebKitWebDriver speaks the protocol the runner uses with safaridriver.
    # WebKitGTK has no headless mode: its MiniBrowser gets an Xvfb display.
    webkit) xvfb-run -a wasm-pack test --headless --safari --safaridriver "$(command -v WebKitWebDriver)" "$@" || status=$? ;;
    *) log "unknown browser $browser"; status=2 ;;
  esac
done
if [ "$status" -ne 0 ]; then
  log "server log (last 60 lines):"
  tail -60 "$TMP/server.log" || true
fi
exit "$status"
