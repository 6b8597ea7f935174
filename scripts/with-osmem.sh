#!/usr/bin/env bash
# Runs a command with ELASTICSEARCH_URL pointing at a fresh osmem-server, stopped afterwards:
#
#   bash scripts/with-osmem.sh cargo nextest run -p toko --test api -E 'test(/on_elasticsearch/)'
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/env.sh
source scripts/lib/osmem.sh

trap stop_osmem EXIT
start_osmem
"$@"
