#!/usr/bin/env bash
# Build the npm package with wasm-pack for each target, then shrink the wasm with npm's binaryen
# (Debian's binaryen 108 breaks wasm-bindgen 0.2.130 output).
# Usage: scripts/build-pkg.sh [web|bundler|nodejs]...   (default: all three)
# Output: pkg/web, pkg/bundler, pkg/nodejs — each a complete `kms-envelope` npm package.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=setup.sh
source scripts/setup.sh
ensure_rust
ensure_wasm_bindgen
ensure_wasm_pack
ensure_binaryen
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(web bundler nodejs)
for t in "${targets[@]}"; do
  log "wasm-pack build --target $t"
  wasm-pack build --quiet --release --target "$t" --out-dir "pkg/$t" --out-name kms_envelope >/dev/null
  wasm="pkg/$t/kms_envelope_bg.wasm"
  before=$(stat -c %s "$wasm")
  "$BINARYEN_WASM_OPT" -O3 --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "$wasm" -o "$wasm.opt" && mv "$wasm.opt" "$wasm"
  rm -f "pkg/$t/.gitignore"
  log "pkg/$t: wasm $before → $(stat -c %s "$wasm") bytes"
done
