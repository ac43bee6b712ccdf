#!/usr/bin/env bash
# Build the npm package with wasm-pack for each target, then shrink the wasm with npm's binaryen
# (Debian's binaryen 108 breaks wasm-bindgen 0.2.130 output).
# Usage: scripts/build-pkg.sh [web|bundler|nodejs]...   (default: all three)
# Output: pkg/web, pkg/bundler, pkg/nodejs — each a complete `kms-envelope` npm package
# (KMS_ENVELOPE_PKG_DIR=DIR writes DIR/web, … instead, e.g. for a side-by-side size comparison).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=setup.sh
source scripts/setup.sh
ensure_rust
ensure_wasm_bindgen
ensure_wasm_pack
ensure_binaryen
out="${KMS_ENVELOPE_PKG_DIR:-pkg}"
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(web bundler nodejs)
# The wasm build favours size: opt-level "z" for this build only (native builds keep
# [profile.release]; the crates Cargo.toml pins at 3 — AES-GCM, GHASH, SHA-2 — stay there);
# "s" was −54 KB gzip against 3, "z" another −9 KB with no measurable loss on the WebCrypto path
# or P-384 signing. And wasm SIMD: sha2's simd128 backend hashes the signed suite's SHA-384 ~2.2×
# faster. SIMD needs Chrome/Edge 91, Firefox 89, Safari 16.4, Node 16.4;
# KMS_ENVELOPE_WASM_SIMD=0 builds without it.
export CARGO_PROFILE_RELEASE_OPT_LEVEL="${CARGO_PROFILE_RELEASE_OPT_LEVEL:-z}"
simd=(); rustflags="${CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS:-}"
if [ "${KMS_ENVELOPE_WASM_SIMD:-1}" != 0 ]; then
  simd=(--enable-simd); rustflags="$rustflags -C target-feature=+simd128"
fi
# Panic locations name crate-relative paths, not this machine's (shorter, and reproducible).
for d in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/; do
  rustflags="$rustflags --remap-path-prefix=$d="
done
rustflags="$rustflags --remap-path-prefix=$ROOT/="
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$rustflags"
# Without the `p256` feature (legacy 0x0214 verification, −11 KB gzip); KMS_ENVELOPE_FEATURES
# adds features (e.g. p256).
features="wasm${KMS_ENVELOPE_FEATURES:+,$KMS_ENVELOPE_FEATURES}"
for t in "${targets[@]}"; do
  log "wasm-pack build --target $t"
  wasm-pack build --quiet --release --target "$t" --out-dir "$out/$t" --out-name kms_envelope \
    -- --no-default-features --features "$features" >/dev/null
  wasm="$out/$t/kms_envelope_bg.wasm"
  before=$(stat -c %s "$wasm")
  # -Os --converge: the smallest gzip of -O3/-Os/-Oz (with or without --converge) here.
  # -ocimfs=25: a function with one caller is inlined only when under 25 bytes (default: always),
  # so large ones stay apart instead of merging into a few huge ones: 6 KB more raw wasm but
  # −4.4 KB gzip (10…50 all save 3.5–4.4 KB); pkg-tests/bench.mjs A/B (6 runs each): same MB/s
  # on both backends and suites.
  # --low-memory-unused (−0.9 KB gzip) lets constant offsets fold into loads and stores, assuming
  # nothing lives in the first KiB: the data starts at 1 MiB and the shadow stack grows down from
  # there, so only a stack within 1 KiB of overflowing would reach it.
  # Browsers ignore the producers and target-features sections (−0.2 KB gzip).
  "$BINARYEN_WASM_OPT" -Os --converge -ocimfs=25 --low-memory-unused --strip-producers \
    --strip-target-features --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
    ${simd[@]+"${simd[@]}"} "$wasm" -o "$wasm.opt" && mv "$wasm.opt" "$wasm"
  # Short names for what only the glue uses: the imports and internal exports (−3.7 KB gzip).
  node scripts/short-names.mjs "$out/$t"
  # The JS glue minified (−2 KB gzip of the web glue without comments and whitespace, −0.8 KB
  # more with short local names): exported names, classes and their methods keep theirs, so the
  # API and stack traces' method names read as before; the .d.ts keeps the docs.
  # KMS_ENVELOPE_MINIFY_GLUE=0 ships it as wasm-bindgen wrote it.
  if [ "${KMS_ENVELOPE_MINIFY_GLUE:-1}" != 0 ]; then
    for js in "$out/$t"/kms_envelope*.js "$out/$t"/snippets/*/src/wasm/*.js; do
      [ -f "$js" ] || continue
      # esbuild drops comments, and the first line may be the glue's TypeScript directive.
      head=$(head -n 1 "$js" | grep -E '^/\* @ts-self-types=' || true)
      "$TOOLS_DIR/node_modules/.bin/esbuild" "$js" --minify --log-level=error \
        --legal-comments=none --outfile="$js.min"
      { [ -z "$head" ] || printf '%s\n' "$head"; cat "$js.min"; } > "$js" && rm "$js.min"
    done
  fi
  if [ "$t" = nodejs ]; then
    # The CommonJS glue require()s the ES-module snippet (src/wasm/hash_worker.js): Node loads
    # ES modules through require() from 20.19 / 22.12 on.
    node -e 'const f=process.argv[1],p=JSON.parse(require("fs").readFileSync(f));p.engines={node:"^20.19.0 || >=22.12.0"};require("fs").writeFileSync(f,JSON.stringify(p,null,2)+"\n")' "$out/$t/package.json"
  fi
  rm -f "$out/$t/.gitignore"
  log "$out/$t: wasm $before → $(stat -c %s "$wasm") bytes"
done
