#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine, as root: system packages, services,
# npm dependencies, then typecheck, lint, unit, integration and lab tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh
TRELLIS_TEST_PG_URL="$(bash scripts/start-postgres.sh | tail -1)"
export TRELLIS_TEST_PG_URL
export ELECTRON_SKIP_BINARY_DOWNLOAD=1
npm ci --no-audit --no-fund
npm test
