#!/usr/bin/env bash
# Brings up the whole of toko on this machine with one command: the API, the outbox relay,
# every worker, the Midtrans simulator and a local SMTP server, against the local PostgreSQL,
# RabbitMQ (and Redis when it answers). Ctrl-C stops everything.
#
#   bash scripts/quickstart.sh
#
# Needs PostgreSQL on 127.0.0.1:5432 (user postgres) and RabbitMQ on 127.0.0.1:5672
# (guest/guest). Settings come from the environment or .env (see .env.example); set SMTP_URL
# to use your own mail server instead of the local catcher. TOKO_SEED_PRODUCTS (default 200)
# demo products are generated on the first run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/env.sh
if [[ -f .env ]]; then set -a; source .env; set +a; fi

export APP_ENV="${APP_ENV:-development}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/toko}"
export JWT_SECRET="${JWT_SECRET:-quickstart-secret-$(hostname)-not-for-production}"
export HOST="${HOST:-127.0.0.1}" PORT="${PORT:-3000}"
export RABBITMQ_URL="${RABBITMQ_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}"
export TOKO_ADMIN_PASSWORD="${TOKO_ADMIN_PASSWORD:-admin password 123}"
export MIDTRANS_SERVER_KEY="${MIDTRANS_SERVER_KEY:-SB-Mid-server-quickstart}"
export MIDTRANS_SNAP_URL="${MIDTRANS_SNAP_URL:-http://127.0.0.1:3900/snap/v1}"
export MIDTRANS_API_URL="${MIDTRANS_API_URL:-http://127.0.0.1:3900}"
export SHOP_URL="${SHOP_URL:-http://$HOST:$PORT}"
if [[ -z "${REDIS_URL:-}" ]] && redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
    export REDIS_URL=redis://127.0.0.1:6379
fi
MAILDIR=.tmp/mail
PROFILE="${TOKO_PROFILE:-dev}"
BIN="${CARGO_TARGET_DIR:-target}/$([[ $PROFILE == dev ]] && echo debug || echo "$PROFILE")"

echo "==> building ($PROFILE profile)"
cargo build --locked --profile "$PROFILE" --bins

echo "==> migrating $DATABASE_URL"
"$BIN/tokoctl" migrate
echo "==> declaring the RabbitMQ topology (queues, retry queues, DLQs, bindings)"
"$BIN/tokoctl" messaging setup >/dev/null
"$BIN/tokoctl" create-admin --email admin@toko.local >/dev/null
products=$(psql "$DATABASE_URL" -Atc "select count(*) from products" 2>/dev/null || echo 0)
if [[ "$products" == "0" ]]; then
    echo "==> seeding ${TOKO_SEED_PRODUCTS:-200} demo products"
    "$BIN/tokoctl" catalog seed --products "${TOKO_SEED_PRODUCTS:-200}"
fi

pids=()
cleanup() { trap - EXIT INT TERM; kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
start() { # name, command...
    local name="$1"; shift
    "$@" > ".tmp/logs/$name.log" 2>&1 &
    pids+=($!)
}
mkdir -p .tmp/logs

if [[ -z "${SMTP_URL:-}" ]]; then
    ensure_venv .venv/tools aiosmtpd
    mkdir -p "$MAILDIR"
    start smtp .venv/tools/bin/python testkit/smtp_catcher.py 1025 "$MAILDIR"
    export SMTP_URL=smtp://127.0.0.1:1025
    MAIL_NOTE="emails are saved as .eml files in $MAILDIR"
else
    MAIL_NOTE="emails go to $SMTP_URL"
fi

start midtrans-sim env HOST=127.0.0.1 PORT=3900 \
    SIM_NOTIFICATION_URL="http://$HOST:$PORT/api/v1/payments/midtrans/notification" "$BIN/midtrans-sim"
start toko-api "$BIN/toko-api"
port=9101
workers=(outbox-relay notifier inventory-reconciler payment-poller)
[[ -x "$BIN/search-indexer" ]] && workers+=(search-indexer)
for worker in "${workers[@]}"; do
    start "$worker" env METRICS_PORT=$port "$BIN/$worker"
    port=$((port + 1))
done

for _ in $(seq 1 100); do
    curl -fsS "http://$HOST:$PORT/health/ready" >/dev/null 2>&1 && break
    sleep 0.2
done
cat <<INFO

toko is running:
  API            http://$HOST:$PORT/api/v1
  Swagger UI     http://$HOST:$PORT/api/docs
  OpenAPI        http://$HOST:$PORT/api/openapi.json
  Health         http://$HOST:$PORT/health/ready     Metrics  http://$HOST:$PORT/metrics
  Workers        ${workers[*]} (health and metrics on ports 9101-$((port - 1)))
  Midtrans sim   http://127.0.0.1:3900 (pay at the redirect_url a checkout returns)
  Admin          admin@toko.local / $TOKO_ADMIN_PASSWORD
  Mail           $MAIL_NOTE
  Logs           .tmp/logs/*.log
Press Ctrl-C to stop everything.
INFO
wait -n "${pids[@]}" || true
echo "a process exited; stopping everything (see .tmp/logs)" >&2
