#!/usr/bin/env python3
"""Latency of GET /api/v1/search for five typical queries: p50/p95/max over N sequential
requests each (after a warm-up), on one keep-alive connection, measured by the client.

    python3 scripts/bench/search-latency.py [--base http://127.0.0.1:3000] [--requests 200]

Seed a catalog first and start toko-api on it, e.g.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/toko_bench tokoctl migrate
    DATABASE_URL=... tokoctl catalog seed --products 100000
    DATABASE_URL=... JWT_SECRET=... PORT=3100 toko-api

The queries use words of the `tokoctl catalog seed` catalog.
"""
import argparse
import http.client
import json
import statistics
import time
import urllib.parse

QUERIES = [
    ("a word", {"q": "jacket"}),
    ("a typo", {"q": "headphnoes"}),
    ("a prefix", {"q": "gui"}),
    ("a phrase with a filter", {"q": '"rain jacket"', "category": "fashion", "in_stock": "true"}),
    ("an empty query with facets", {"q": ""}),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="http://127.0.0.1:3000")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    base = urllib.parse.urlsplit(args.base)
    conn = http.client.HTTPConnection(base.hostname, base.port or 80)

    def get(params: dict) -> tuple[float, dict]:
        path = "/api/v1/search?" + urllib.parse.urlencode(params)
        started = time.perf_counter()
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        elapsed = (time.perf_counter() - started) * 1000
        if resp.status != 200:
            raise SystemExit(f"{path}: {resp.status} {body[:300]!r}")
        return elapsed, json.loads(body)

    print(f"{'query':<28} {'total':>7} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'server p50':>11}")
    for label, params in QUERIES:
        for _ in range(args.warmup):
            get(params)
        client, server, total = [], [], 0
        for _ in range(args.requests):
            elapsed, body = get(params)
            client.append(elapsed)
            server.append(body["took_ms"])
            total = body["total"]
        q = statistics.quantiles(client, n=100)
        print(f"{label:<28} {total:>7} {q[49]:>8.1f} {q[94]:>8.1f} {max(client):>8.1f} {statistics.median(server):>11.1f}")


if __name__ == "__main__":
    main()
