#!/usr/bin/env bash
# Builds everything and runs the demo chat: the server on an embedded SQLite file
# (data/demo.db), serving the demo app. Open the printed URL in two tabs and chat.
#   PORT=9000 scripts/demo.sh    to use another port
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '\033[1;34m[demo]\033[0m %s\n' "$*"; }

bash scripts/setup.sh demo
bash scripts/build-pkg.sh
log "building the demo app (www/)"
(cd www && npm install --no-audit --no-fund --loglevel=error && npx vite build --logLevel warn)
log "building the server (release)"
cargo build --release -p chatkitty-server
mkdir -p data
PORT=${PORT:-8080}
log "open http://127.0.0.1:$PORT in two browser tabs, sign in as two people and chat (Ctrl-C stops)"
exec target/release/chatkitty-server --port "$PORT" --database data/demo.db --api-key demo --static-dir www/dist
