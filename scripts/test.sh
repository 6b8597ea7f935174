#!/usr/bin/env bash
# The project's test command (README "Tests"; CI runs exactly this through .ci/run).
#
#   bash scripts/test.sh
#
# Needs PostgreSQL on 127.0.0.1:5432 (trust auth, user postgres) and RabbitMQ on
# 127.0.0.1:5672 (guest/guest); .ci/run starts them when they are down. The Elasticsearch
# specs run against osmem-server, which this script installs, starts and stops itself.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/env.sh
source scripts/lib/osmem.sh

step() { printf '\n==> %s\n' "$*"; }

step "checked SQL: .sqlx/ matches the queries, described against freshly migrated PostgreSQL"
bash scripts/sqlx-prepare.sh --check

step "build (workspace, all targets)"
cargo build --locked --workspace --all-targets

step "test tools (aiosmtpd as the tests' SMTP server, openapi-spec-validator, standardwebhooks to verify webhook deliveries)"
ensure_venv .venv/tools aiosmtpd openapi-spec-validator standardwebhooks==1.3.0

step "osmem-server (the Elasticsearch specs' server: an emulator of the OpenSearch API, in memory)"
trap stop_osmem EXIT
start_osmem

step "Rust tests (unit + HTTP specifications against real Postgres/RabbitMQ, search on PostgreSQL and osmem)"
cargo nextest run --locked --workspace --no-fail-fast

step "RabbitMQ restart during a stream of orders (stops the shared broker, so it runs alone)"
# Selected by a filter over the whole workspace rather than with `-p toko-workers`: a
# single-package build resolves dependency features differently and rebuilds what the steps
# before built.
cargo nextest run --locked --workspace --run-ignored only -E 'package(toko-workers) & binary(pipeline)'

step "OpenAPI document is valid OpenAPI 3"
bash scripts/check-openapi.sh

step "API contract: generated SDK flow, schemathesis fuzz, tokoctl audit (README \"Generated SDKs\", \"Fuzzing\")"
bash scripts/contract-tests.sh

step "deployment files (Helm chart, k8s manifests, docker-compose)"
bash scripts/check-deploy.sh

echo
echo "all checks passed"
