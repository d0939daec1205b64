#!/usr/bin/env bash
# Webhooks and the before-send hook, end to end: the Node receiver verifies the
# server's signatures, the Node hook scrubs and rejects messages sent through the
# Platform API.
#   examples/webhooks/run.sh          (builds the server first if needed)
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${CHATKITTY_SERVER_BIN:-${CARGO_TARGET_DIR:-target}/debug/chatkitty-server}
[ -x "$BIN" ] || cargo build -q -p chatkitty-server
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
SECRET="whsec_$(head -c 32 /dev/urandom | base64)"
node examples/webhooks/receiver.mjs 0 "$SECRET" >"$DIR/receiver.out" & PIDS+=($!)
node examples/webhooks/before-send.mjs 0 >"$DIR/hook.out" & PIDS+=($!)
RX=$(listening "$DIR/receiver.out"); HOOK=$(listening "$DIR/hook.out")
# The default endpoint (--webhook-url) may be on loopback: it is the operator's own.
"$BIN" --port 0 --database "$DIR/chat.db" --files-dir "$DIR/files" --api-key demo \
  --platform-secret demo=s3cret --webhook-url "http://$RX/" --webhook-secret "$SECRET" \
  --before-send-url "http://$HOOK/" --before-send-timeout-ms 10000 >"$DIR/server.out" 2>&1 & PIDS+=($!)
HOST=$(listening "$DIR/server.out")

TOKEN=$(curl -sf -u demo:s3cret -d grant_type=client_credentials "http://$HOST/oauth/token" \
  | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const t=JSON.parse(s);console.log(t.access_token+" "+t.application_id)})')
read -r BEARER APP <<<"$TOKEN"
api() { curl -s -o "$DIR/last.json" -w '%{http_code}' -H "Authorization: Bearer $BEARER" \
  -H 'Content-Type: application/json' "http://$HOST/v1/applications/$APP$1" "${@:2}"; }
expect() { [ "$1" = "$2" ] || { echo "expected $1, got $2: $(cat "$DIR/last.json")"; tail -5 "$DIR/server.out"; exit 1; }; }

expect 201 "$(api /channels -d '{"type":"PUBLIC","name":"lobby"}')"
CID=$(node -e 'console.log(require(process.argv[1]).id)' "$DIR/last.json")
expect 201 "$(api "/channels/$CID/messages" -d '{"body":"call 555-1234 for tickets"}')"
grep -q '\*\*\*-\*\*\*\*' "$DIR/last.json" || { echo "not scrubbed: $(cat "$DIR/last.json")"; exit 1; }
expect 422 "$(api "/channels/$CID/messages" -d '{"body":"spoiler: he was a ghost"}')"
grep -q 'No spoilers' "$DIR/last.json"

for _ in $(seq 100); do
  grep -q '^message.created' "$DIR/receiver.out" && grep -q '^channel.created' "$DIR/receiver.out" && break
  sleep 0.1
done
grep '^channel.created' "$DIR/receiver.out" | grep -q lobby || { cat "$DIR/receiver.out"; exit 1; }
grep '^message.created' "$DIR/receiver.out" | grep -q '\*\*\*-\*\*\*\*' || { cat "$DIR/receiver.out"; exit 1; }
if grep -q spoiler "$DIR/receiver.out"; then echo "a rejected message was sent out"; exit 1; fi
echo "webhooks example: OK"
