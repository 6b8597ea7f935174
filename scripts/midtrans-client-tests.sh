#!/usr/bin/env bash
# The official Midtrans Python client (`midtransclient` from PyPI) against midtrans-sim
# (scripts/contract/test_midtrans_client.py): keeps the simulator honest to the real API.
# Starts its own simulator unless TOKO_SIM_URL points at a running one (with
# MIDTRANS_SERVER_KEY set to its key).
#
#   bash scripts/midtrans-client-tests.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/env.sh

ensure_venv .venv/contract midtransclient==1.4.2 pytest==9.2.0
PY=.venv/contract/bin

pid=""
cleanup() {
    if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
}
trap cleanup EXIT INT TERM

if [[ -z "${TOKO_SIM_URL:-}" ]]; then
    cargo build --locked -p midtrans-sim
    port=$("$PY/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    export MIDTRANS_SERVER_KEY="SB-Mid-server-official-client-$RANDOM"
    export TOKO_SIM_URL="http://127.0.0.1:$port"
    mkdir -p .tmp/logs
    env HOST=127.0.0.1 PORT="$port" "${CARGO_TARGET_DIR:-target}/debug/midtrans-sim" >.tmp/logs/midtrans-client-sim.log 2>&1 &
    pid=$!
    for _ in $(seq 50); do
        curl -fsS "$TOKO_SIM_URL/health" >/dev/null 2>&1 && break
        sleep 0.1
    done
fi
"$PY/pytest" -q scripts/contract/test_midtrans_client.py
