# osmem-server for the Elasticsearch specs (sourced, not run; needs scripts/lib/env.sh).
#
# osmem-server (PyPI) is an in-memory emulator of the OpenSearch REST API: it checks toko's
# requests and responses on the wire, not Lucene's relevance scoring (see README "Search").

OSMEM_SERVER_VERSION=0.1.6

# Installs osmem-server into .venv/tools, starts it on a free port (it binds port 0 and prints
# its URL as the first line of its output) and exports ELASTICSEARCH_URL. OSMEM_PID is its
# process id; stop_osmem stops it, and it also exits on its own when this shell's process
# goes away (--parent-pid), so an interrupted run leaves nothing behind.
start_osmem() {
    ensure_venv .venv/tools "osmem-server==$OSMEM_SERVER_VERSION"
    local binary log
    binary=$(.venv/tools/bin/python -c 'import osmem_server; print(osmem_server.resolve_binary())')
    log=$(mktemp -t toko-osmem.XXXXXX)
    "$binary" --addr 127.0.0.1:0 --no-stdin-watch --no-ja --parent-pid "$$" >"$log" 2>&1 &
    OSMEM_PID=$!
    local url=""
    for _ in $(seq 1 100); do
        url=$(sed -n 's/^{"url":"\(http:[^"]*\)".*/\1/p' "$log")
        [[ -n "$url" ]] && break
        if ! kill -0 "$OSMEM_PID" 2>/dev/null; then break; fi
        sleep 0.1
    done
    if [[ -z "$url" ]]; then
        echo "osmem-server did not start:" >&2
        cat "$log" >&2
        stop_osmem
        return 1
    fi
    rm -f "$log"
    export ELASTICSEARCH_URL="$url"
    echo "osmem-server $OSMEM_SERVER_VERSION (pid $OSMEM_PID) at $ELASTICSEARCH_URL"
}

stop_osmem() {
    if [[ -n "${OSMEM_PID:-}" ]]; then
        kill "$OSMEM_PID" 2>/dev/null || true
        wait "$OSMEM_PID" 2>/dev/null || true
        OSMEM_PID=""
    fi
}
