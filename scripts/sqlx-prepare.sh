#!/usr/bin/env bash
# Regenerates (or, with --check, verifies) the offline data of the checked SQL macros in .sqlx/.
#
#   bash scripts/sqlx-prepare.sh           # after changing a sqlx::query!/query_as!/query_scalar!
#   bash scripts/sqlx-prepare.sh --check   # fails when .sqlx/ does not match the code (scripts/test.sh)
#
# Ordinary builds read .sqlx/ (SQLX_OFFLINE=true in .cargo/config.toml) and never need a
# database. This script describes every query against a throwaway database migrated from
# migrations/ (dropped on exit), so a query that no longer fits the schema fails here.
# Needs PostgreSQL on 127.0.0.1:5432 (trust auth, user postgres; override the server with
# SQLX_PREPARE_SERVER_URL) and installs sqlx-cli when cargo-sqlx is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/env.sh

# sqlx-cli only drives the build (the macros of the sqlx in Cargo.lock write the data): any 0.9.
SQLX_CLI_VERSION="0.9"

check=()
case "${1:-}" in
    "") ;;
    --check) check=(--check) ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

if ! command -v cargo-sqlx >/dev/null 2>&1 \
    || [[ "$(cargo-sqlx sqlx --version 2>/dev/null)" != *" $SQLX_CLI_VERSION".* ]]; then
    echo "sqlx-prepare: installing sqlx-cli $SQLX_CLI_VERSION"
    cargo install sqlx-cli --version "^$SQLX_CLI_VERSION" --locked --quiet \
        --no-default-features --features postgres,native-tls
fi

server="${SQLX_PREPARE_SERVER_URL:-postgres://postgres@127.0.0.1:5432}"
database="toko_sqlx_prepare_$(date +%s)_$$"
export DATABASE_URL="$server/$database"

# `cargo sqlx prepare` touches every workspace crate's sources to make cargo check re-expand
# the macros; put the modification times back afterwards so the next `cargo build` does not
# rebuild the whole workspace for nothing.
mtimes="$(mktemp)"
find lib bin workers testkit -name '*.rs' -printf '%T@ %p\n' >"$mtimes"
cleanup() {
    while read -r mtime path; do
        [[ -e "$path" ]] && touch -m -d "@$mtime" "$path"
    done <"$mtimes"
    rm -f "$mtimes"
    sqlx database drop -y -f --database-url "$DATABASE_URL" >/dev/null 2>&1 || true
}
trap cleanup EXIT

sqlx database create --database-url "$DATABASE_URL"
sqlx migrate run --source migrations --database-url "$DATABASE_URL" >/dev/null

# prepare runs `cargo check` with SQLX_OFFLINE=false (overriding .cargo/config.toml, whose
# [env] never replaces a variable already set) and this DATABASE_URL.
SQLX_OFFLINE=false cargo sqlx prepare --workspace "${check[@]}" -- --locked --workspace --all-targets
