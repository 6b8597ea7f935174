#!/usr/bin/env bash
# Benchmarks toko (issue 10): builds the release binaries, prepares a dedicated bench database
# (migrated, seeded once with 100,000 products and reused afterwards), then runs toko-bench,
# which starts toko-api, outbox-relay and notifier itself, runs W1-W8 with pgbench as the
# yardstick in the same run, prints the table and stops everything.
#
#   bash scripts/bench.sh                      # full run: 20 s per workload, 64 connections
#   bash scripts/bench.sh --duration 2s        # smoke run
#   bash scripts/bench.sh --workloads w2,w3    # a few workloads (flags go to toko-bench)
#
# Needs PostgreSQL on 127.0.0.1:5432 (user postgres, pgbench installed) and RabbitMQ on
# 127.0.0.1:5672 (guest/guest). Not part of the test command.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/env.sh

BENCH_DATABASE_URL="${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/toko_bench}"
BENCH_PRODUCTS="${BENCH_PRODUCTS:-100000}"
RELEASE_BIN="${CARGO_TARGET_DIR:-target}/release"

echo "==> building release binaries"
cargo build --locked --release -p toko-api -p tokoctl -p toko-workers -p toko-bench

echo "==> preparing $BENCH_DATABASE_URL"
admin_url="${BENCH_DATABASE_URL%/*}/postgres"
database="${BENCH_DATABASE_URL##*/}"
if [[ "$(psql "$admin_url" -Atc "select 1 from pg_database where datname = '$database'")" != 1 ]]; then
    psql "$admin_url" -qc "create database \"$database\""
fi
DATABASE_URL="$BENCH_DATABASE_URL" "$RELEASE_BIN"/tokoctl migrate
products=$(psql "$BENCH_DATABASE_URL" -Atc "select count(*) from products")
if ((products < BENCH_PRODUCTS)); then
    echo "==> seeding $BENCH_PRODUCTS products (once; later runs reuse them)"
    DATABASE_URL="$BENCH_DATABASE_URL" "$RELEASE_BIN"/tokoctl catalog seed --products "$BENCH_PRODUCTS"
    # Fresh statistics and visibility map, as a long-running database would have.
    psql "$BENCH_DATABASE_URL" -qc "vacuum analyze"
fi

echo "==> running toko-bench (service logs in .tmp/bench-logs/)"
exec "$RELEASE_BIN"/toko-bench --bin-dir "$RELEASE_BIN" --database-url "$BENCH_DATABASE_URL" "$@"
