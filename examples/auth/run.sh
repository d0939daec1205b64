#!/usr/bin/env bash
# Authenticated sessions, end to end: starts chatkitty-server with guest sessions off,
# once verifying HS256 JWTs and once asking an HTTP callback, and shows who gets in.
#   examples/auth/run.sh          (builds the server first if needed)
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${CHATKITTY_SERVER_BIN:-${CARGO_TARGET_DIR:-target}/debug/chatkitty-server}
[ -x "$BIN" ] || cargo build -q -p chatkitty-server
NODE=(node)
node -e 'process.exit(typeof WebSocket === "undefined" ? 1 : 0)' || NODE=(node --experimental-websocket --no-warnings)
DIR=$(mktemp -d)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; rm -rf "$DIR"' EXIT
listening() { # listening <log file>: waits for "… http://127.0.0.1:PORT" and prints host:port
  for _ in $(seq 100); do
    grep -qo 'http://127.0.0.1:[0-9]*' "$1" && { grep -o 'http://127.0.0.1:[0-9]*' "$1" | head -1 | cut -c8-; return; }
    sleep 0.1
  done
  cat "$1" >&2; exit 1
}
start() { # start <name> <flags...>: the server on a fresh database and a free port
  "$BIN" --port 0 --database "$DIR/$1.db" --files-dir "$DIR/files" \
    --api-key demo --guest-sessions false "${@:2}" >"$DIR/$1.out" 2>&1 &
  PIDS+=($!)
}
expect() { # expect <ok|refused> <command...>
  local want=$1; shift
  if "$@"; then got=ok; else got=refused; fi
  [ "$got" = "$want" ] || { echo "expected $want, got $got"; exit 1; }
}
C=("${NODE[@]}" examples/auth/connect.mjs)

echo "== JWT (HS256): the app's backend signs a token for the user"
SECRET=$(head -c 24 /dev/urandom | base64)
start jwt --jwt-hs256-secret "$SECRET" --jwt-audience my-chat
HOST=$(listening "$DIR/jwt.out")
TOKEN=$(CHATKITTY_JWT_HS256_SECRET=$SECRET node examples/auth/jwt-token.mjs jane my-chat)
expect ok      "${C[@]}" "$HOST" demo jane "{\"token\":\"$TOKEN\"}"
expect refused "${C[@]}" "$HOST" demo john "{\"token\":\"$TOKEN\"}"   # jane's token
expect refused "${C[@]}" "$HOST" demo jane                         # a guest
BAD=$(CHATKITTY_JWT_HS256_SECRET=not-the-secret node examples/auth/jwt-token.mjs jane my-chat)
expect refused "${C[@]}" "$HOST" demo jane "{\"token\":\"$BAD\"}"

echo "== HTTP callback: the server asks the app's backend"
node examples/auth/callback-verifier.mjs 0 >"$DIR/verifier.out" & PIDS+=($!)
start callback --auth-callback-url "http://$(listening "$DIR/verifier.out")/"
HOST=$(listening "$DIR/callback.out")
expect ok      "${C[@]}" "$HOST" demo jane '{"password":"open sesame"}'
expect refused "${C[@]}" "$HOST" demo jane '{"password":"guess"}'
echo "auth example: OK"
