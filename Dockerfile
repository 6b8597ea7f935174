# syntax=docker/dockerfile:1.7
#
# One image for every toko binary (see docs/CONVENTIONS.md):
#   toko-api (default CMD), tokoctl, midtrans-sim, outbox-relay, search-indexer,
#   inventory-reconciler, payment-poller, notifier, webhook-dispatcher.
# Pick the process with the command: `docker run IMAGE tokoctl migrate`,
# `docker run IMAGE notifier`, compose `command:`, Kubernetes `args:`.
#
# Build:  docker build -t toko:dev .
#         docker build --build-arg VERSION=0.1.0 --build-arg VCS_REF=$(git rev-parse HEAD) \
#                      --build-arg BUILD_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ) -t toko:0.1.0 .
#
# Stages: chef (toolchain + cargo-chef) -> planner (dependency recipe) ->
#         builder (cooked dependencies in their own cached layer, then the workspace) ->
#         runtime (debian bookworm-slim, non-root, the nine binaries only).

ARG RUST_VERSION=1.95
ARG DEBIAN_SUITE=bookworm

# ---------------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-slim-${DEBIAN_SUITE} AS chef
# pkg-config + libssl-dev: native-tls (lapin, lettre, reqwest, sqlx, elasticsearch) links
# the system OpenSSL, so the runtime stage needs libssl3 from the same Debian suite.
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config libssl-dev \
 && rm -rf /var/lib/apt/lists/*
RUN cargo install cargo-chef --locked --version ^0.1
WORKDIR /src

# ---------------------------------------------------------------------------------------
FROM chef AS planner
COPY . .
# recipe.json only changes when a Cargo.toml / Cargo.lock changes, so the cook layer
# below stays cached across source-only edits.
RUN cargo chef prepare --recipe-path recipe.json

# ---------------------------------------------------------------------------------------
FROM chef AS builder
# sqlx checked macros read the committed .sqlx/ data; the build never needs a database.
ENV SQLX_OFFLINE=true \
    CARGO_TERM_COLOR=never
COPY --from=planner /src/recipe.json recipe.json
# Dependencies only: the expensive layer, reused until the dependency graph changes.
RUN cargo chef cook --release --locked --workspace --bins --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked --workspace --bins \
 && mkdir -p /out \
 && for bin in toko-api tokoctl midtrans-sim outbox-relay search-indexer \
               inventory-reconciler payment-poller notifier webhook-dispatcher; do \
        install -m 0755 "target/release/${bin}" "/out/${bin}" || exit 1; \
    done

# ---------------------------------------------------------------------------------------
FROM debian:${DEBIAN_SUITE}-slim AS runtime

ARG VERSION=0.1.0
ARG VCS_REF=unknown
ARG BUILD_DATE=unknown
LABEL org.opencontainers.image.title="toko" \
      org.opencontainers.image.description="toko e-commerce backend: API, operations CLI, workers, outbox relay and Midtrans simulator" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${VCS_REF}" \
      org.opencontainers.image.created="${BUILD_DATE}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="docker.io/library/debian:bookworm-slim"

# libssl3 + ca-certificates: TLS to Postgres/RabbitMQ/Elasticsearch/SMTP/Midtrans.
# tini: PID 1 that forwards SIGTERM (graceful shutdown) and reaps zombies.
# No curl: container healthchecks use /usr/local/bin/toko-healthcheck (bash /dev/tcp,
# below). bash is already part of the base image, so this adds no package and keeps the
# runtime free of an HTTP client that an attacker could use; Kubernetes uses httpGet
# probes and never needs it.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 toko \
 && useradd --system --uid 10001 --gid toko --home-dir /nonexistent --no-create-home \
            --shell /usr/sbin/nologin toko

# toko-healthcheck [HOST:]PORT [PATH]
#   with PATH: sends `GET PATH` over HTTP/1.0 and succeeds on a 2xx status line;
#   without PATH: succeeds when a TCP connection to PORT opens.
# HOST defaults to 127.0.0.1. Used by docker-compose healthchecks and the Helm test pod.
COPY --chmod=0755 <<'EOF' /usr/local/bin/toko-healthcheck
#!/bin/bash
set -uo pipefail
target="${1:?usage: toko-healthcheck [HOST:]PORT [PATH]}"
path="${2:-}"
host="127.0.0.1"; port="$target"
if [[ "$target" == *:* ]]; then host="${target%:*}"; port="${target##*:}"; fi
exec 3<>"/dev/tcp/${host}/${port}" || exit 1
[[ -z "$path" ]] && exit 0
printf 'GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n' "$path" "$host" >&3
IFS= read -r -t 5 status <&3 || exit 1
[[ "$status" =~ ^HTTP/[0-9.]+\ 2[0-9][0-9] ]] || { echo "unhealthy: ${status%$'\r'}" >&2; exit 1; }
EOF

COPY --from=builder /out/ /usr/local/bin/

# Defaults from docs/CONVENTIONS.md; everything else is configured by the environment.
ENV HOST=0.0.0.0 \
    PORT=3000 \
    METRICS_PORT=9100

# API, worker health/metrics, midtrans-sim.
EXPOSE 3000 9100 3900

# Numeric UID:GID so Kubernetes' runAsNonRoot can verify it without /etc/passwd.
USER 10001:10001
WORKDIR /tmp

# No HEALTHCHECK instruction: the same image runs nine different processes with
# different ports (3000, 9100, 3900) and a one-shot migration; docker-compose.yml and the
# Helm chart declare the right check per process.
ENTRYPOINT ["/usr/bin/tini", "--"]
# The migrations are embedded in the binaries: `tokoctl migrate` applies them.
CMD ["toko-api"]
