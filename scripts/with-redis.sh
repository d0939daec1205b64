#!/usr/bin/env bash
# Runs a command with a throwaway Redis (Debian's redis-server, installed if missing)
# on a local port, exporting CHATKITTY_TEST_REDIS; stops it afterwards.
#   scripts/with-redis.sh cargo test -p chatkitty-server --test cluster -- --ignored
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '\033[1;34m[redis]\033[0m %s\n' "$*"; }
if ! command -v redis-server >/dev/null 2>&1; then
  log "installing redis-server"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
fi
PORT=${REDIS_PORT:-56379}
DIR=$(mktemp -d /tmp/chatkitty-redis.XXXXXX)
redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$DIR" --daemonize yes \
  --pidfile "$DIR/redis.pid" --logfile "$DIR/log" >/dev/null
cleanup() {
  local pid=""
  [ -f "$DIR/redis.pid" ] && pid=$(cat "$DIR/redis.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
    # Redis writes its log and removes its pid file on the way out: wait for it.
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$DIR" 2>/dev/null || true
}
trap cleanup EXIT INT TERM
for _ in $(seq 1 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
log "redis on 127.0.0.1:$PORT"
export CHATKITTY_TEST_REDIS="redis://127.0.0.1:$PORT/"
"$@"
