#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine, as root: system packages, services,
# npm dependencies, then typecheck, lint, unit, integration and lab tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# Guard: the host's /etc/resolv.conf must be exactly as found when the suite ends. Lab tests give
# each namespace its own resolv.conf, and the helper refuses to touch the host's from inside a
# namespace; one run on a gVisor machine still left the host's file empty (cause not yet found).
# So it is saved here and put back, loudly, should anything have changed it.
resolv_backup="$(mktemp)"
cp -p /etc/resolv.conf "$resolv_backup" 2>/dev/null || true
restore_resolv() {
  if [ -s "$resolv_backup" ] && ! cmp -s "$resolv_backup" /etc/resolv.conf; then
    echo "test-all: /etc/resolv.conf was changed during the run; restoring the original" >&2
    cp -p "$resolv_backup" /etc/resolv.conf
  fi
  rm -f "$resolv_backup"
}
trap restore_resolv EXIT

bash scripts/setup-system.sh
TRELLIS_TEST_PG_URL="$(bash scripts/start-postgres.sh | tail -1)"
export TRELLIS_TEST_PG_URL
export ELECTRON_SKIP_BINARY_DOWNLOAD=1
npm ci --no-audit --no-fund
npm test
