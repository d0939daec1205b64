#!/usr/bin/env bash
# Type-checks tests/types/app.ts (the seed snippet and a sample of every kind of call)
# against the package's hand-written pkg/index.d.ts with `tsc --noEmit` (strict).
# Needs pkg/ built first (scripts/build-pkg.sh).
set -euo pipefail
cd "$(dirname "$0")/../tests/types"
[ -f ../../pkg/index.d.ts ] || { echo "pkg/ not built: run scripts/build-pkg.sh" >&2; exit 1; }
npm install --no-audit --no-fund --loglevel=error
npx tsc -p .
echo "tsc --noEmit: pkg/index.d.ts checks tests/types/app.ts"
