#!/usr/bin/env bash
# Brings up the whole of toko on this machine with one command: the API, the outbox relay,
# every worker, the Midtrans simulator and a local SMTP server, against the local PostgreSQL,
# RabbitMQ (and Redis when it answers). Ctrl-C stops everything.
#
#   bash scripts/quickstart.sh
#
# Needs PostgreSQL on 127.0.0.1:5432 (user postgres) and RabbitMQ on 127.0.0.1:5672
# (guest/guest). Settings come from the environment or .env (see .env.example); without a
# .env, one is written with the database and broker URLs and the token key so that `tokoctl`
# works from another shell. Set SMTP_URL to use your own mail server instead of the local
# catcher. TOKO_SEED_PRODUCTS (default 200) demo products are generated on the first run.
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
# There is no storefront: after paying, the simulator sends the customer to the API's docs.
export MIDTRANS_FINISH_URL="${MIDTRANS_FINISH_URL:-$SHOP_URL/api/docs}"
if [[ -z "${REDIS_URL:-}" ]] && redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
    export REDIS_URL=redis://127.0.0.1:6379
fi
MAILDIR=.tmp/mail
PROFILE="${TOKO_PROFILE:-dev}"
BIN="${CARGO_TARGET_DIR:-target}/$([[ $PROFILE == dev ]] && echo debug || echo "$PROFILE")"

if [[ ! -f .env ]]; then
    cat > .env <<DOTENV
# Written by scripts/quickstart.sh so that tokoctl (and the binaries) find the quick start's
# database, broker and token key from this directory; see .env.example for every setting.
DATABASE_URL=$DATABASE_URL
RABBITMQ_URL=$RABBITMQ_URL
JWT_SECRET=$JWT_SECRET
DOTENV
    echo "==> wrote .env (DATABASE_URL, RABBITMQ_URL, JWT_SECRET) for tokoctl in other shells"
fi

echo "==> building ($PROFILE profile): the first build takes about 15 minutes on 2 cores, later ones seconds"
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
declare -A names=() # process name -> pid, to say which one exited
cleanup() { trap - EXIT INT TERM; kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT TERM
trap 'echo; echo "stopping on request (Ctrl-C)"; cleanup; exit 0' INT
start() { # name, command...
    local name="$1"; shift
    "$@" > ".tmp/logs/$name.log" 2>&1 &
    pids+=($!)
    names[$name]=$!
}
mkdir -p .tmp/logs

if [[ -z "${SMTP_URL:-}" ]]; then
    ensure_venv .venv/tools aiosmtpd
    mkdir -p "$MAILDIR"
    start smtp .venv/tools/bin/python testkit/smtp_catcher.py 1025 "$MAILDIR"
    export SMTP_URL=smtp://127.0.0.1:1025
    MAIL_NOTE="emails are saved as .eml files in $MAILDIR: read them with tokoctl mail list / show"
else
    MAIL_NOTE="emails go to $SMTP_URL"
fi

start midtrans-sim env HOST=127.0.0.1 PORT=3900 \
    SIM_NOTIFICATION_URL="http://$HOST:$PORT/api/v1/payments/midtrans/notification" "$BIN/midtrans-sim"
start toko-api "$BIN/toko-api"
port=9101
workers=(outbox-relay notifier inventory-reconciler payment-poller webhook-dispatcher)
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
  Health         http://$HOST:$PORT/health/ready     Metrics  http://$HOST:${METRICS_PORT:-9100}/metrics
  Workers        ${workers[*]} (health and metrics on ports 9101-$((port - 1)))
  Midtrans sim   http://127.0.0.1:3900 (pay at the redirect_url a checkout returns, or:
                 curl -X POST http://127.0.0.1:3900/_sim/transactions/ORDER_NUMBER/pay)
  Admin          admin@toko.local / $TOKO_ADMIN_PASSWORD
  Mail           $MAIL_NOTE
  Logs           .tmp/logs/*.log
  tokoctl        $BIN/tokoctl --help   (from this directory: it reads .env;
                 elsewhere: export DATABASE_URL=$DATABASE_URL)
Press Ctrl-C to stop everything.
INFO
exited=0
wait -n -p exited "${pids[@]}" || true
for name in "${!names[@]}"; do [[ "${names[$name]}" == "$exited" ]] && exited="$name"; done
echo "$exited exited on its own; stopping everything (see .tmp/logs/$exited.log)" >&2
exit 1
