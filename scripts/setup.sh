#!/usr/bin/env bash
# Install what the tests and the demo need. Idempotent: every step checks before it installs.
# Source it (it defines functions) or run it with the names of the steps to run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WASM_BINDGEN_VERSION="0.2.130"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

ensure_rust() {
  rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
    || { log "adding rust target wasm32-unknown-unknown"; rustup target add wasm32-unknown-unknown; }
  for c in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$c" \
      || { log "adding rust component $c"; rustup component add "$c"; }
  done
}

ensure_venv() {
  local venv="$ROOT/.venv" req="$ROOT/tests/interop/requirements.txt" stamp
  stamp="$venv/.requirements.sha256"
  [ -x "$venv/bin/python" ] || { log "creating python venv"; python3 -m venv "$venv"; }
  if [ ! -f "$stamp" ] || ! sha256sum --status -c "$stamp" 2>/dev/null; then
    log "installing python test peers"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
    sha256sum "$req" > "$stamp"
  fi
}

ensure_apt() { # ensure_apt PACKAGE... : install Debian packages that are missing
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_chromium() { ensure_apt chromium chromium-driver; }

ensure_wasm_bindgen() {
  if ! command -v wasm-bindgen >/dev/null 2>&1 \
    || [ "$(wasm-bindgen --version | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
    log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
    cargo install -q wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
  fi
}

ensure_wasm_pack() {
  command -v wasm-pack >/dev/null 2>&1 || { log "installing wasm-pack"; cargo install -q wasm-pack; }
}

# npm's binaryen (a wasm build of wasm-opt that understands wasm-bindgen 0.2.130 output).
TOOLS_DIR="$ROOT/tools"
ensure_node_tools() {
  local stamp="$TOOLS_DIR/node_modules/.package-lock.json"
  if [ ! -f "$stamp" ] || [ "$TOOLS_DIR/package.json" -nt "$stamp" ]; then
    log "installing node tools (tools/package.json)"
    (cd "$TOOLS_DIR" && npm install --silent --no-audit --no-fund >/dev/null)
  fi
}
ensure_binaryen() {
  ensure_node_tools
  BINARYEN_WASM_OPT="$TOOLS_DIR/node_modules/.bin/wasm-opt"
  export BINARYEN_WASM_OPT
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  for step in "$@"; do "ensure_$step"; done
fi
