#!/usr/bin/env bash
# Builds the npm package in pkg/: the SDK compiled to wasm (profile `wasm`), the
# wasm-bindgen `--target web` glue, wasm-opt -Oz (npm binaryen: Debian's wasm-opt 108
# corrupts reference-types output), the hand-written entry files of pkg-template/, the
# base64 copy of the module for `chatkitty-wasm/inline`, and the CommonJS entries
# (esbuild bundles of the ES ones). Idempotent; a no-op rebuild is quick (cargo and
# wasm-opt are skipped when their inputs did not change). Prints the raw and gzip -9
# sizes of what a page downloads through each entry at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET_DIR=${CARGO_TARGET_DIR:-target}
OUT=pkg
TOOLS=target/tools
BINARYEN_VERSION=132.0.0
ESBUILD_VERSION=0.28.2
WASM_OPT=$TOOLS/node_modules/.bin/wasm-opt
ESBUILD=$TOOLS/node_modules/.bin/esbuild

log() { printf '\033[1;34m[build-pkg]\033[0m %s\n' "$*"; }

if [ ! -x "$ESBUILD" ] || [ "$("$ESBUILD" --version)" != "$ESBUILD_VERSION" ]; then
  log "installing esbuild@$ESBUILD_VERSION (npm) into $TOOLS"
  mkdir -p "$TOOLS"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS" "esbuild@$ESBUILD_VERSION" >/dev/null
fi

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

  # The glue's default location (`new URL('chatkitty_wasm_bg.wasm', import.meta.url)`)
  # goes: index.js passes that URL itself, and the inline, Node and CommonJS entries
  # must hold no `import.meta` (esbuild warns about it in CommonJS and IIFE output).
  GLUE=$OUT/chatkitty_wasm.js
  sed -i "s|module_or_path = new URL('chatkitty_wasm_bg.wasm', import.meta.url);|throw new TypeError('no WebAssembly module given');|" "$GLUE"
  if grep -q "import.meta" "$GLUE"; then
    echo "build-pkg: the wasm-bindgen glue still mentions import.meta (new wasm-bindgen version?)" >&2
    exit 1
  fi
  # The glue is generated, nobody's source: shipped minified (6.1 KB -> 3.9 KB gzip).
  log "esbuild --minify the glue"
  "$ESBUILD" "$GLUE" --minify --format=esm --target=es2021 --log-level=warning --outfile="$GLUE.min"
  mv "$GLUE.min" "$GLUE"
  touch "$STAMP"
else
  log "wasm unchanged: wasm-bindgen and wasm-opt skipped"
fi

log "copying pkg-template/ and LICENSE"
cp pkg-template/*.js pkg-template/index.d.ts pkg-template/inline.d.ts pkg-template/package.json pkg-template/README.md \
  pkg-template/CHANGELOG.md "$OUT/"
cp LICENSE "$OUT/"
# The package's own JavaScript ships minified like the glue (its readable source is
# pkg-template/, with the comments that cite the docs): about 2 KB gzip of the default
# entry. Identifiers, exports and `new URL(…, import.meta.url)` stay as they are, so
# bundlers still find the .wasm and the workers.
log "esbuild --minify the package's JavaScript"
for f in pkg-template/*.js; do
  "$ESBUILD" "$f" --minify --target=es2021 --log-level=warning --outfile="$OUT/$(basename "$f")" --allow-overwrite
done
# CommonJS callers get the same declarations under the .d.cts name TypeScript expects.
cp pkg-template/index.d.ts "$OUT/index.d.cts"
sed "s#'./index.js'#'./index.cjs'#; s#^// chatkitty-wasm/inline:#// chatkitty-wasm/inline (CommonJS):#" pkg-template/inline.d.ts >"$OUT/inline.d.cts"
# Files wasm-bindgen writes that the package does not ship.
rm -f "$OUT/.gitignore" "$OUT/chatkitty_wasm.d.ts" "$OUT/chatkitty_wasm_bg.wasm.d.ts"

log "chatkitty-wasm/inline: the module in base64"
{ printf 'export default "'; base64 -w0 "$OUT/chatkitty_wasm_bg.wasm"; printf '";\n'; } \
  >"$OUT/chatkitty_wasm_bg.wasm.base64.js"

log "CommonJS entries (esbuild)"
# node.cjs reads the .wasm beside itself: import.meta.url becomes its file URL. `ws`
# stays a require() (an optional peer dependency, loaded only on Node 20).
# The opt-in modules stay separate ES modules, loaded by import() when enabled: bundled
# in, their lazy wrappers made TypeScript read node.cjs as `module.exports =` (a false
# default export for arethetypeswrong, in the consumer matrix).
LAZY="--external:./offline.js --external:./shared.js"
"$ESBUILD" "$OUT/node.js" --bundle --format=cjs --platform=node --target=node20 $LAZY \
  --external:ws --define:import.meta.url=__chatkitty_wasm_url --log-level=warning \
  --banner:js="const __chatkitty_wasm_url = require('node:url').pathToFileURL(__filename).href;" \
  --outfile="$OUT/node.cjs"
"$ESBUILD" "$OUT/inline.js" --bundle --format=cjs --platform=neutral --target=es2021 $LAZY \
  --log-level=warning --outfile="$OUT/inline.cjs"

size() { wc -c <"$1" | tr -d ' '; }
gz() { gzip -9 -c "$@" | wc -c | tr -d ' '; }
# What a page downloads through each entry (each file gzipped on its own, as served).
DEFAULT_JS="chatkitty_wasm.js loader.js client.js surface.js index.js"
INLINE_JS="chatkitty_wasm.js loader.js client.js surface.js inline.js chatkitty_wasm_bg.wasm.base64.js"
sum() { local t=0 f; for f in $2; do t=$((t + $($1 "$OUT/$f"))); done; echo $t; }
wasm_raw=$(size "$OUT/chatkitty_wasm_bg.wasm")
wasm_gz=$(gz "$OUT/chatkitty_wasm_bg.wasm")
js_raw=$(sum size "$DEFAULT_JS")
js_gz=$(sum gz "$DEFAULT_JS")
inline_raw=$(sum size "$INLINE_JS")
inline_gz=$(sum gz "$INLINE_JS")
printf '\n%-34s %9s %9s\n' "pkg/" "raw" "gzip -9"
printf '%-34s %9s %9s\n' "chatkitty_wasm_bg.wasm" "$wasm_raw" "$wasm_gz"
printf '%-34s %9s %9s\n' "JS (glue, loader, client, surface)" "$js_raw" "$js_gz"
printf '%-34s %9s %9s\n' "default entry (index.js): total" "$((wasm_raw + js_raw))" "$((wasm_gz + js_gz))"
printf '%-34s %9s %9s\n' "inline entry (base64): total" "$inline_raw" "$inline_gz"
# `new ChatKitty({ offline: true })` loads offline.js too (docs/api.md §17).
printf '%-34s %9s %9s\n' "offline: true adds offline.js" "$(size "$OUT/offline.js")" "$(gz "$OUT/offline.js")"
printf '%-34s %9s %9s\n' "shareConnection: tab adds" "$(sum size "shared.js wire.js")" "$(sum gz "shared.js wire.js")"
# The worker loads the hub, the glue and the module; without SharedWorker the elected tab
# loads hub.js beside what it already has (docs/api.md §18.1).
printf '%-34s %9s %9s\n' "shareConnection: worker scripts" "$(sum size "shared-worker.js hub.js")" "$(sum gz "shared-worker.js hub.js")"
printf '%-34s %9s %9s\n' "shareConnection: elected tab adds" "$(size "$OUT/hub.js")" "$(gz "$OUT/hub.js")"
printf '%-34s %9s %9s\n' "default entry, offline: true" "$((wasm_raw + js_raw + $(size "$OUT/offline.js")))" "$((wasm_gz + js_gz + $(gz "$OUT/offline.js")))"
