#!/usr/bin/env bash
# Static checks of the hardening issue: no unsafe code, no unwrap/expect in library code, no
# printing from the library, the dependency tree's licenses/sources/bans (cargo-deny, offline),
# security advisories when a RustSec database is available, and a wasm bundle free of
# native-only crates.
# Usage: scripts/static-checks.sh    (exit status non-zero if any check failed)
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

passed=0; failed=0; skipped=0; failures=()
ok()   { printf '  ok       %s\n' "$1"; passed=$((passed + 1)); }
bad()  { printf '  FAILED   %s\n' "$1"; failed=$((failed + 1)); failures+=("$1"); }
skip() { printf '  SKIPPED  %s\n' "$1"; skipped=$((skipped + 1)); }
log()  { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# --- 1. unsafe code is forbidden, in the source and in the manifests -----------------------
log "unsafe code and lint settings"
grep -qx '#!\[forbid(unsafe_code)\]' src/lib.rs \
  && ok "src/lib.rs has #![forbid(unsafe_code)]" || bad "src/lib.rs lacks #![forbid(unsafe_code)]"
for manifest in Cargo.toml crates/kms-dev-server/Cargo.toml; do
  out=$(python3 - "$manifest" <<'EOF'
import sys, tomllib
lints = tomllib.load(open(sys.argv[1], "rb")).get("lints", {})
level = lambda table, name: (lambda v: v.get("level") if isinstance(v, dict) else v)(lints.get(table, {}).get(name))
problems = []
if level("rust", "unsafe_code") != "forbid":
    problems.append('[lints.rust] unsafe_code is not "forbid"')
for lint in ("unwrap_used", "expect_used"):
    if level("clippy", lint) not in ("deny", "forbid"):
        problems.append(f'[lints.clippy] {lint} is not "deny"')
print("; ".join(problems))
EOF
)
  [ -z "$out" ] && ok "$manifest: unsafe_code = forbid, clippy unwrap_used/expect_used = deny" \
    || bad "$manifest: $out"
done
# Every #[allow(clippy::unwrap_used/expect_used)] in library code must sit on a test module.
offenders=$(awk '
  /#\[allow\(clippy::(unwrap_used|expect_used)/ { if (prev !~ /#\[cfg\(test\)\]/) print FILENAME ":" FNR ": " $0 }
  { prev = $0 }' $(find src -name '*.rs' -not -path 'src/bin/*'))
[ -z "$offenders" ] && ok "unwrap/expect allowed only in #[cfg(test)] modules of src/" \
  || { bad "unwrap/expect allowed outside tests:"; echo "$offenders"; }

# --- 2. the library prints nothing (keys must never reach a log) ---------------------------
log "no printing from library code"
# Non-test code only: each file up to its first #[cfg(test)]. The CLI (src/bin) prints by design.
prints=$(for f in $(find src -name '*.rs' -not -path 'src/bin/*'); do
  awk -v f="$f" '/^#\[cfg\(test\)\]/ { exit } /(^|[^_a-z])(println|eprintln|print|eprint|dbg)!\(|console::(log|warn|error|info|debug)/ { print f ":" FNR ": " $0 }' "$f"
done)
[ -z "$prints" ] && ok "no print!/eprint!/dbg!/console logging in src/ (outside the CLI and tests)" \
  || { bad "library code prints:"; echo "$prints"; }

# --- 3. the wasm bundle stays lean ---------------------------------------------------------
log "wasm32 dependency tree"
NATIVE_ONLY="ureq rustls ring webpki-roots tokio mio hyper socket2 lexopt pollster"
if tree=$(cargo tree -q -p kms-envelope --target wasm32-unknown-unknown -e normal --prefix none 2>&1); then
  found=""
  for c in $NATIVE_ONLY; do
    echo "$tree" | awk '{print $1}' | grep -qx "$c" && found="$found $c"
  done
  n=$(echo "$tree" | awk '{print $1}' | sort -u | wc -l)
  [ -z "$found" ] && ok "wasm32 normal dependencies ($n crates) contain none of: $NATIVE_ONLY" \
    || bad "wasm32 dependency tree contains native-only crates:$found"
else
  bad "cargo tree for wasm32 failed: $tree"
fi

# --- 4. cargo-deny: bans, licenses, sources (offline) and advisories (if a database exists) --
log "cargo-deny"
if ! command -v cargo-deny >/dev/null 2>&1; then
  log "installing cargo-deny from crates.io (several minutes, once)"
  cargo install -q --locked cargo-deny || cargo install -q cargo-deny || true
fi
if command -v cargo-deny >/dev/null 2>&1; then
  if cargo deny --offline check bans licenses sources > /tmp/kms-envelope-deny.$$ 2>&1; then
    ok "cargo deny check bans licenses sources ($(grep -c '^warning\[duplicate\]' /tmp/kms-envelope-deny.$$) duplicate-version warnings)"
  else
    bad "cargo deny check bans licenses sources"
    grep -E '^(error|warning)' -A8 /tmp/kms-envelope-deny.$$ | head -60
  fi
  # Advisories need the RustSec database, which cargo-deny clones from GitHub. This machine
  # (and CI) reach only package registries, so it is checked only against a database already
  # on disk (cargo-deny's default location), never fetched; otherwise it is reported SKIPPED.
  DB_DIR="${CARGO_HOME:-$HOME/.cargo}/advisory-dbs"
  if [ -d "$DB_DIR" ] && [ -n "$(ls -A "$DB_DIR" 2>/dev/null)" ]; then
    if cargo deny --offline check --disable-fetch advisories > /tmp/kms-envelope-deny.$$ 2>&1; then
      ok "cargo deny check advisories (local database in $DB_DIR, not refreshed)"
    else
      bad "cargo deny check advisories"
      grep -E '^(error|warning)' -A8 /tmp/kms-envelope-deny.$$ | head -60
    fi
  else
    skip "cargo deny check advisories: the RustSec advisory database is fetched from GitHub, which this machine cannot reach (no local copy in $DB_DIR); run 'cargo deny check advisories' where GitHub is reachable"
  fi
  rm -f /tmp/kms-envelope-deny.$$
else
  bad "cargo-deny could not be installed"
fi

echo
if [ "$failed" -gt 0 ]; then echo "failed checks: ${failures[*]}"; fi
echo "static-checks: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
