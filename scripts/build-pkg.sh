#!/usr/bin/env bash
# Builds the npm package in pkg/: the SDK compiled to wasm (profile `wasm`), the
# wasm-bindgen `--target web` glue, wasm-opt -Oz (npm binaryen: Debian's wasm-opt 108
# corrupts reference-types output), and the hand-written entry files of pkg-template/.
# Idempotent; a no-op rebuild is quick (cargo and wasm-opt are skipped when their
# inputs did not change). Prints the raw and gzip -9 sizes at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET_DIR=${CARGO_TARGET_DIR:-target}
OUT=pkg
TOOLS=target/tools
BINARYEN_VERSION=132.0.0
WASM_OPT=$TOOLS/node_modules/.bin/wasm-opt

log() { printf '\033[1;34m[build-pkg]\033[0m %s\n' "$*"; }

log "cargo build (profile wasm)"
# strip=false here (the profile strips): wasm-bindgen reads the `target_features`
# section to know the output may use reference types; names and producers sections
# are removed by wasm-bindgen below instead.
CARGO_PROFILE_WASM_STRIP=false \
  cargo build --profile wasm --target wasm32-unknown-unknown -p chatkitty-wasm --lib
RAW_WASM=$TARGET_DIR/wasm32-unknown-unknown/wasm/chatkitty_wasm.wasm

mkdir -p "$OUT" target
STAMP=target/pkg.stamp
if [ ! -f "$STAMP" ] || [ "$RAW_WASM" -nt "$STAMP" ] || [ ! -f "$OUT/chatkitty_wasm_bg.wasm" ]; then
  log "wasm-bindgen --target web"
  wasm-bindgen --target web --remove-name-section --remove-producers-section \
    --out-dir "$OUT" --out-name chatkitty_wasm "$RAW_WASM"

  if [ ! -x "$WASM_OPT" ] || ! "$WASM_OPT" --version | grep -q "${BINARYEN_VERSION%%.*}"; then
    log "installing binaryen@$BINARYEN_VERSION (npm) into $TOOLS"
    mkdir -p "$TOOLS"
    npm install --silent --no-audit --no-fund --prefix "$TOOLS" "binaryen@$BINARYEN_VERSION" >/dev/null
  fi
  log "wasm-opt -Oz --converge"
  # The features wasm-bindgen 0.2.130 output uses, enabled explicitly (MVP+ as in
  # Chromium/Firefox/Safari since 2021).
  "$WASM_OPT" -Oz --converge --enable-reference-types --enable-bulk-memory \
    --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
    --enable-multivalue \
    "$OUT/chatkitty_wasm_bg.wasm" -o "$OUT/chatkitty_wasm_bg.wasm.opt"
  mv "$OUT/chatkitty_wasm_bg.wasm.opt" "$OUT/chatkitty_wasm_bg.wasm"
  touch "$STAMP"
else
  log "wasm unchanged: wasm-bindgen and wasm-opt skipped"
fi

log "copying pkg-template/"
cp pkg-template/index.js pkg-template/surface.js pkg-template/index.d.ts pkg-template/package.json pkg-template/README.md "$OUT/"
# wasm-bindgen writes its own package.json-less output; drop files the package does
# not ship.
rm -f "$OUT/.gitignore"

size() { wc -c <"$1" | tr -d ' '; }
gz() { gzip -9 -c "$@" | wc -c | tr -d ' '; }
wasm_raw=$(size "$OUT/chatkitty_wasm_bg.wasm")
wasm_gz=$(gz "$OUT/chatkitty_wasm_bg.wasm")
js_raw=$(cat "$OUT/chatkitty_wasm.js" "$OUT/index.js" "$OUT/surface.js" | wc -c | tr -d ' ')
js_gz=$(( $(gz "$OUT/chatkitty_wasm.js") + $(gz "$OUT/index.js") + $(gz "$OUT/surface.js") ))
printf '\n%-28s %9s %9s\n' "pkg/" "raw" "gzip -9"
printf '%-28s %9s %9s\n' "chatkitty_wasm_bg.wasm" "$wasm_raw" "$wasm_gz"
printf '%-28s %9s %9s\n' "JS (glue+index.js+surface.js)" "$js_raw" "$js_gz"
printf '%-28s %9s %9s\n' "total" "$((wasm_raw + js_raw))" "$((wasm_gz + js_gz))"
