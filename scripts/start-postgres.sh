#!/usr/bin/env bash
# Starts Debian's PostgreSQL cluster (no systemd needed) and makes sure the test role and database
# exist. Prints the connection URL for TRELLIS_TEST_PG_URL. Idempotent.
set -euo pipefail
ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | awk '{print $2}' | grep -qx main; then
  pg_createcluster "$ver" main >/dev/null
fi
pg_ctlcluster "$ver" main start 2>/dev/null || true
for _ in $(seq 1 50); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 0.2
done
pg_isready -q -h 127.0.0.1 -p 5432 || { echo "start-postgres: PostgreSQL did not come up" >&2; exit 1; }
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='trellis'\"" | grep -q 1 ||
  su postgres -c "psql -qc \"CREATE ROLE trellis LOGIN PASSWORD 'trellis' CREATEDB\""
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='trellis_test'\"" | grep -q 1 ||
  su postgres -c "psql -qc \"CREATE DATABASE trellis_test OWNER trellis\""
echo "postgres://trellis:trellis@127.0.0.1:5432/trellis_test"
