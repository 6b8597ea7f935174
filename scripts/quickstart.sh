#!/usr/bin/env bash
# Brings up toko on this machine: builds the binaries, creates and migrates the database,
# creates an admin, and runs the API in the foreground (Ctrl-C stops everything).
#
#   bash scripts/quickstart.sh
#
# Uses local PostgreSQL (127.0.0.1:5432, user postgres). Settings come from .env when present
# (see .env.example), else from the defaults below.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/env.sh

export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/toko}"
export JWT_SECRET="${JWT_SECRET:-quickstart-secret-$(hostname)-not-for-production}"
export HOST="${HOST:-127.0.0.1}" PORT="${PORT:-3000}"
export TOKO_ADMIN_PASSWORD="${TOKO_ADMIN_PASSWORD:-admin password 123}"
PROFILE="${TOKO_PROFILE:-dev}"
BIN="target/$([[ $PROFILE == dev ]] && echo debug || echo "$PROFILE")"

echo "==> building ($PROFILE profile)"
cargo build --locked --profile "$PROFILE" --bins

echo "==> migrating $DATABASE_URL"
"$BIN/tokoctl" migrate

echo "==> admin: admin@toko.local / \$TOKO_ADMIN_PASSWORD"
"$BIN/tokoctl" create-admin --email admin@toko.local >/dev/null

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$BIN/toko-api" & pids+=($!)

for _ in $(seq 1 50); do
    curl -fsS "http://$HOST:$PORT/health/ready" >/dev/null 2>&1 && break
    sleep 0.2
done
cat <<INFO

toko is running:
  API          http://$HOST:$PORT/api/v1
  Swagger UI   http://$HOST:$PORT/api/docs
  OpenAPI      http://$HOST:$PORT/api/openapi.json
  Health       http://$HOST:$PORT/health/ready
  Metrics      http://$HOST:$PORT/metrics
Press Ctrl-C to stop.
INFO
wait "${pids[0]}"
