#!/usr/bin/env bash
# The main job. For now: a CLI round trip (encrypt → inspect → decrypt) with a fresh raw AES key.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cargo build --quiet --release --bin kms-envelope
cli="$ROOT/target/release/kms-envelope"
head -c 32 /dev/urandom > "$work/key"
head -c 1000000 /dev/urandom > "$work/plain.bin"
"$cli" encrypt --in "$work/plain.bin" --out "$work/plain.bin.encrypted" \
  --context purpose=demo --raw-aes demo:demo-key:"$work/key"
"$cli" inspect --in "$work/plain.bin.encrypted"
"$cli" decrypt --in "$work/plain.bin.encrypted" --out "$work/roundtrip.bin" \
  --require-context purpose=demo --raw-aes demo:demo-key:"$work/key"
cmp "$work/plain.bin" "$work/roundtrip.bin"
echo "round trip ok: 1000000 bytes → $(stat -c %s "$work/plain.bin.encrypted") bytes encrypted → identical plaintext"
