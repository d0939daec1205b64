#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL cluster (Debian's packages, installed if
# missing) on a local port, exporting CHATKITTY_TEST_POSTGRES (an admin URL); stops
# and removes the cluster afterwards.
#   scripts/with-postgres.sh cargo test -p chatkitty-server
# The cluster runs with fsync off (tests need no durability), and its write-ahead log
# is recycled past 64 MB (a checkpoint without fsync is cheap; the default of 1 GB
# filled small disks: each test's CREATE DATABASE logs its 8 MB). PG_FSYNC=on keeps
# fsync on and the default log size, for benchmarks whose figures depend on what a
# commit costs.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '\033[1;34m[postgres]\033[0m %s\n' "$*"; }

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  log "installing postgresql"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
fi
BIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")
PORT=${PG_PORT:-55432}
DATA=$(mktemp -d /tmp/chatkitty-pg.XXXXXX)
RUN_AS=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd -r -M postgres
  chown postgres "$DATA"
  RUN_AS=(runuser -u postgres --)
fi
cleanup() {
  "${RUN_AS[@]}" "$BIN/pg_ctl" -D "$DATA/db" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$DATA" 2>/dev/null || true
}
trap cleanup EXIT INT TERM
SETTINGS="-c fsync=off -c max_wal_size=64MB -c min_wal_size=32MB"
[ "${PG_FSYNC:-off}" = on ] && SETTINGS="-c fsync=on"
"${RUN_AS[@]}" "$BIN/initdb" -D "$DATA/db" -U postgres -A trust --no-sync >/dev/null
# The port may be taken (another cluster, or a socket of an earlier test lingering in
# TIME-WAIT): try the next ones.
for try in 1 2 3 4 5; do
  if "${RUN_AS[@]}" "$BIN/pg_ctl" -D "$DATA/db" -l "$DATA/log" -w \
    -o "-p $PORT -k $DATA -c listen_addresses=127.0.0.1 $SETTINGS -c max_connections=300" \
    start >/dev/null; then
    break
  fi
  [ "$try" = 5 ] && { tail -5 "$DATA/log" >&2; exit 1; }
  log "port $PORT is taken; trying $((PORT + 1))"
  PORT=$((PORT + 1))
done
log "cluster on 127.0.0.1:$PORT"
export CHATKITTY_TEST_POSTGRES="postgres://postgres@127.0.0.1:$PORT/postgres"
"$@"
