#!/usr/bin/env bash
# Validates the committed openapi.json against the OpenAPI 3 specification.
# (That the served document equals this file is checked by the Rust tests.)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/env.sh
ensure_venv .venv/tools aiosmtpd openapi-spec-validator
.venv/tools/bin/openapi-spec-validator openapi.json
