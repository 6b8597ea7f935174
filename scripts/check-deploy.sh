#!/usr/bin/env bash
# Offline checks of the deployment files: Helm chart (render, lint, Kubernetes 1.30 schema
# validation, expected objects per values set, schema rejections), k8s/, docs/DEPLOY.md
# commands, docker-compose.yml (`docker-compose config`) and the Dockerfile.
# Needs no cluster, no helm binary and no Docker engine. See scripts/check_deploy.py.
#
#   bash scripts/check-deploy.sh
#
# Python tools live in .venv/deploy (git-ignored), created on first use and reused.
# docker-compose (Debian package, v1.29, no daemon needed) is installed with apt-get
# when missing, which needs root (as in CI) or sudo.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV=.venv/deploy
PY_REQUIREMENTS=("helm-python-sdk==0.2.2" "kubernetes-validate>=1.30,<2" "PyYAML>=6,<7")

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "check-deploy: creating $VENV"
    python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" - "${PY_REQUIREMENTS[@]}" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
from packaging.requirements import Requirement
for spec in sys.argv[1:]:
    req = Requirement(spec)
    if not req.specifier.contains(version(req.name), prereleases=True):
        sys.exit(1)
PY
then
    echo "check-deploy: installing ${PY_REQUIREMENTS[*]} into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check packaging "${PY_REQUIREMENTS[@]}"
fi

if ! command -v docker-compose >/dev/null 2>&1; then
    echo "check-deploy: installing docker-compose (Debian package)"
    SUDO=()
    if [[ "$(id -u)" -ne 0 ]]; then SUDO=(sudo -n); fi
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update -qq
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
fi

exec "$VENV/bin/python" scripts/check_deploy.py "$@"
