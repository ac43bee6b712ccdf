#!/usr/bin/env bash
# The main job: build what the demo needs, start the dev KMS with a seeded key, serve the demo
# page (www/ + pkg/web) on 127.0.0.1, print the URL, and stay in the foreground until Ctrl-C.
#
# Usage: bash scripts/demo.sh [--check | --build-only]
#   --check       start everything, check the page, package, config and KMS answer, then stop (exit 0/1)
#   --build-only  build what the demo needs (pkg/web, the dev KMS) and exit
# Environment:
#   KMS_PORT=4599  WEB_PORT=8080   ports on 127.0.0.1 (0 = any free port)
#   DEMO_DATA_DIR=.kms-dev-data    the dev KMS's keys and audit log (kept between runs)
#   DEMO_SEED_ALIAS=demo           the key created on first start (alias/demo)
#   DEMO_SKIP_BUILD=1              use the binaries and package as they are (the e2e test sets it
#                                  after building them itself)
set -euo pipefail
T0=$(date +%s%N)
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=setup.sh
source scripts/setup.sh

CHECK=0; BUILD_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --check) CHECK=1 ;;
    --build-only) BUILD_ONLY=1 ;;
    -h|--help) sed -n "2,13p" "$0" | sed "s/^# \{0,1\}//"; exit 0 ;;
    *) echo "demo.sh: unknown argument $arg (try --help)" >&2; exit 2 ;;
  esac
done
KMS_PORT="${KMS_PORT:-4599}"
WEB_PORT="${WEB_PORT:-8080}"
DATA_DIR="${DEMO_DATA_DIR:-$ROOT/.kms-dev-data}"
SEED_ALIAS="${DEMO_SEED_ALIAS:-demo}"
PKG="$ROOT/pkg/web"
DEVKMS="$ROOT/target/release/kms-dev-server"

elapsed() { echo "$(( ($(date +%s%N) - T0) / 1000000 ))" | awk '{printf "%.1f", $1/1000}'; }
die() { printf '\033[1;31mdemo: %s\033[0m\n' "$*" >&2; exit 1; }

port_busy() { # port_busy PORT: something already accepts connections on 127.0.0.1:PORT
  [ "$1" != 0 ] && (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
if [ "$BUILD_ONLY" = 0 ]; then
  for p in "KMS_PORT:$KMS_PORT" "WEB_PORT:$WEB_PORT"; do
    port_busy "${p#*:}" && die "port ${p#*:} on 127.0.0.1 is in use. Stop what runs there, or pick another: ${p%%:*}=<port> bash scripts/demo.sh (0 = any free port)"
  done
fi

# 1. Build (idempotent: each step is quick when nothing changed).
if [ "${DEMO_SKIP_BUILD:-0}" != 1 ]; then
  stale_pkg() {
    [ -f "$PKG/kms_envelope_bg.wasm" ] && [ -f "$PKG/kms_envelope.js" ] || return 0
    [ -n "$(find src Cargo.toml Cargo.lock scripts/build-pkg.sh -newer "$PKG/kms_envelope_bg.wasm" -print -quit)" ]
  }
  if stale_pkg; then
    log "building the web package (pkg/web): first run takes a few minutes"
    bash scripts/build-pkg.sh web
  fi
  ensure_rust
  log "building the dev KMS (cargo build --release --bin kms-dev-server)"
  cargo build --quiet --release --bin kms-dev-server
fi
[ "$BUILD_ONLY" = 1 ] && { log "demo build ready ($(elapsed) s)"; exit 0; }
[ -x "$DEVKMS" ] || die "$DEVKMS is missing (run without DEMO_SKIP_BUILD)"
[ -f "$PKG/kms_envelope_bg.wasm" ] || die "$PKG is missing (run without DEMO_SKIP_BUILD)"
command -v python3 >/dev/null || die "python3 is needed for the static server"

# 2. Start the servers; stop both on exit.
RUN="$(mktemp -d "${TMPDIR:-/tmp}/kms-envelope-demo.XXXXXX")"
KMS_PID=""; WEB_PID=""
cleanup() {
  trap - EXIT INT TERM
  for pid in $WEB_PID $KMS_PID; do kill "$pid" 2>/dev/null || true; done
  for pid in $WEB_PID $KMS_PID; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$RUN"
}
trap cleanup EXIT
trap 'echo; log "stopping"; exit 0' INT TERM

wait_ready() { # wait_ready NAME PID LOGFILE PATTERN: the first line matching PATTERN
  local name="$1" pid="$2" file="$3" pat="$4" i line
  for ((i = 0; i < 300; i++)); do
    line="$(grep -m1 -o "$pat" "$file" 2>/dev/null || true)"
    [ -n "$line" ] && { echo "$line"; return 0; }
    kill -0 "$pid" 2>/dev/null || { cat "$RUN"/*.err >&2; die "$name exited before it was ready"; }
    sleep 0.1
  done
  cat "$RUN"/*.err >&2; die "$name not ready after 30 s"
}

mkdir -p "$DATA_DIR"
[ -f "$DATA_DIR/.gitignore" ] || echo '*' > "$DATA_DIR/.gitignore" # never committed by accident
"$DEVKMS" --listen "127.0.0.1:$KMS_PORT" --data-dir "$DATA_DIR" --seed-key "$SEED_ALIAS" \
  > "$RUN/kms.out" 2> "$RUN/kms.err" &
KMS_PID=$!
KMS_URL="$(wait_ready "kms-dev-server" "$KMS_PID" "$RUN/kms.out" 'http://127\.0\.0\.1:[0-9]*')"

python3 "$ROOT/www/serve.py" --listen "127.0.0.1:$WEB_PORT" --pkg "$PKG" --kms-url "$KMS_URL" \
  --seed-alias "$SEED_ALIAS" > "$RUN/web.out" 2> "$RUN/web.err" &
WEB_PID=$!
WEB_URL="$(wait_ready "web server" "$WEB_PID" "$RUN/web.out" 'http://127\.0\.0\.1:[0-9]*')"

seeded="$(grep -o 'alias/[^ ]* -> arn:[^ ]*' "$RUN/kms.err" || true)"
echo
printf '\033[1m  kms-envelope demo is ready in %s s\033[0m\n\n' "$(elapsed)"
printf '  Open   \033[1;4m%s/\033[0m\n' "$WEB_URL"
printf '  KMS    %s  (dev KMS, data in %s)\n' "$KMS_URL" "${DATA_DIR#"$ROOT"/}"
[ -n "$seeded" ] && printf '  Key    %s\n' "$seeded"
echo
echo "demo ready: web=$WEB_URL kms=$KMS_URL kms_pid=$KMS_PID seconds=$(elapsed)"

if [ "$CHECK" = 1 ]; then
  ok=1
  for path in / /config.json /js/app.js /js/worker.js /pkg/kms_envelope.js /pkg/kms_envelope_bg.wasm; do
    ct="$(curl -fsS -o /dev/null -w '%{content_type}' "$WEB_URL$path")" || { echo "check: GET $path failed"; ok=0; continue; }
    echo "check: GET $path -> $ct"
  done
  [ "$(curl -fsS -o /dev/null -w '%{content_type}' "$WEB_URL/pkg/kms_envelope_bg.wasm")" = application/wasm ] || { echo "check: wasm MIME"; ok=0; }
  curl -fsS -X POST "$KMS_URL/" -H "Origin: $WEB_URL" -H 'X-Amz-Target: TrentService.DescribeKey' \
    -H 'Content-Type: application/x-amz-json-1.1' -d "{\"KeyId\":\"alias/$SEED_ALIAS\"}" | grep -q '"KeyState"' \
    && echo "check: KMS DescribeKey alias/$SEED_ALIAS ok" || { echo "check: KMS DescribeKey failed"; ok=0; }
  [ "$ok" = 1 ] && { echo "demo check: ok"; exit 0; } || { echo "demo check: FAILED"; exit 1; }
fi

echo "  Press Ctrl-C to stop both servers."
# Stay in the foreground; if either server dies, say so and stop the other.
while kill -0 "$KMS_PID" 2>/dev/null && kill -0 "$WEB_PID" 2>/dev/null; do sleep 1; done
kill -0 "$KMS_PID" 2>/dev/null || { cat "$RUN/kms.err" >&2; die "the dev KMS stopped"; }
cat "$RUN/web.err" >&2; die "the web server stopped"
