#!/usr/bin/env python3
"""Offline checks of toko's deployment files (run through scripts/check-deploy.sh).

No cluster, no helm binary, no Docker engine:
  * helm/toko is rendered and linted with the Helm v4 SDK (PyPI helm-python-sdk) for
    several values sets; every rendered manifest is validated against the Kubernetes
    1.30 JSON schemas (PyPI kubernetes-validate, strict); KEDA and Prometheus Operator
    CRDs, absent from those schemas, are checked structurally here;
  * per values set, the objects that must (not) exist are asserted, and cross-references
    (Services -> pods, HPAs/ScaledObjects -> Deployments, Secrets, hook ordering);
  * bad values must be rejected by values.schema.json (the render must fail);
  * k8s/*.yaml are validated and kept in step with the chart;
  * the `helm install` / `kubectl apply` commands of docs/DEPLOY.md are rendered as written;
  * docker-compose.yml passes `docker-compose config -q` and wires every service;
  * scripts/quickstart.sh starts every worker binary of CONVENTIONS.md;
  * the Dockerfile ships exactly the binaries the workspace builds (and CONVENTIONS.md lists);
  * every environment variable the Rust code reads is settable through the chart (or listed
    as not exposed, with a reason), documented in docs/CONVENTIONS.md and README.md's
    configuration table; the chart names no variable the code does not read, and its
    defaults equal the code's.
Prints one line per failure, a summary, and exits 1 on any failure.
"""

from __future__ import annotations

import copy
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any, Callable, Iterable

import helm_python as helm
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "helm" / "toko"
K8S_VERSION = "1.30.0"
RELEASE = NAMESPACE = "toko"
FULLNAME = "toko"  # release "toko" + chart "toko" -> resources are named toko-*

CRD_KINDS = {
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("keda.sh/v1alpha1", "TriggerAuthentication"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
}
OUTBOX_QUERY = "SELECT count(*) FROM outbox_events WHERE published_at IS NULL"
API_PORT, METRICS_PORT = 3000, 9100
# Set per container by the chart, not through config.
PER_CONTAINER_ENV = {"HOST", "PORT", "METRICS_PORT", "RUN_MIGRATIONS"}
REQUIRED_SECRETS = ("DATABASE_URL", "JWT_SECRET", "RABBITMQ_URL")
# Secret keys a worker cannot do without (the chart fails without them, or reads them with a
# non-optional secretKeyRef from existingSecret).
WORKER_SECRETS = {"payment-poller": "MIDTRANS_SERVER_KEY", "notifier": "SMTP_URL"}
COMMON_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
                 "app.kubernetes.io/managed-by", "app.kubernetes.io/part-of", "helm.sh/chart")

MINIMAL_SECRETS = {
    "secrets": {
        "DATABASE_URL": "postgres://toko:pw@postgres.db.svc.cluster.local:5432/toko",
        "JWT_SECRET": "ci-only-jwt-secret-0123456789abcdef0123456789",
        "RABBITMQ_URL": "amqp://toko:pw@rabbitmq.mq.svc.cluster.local:5672/%2f",
    }
}
# What an install with every worker on must give.
SECRETS = {"secrets": {**MINIMAL_SECRETS["secrets"], "MIDTRANS_SERVER_KEY": "SB-Mid-server-ci",
                       "SMTP_URL": "smtp://mail:587"}}


# ---------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------
class Report:
    def __init__(self) -> None:
        self.passed = 0
        self.failures: list[str] = []

    def check(self, ok: bool, what: str) -> bool:
        if ok:
            self.passed += 1
        else:
            self.failures.append(what)
            print(f"  FAIL {what}")
        return ok

    def section(self, title: str) -> None:
        print(f"\n== {title}")


R = Report()


def merged(*parts: dict[str, Any]) -> dict[str, Any]:
    """Deep merge of values dictionaries (later wins)."""
    out: dict[str, Any] = {}
    for part in parts:
        _merge_into(out, copy.deepcopy(part))
    return out


def _merge_into(dst: dict[str, Any], src: dict[str, Any]) -> None:
    for key, value in src.items():
        if isinstance(value, dict) and isinstance(dst.get(key), dict):
            _merge_into(dst[key], value)
        else:
            dst[key] = value


def dig(obj: Any, *path: str | int, default: Any = None) -> Any:
    for key in path:
        try:
            obj = obj[key]
        except (KeyError, IndexError, TypeError):
            return default
    return obj


# ---------------------------------------------------------------------------------------
# docs/CONVENTIONS.md: the names every component shares
# ---------------------------------------------------------------------------------------
def conventions() -> tuple[list[str], list[str], set[str]]:
    """(all binaries, worker binaries, documented environment variables)."""
    text = (ROOT / "docs" / "CONVENTIONS.md").read_text()
    binaries, workers = [], []
    for name, crate in re.findall(r"^\|\s*`([a-z0-9-]+)`\s*\|\s*`([a-z0-9/-]+)`\s*\|", text, re.M):
        binaries.append(name)
        if crate == "workers":
            workers.append(name)
    env_section = text.split("## Environment variables", 1)[1]
    variables = set()
    for row in re.findall(r"^\|([^|\n]*)\|", env_section, re.M):
        variables.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", row))
    return binaries, workers, variables


# ---------------------------------------------------------------------------------------
# Settings: what the code reads, what the chart sets, what the docs say
# ---------------------------------------------------------------------------------------
# Files whose string literals passed as a first argument are variable names: the Reader
# methods (`r.string("NAME", ...)`), local helpers (`url("NAME", ...)`, the simulator's
# `var("NAME")`) and the errors naming them. Tests are cut off at `#[cfg(test)]`.
SETTINGS_FILES = ("lib/src/config.rs", "lib/src/config/**/*.rs", "lib/src/*/settings.rs",
                  "lib/src/db.rs", "lib/src/ratelimit.rs",
                  "lib/src/notifications/mod.rs", "lib/src/webhooks/mod.rs",
                  "bin/midtrans-sim/src/config.rs")
# Everywhere else only direct reads count: std::env::var("NAME"), clap's env = "NAME".
SOURCE_DIRS = ("lib/src", "bin", "workers/src")
DIRECT_READ = re.compile(r'\benv::var(?:_os)?\(\s*"([A-Z][A-Z0-9_]+)"|\benv\s*=\s*"([A-Z][A-Z0-9_]+)"')
FIRST_ARG = re.compile(r'\(\s*"([A-Z][A-Z0-9_]{2,})"')
# Variables the code reads that the chart deliberately does not expose, and why. Variables
# only midtrans-sim reads (SIM_*) are not exposed either: the chart does not deploy it.
NOT_EXPOSED = {
    "HOSTNAME": "set by Kubernetes to the pod name; it only names RabbitMQ connections",
    "TOKO_ADMIN_PASSWORD": "one-off input of `tokoctl create-admin` (kubectl exec), never stored in the release",
}
SIM_ONLY_REASON = "read only by midtrans-sim, a development stand-in the chart does not deploy"
# Read by the code of the feature/search branch (being merged) and already exposed by the
# chart: accepted while this branch's code does not read them. Once the code reads them a
# note says so, and they can be dropped from here.
PENDING_VARIABLES: set[str] = set()
# Until the workspace builds it, `docker build` fails in the Dockerfile's install loop.
PENDING_BINARIES: set[str] = set()
# Built by the workspace for development only, never shipped in the image.
DEV_BINARIES = {"toko-bench": "the load harness (docs/BENCHMARKS.md)"}
# Chart config defaults that deliberately differ from the binaries' defaults.
CHART_CHOICES = {"APP_ENV": "a chart deploys production", "LOG_FORMAT": "JSON for log pipelines"}


def rust_without_tests(path: Path) -> str:
    return path.read_text().split("#[cfg(test)]", 1)[0]


def settings_files() -> list[Path]:
    return sorted({p for pattern in SETTINGS_FILES for p in ROOT.glob(pattern)})


def report_pending(list_name: str, pending: set[str], present: set[str], what: str) -> None:
    """Notes on the names another branch brings: still pending, or arrived (then the list
    entry can go)."""
    for name in sorted(pending & present):
        print(f"  note: {name} is now {what}: drop it from {list_name}")
    for name in sorted(pending - present):
        print(f"  pending: {name} (comes with the feature/search branch; not yet {what})")


def code_variables() -> dict[str, set[str]]:
    """Every environment variable the Rust code reads -> the files that read it."""
    found: dict[str, set[str]] = {}
    settings = set(settings_files())
    sources = {p for d in SOURCE_DIRS for p in (ROOT / d).rglob("*.rs") if "tests" not in p.relative_to(ROOT).parts}
    for path in sorted(settings | sources):
        text = rust_without_tests(path)
        names = {a or b for a, b in DIRECT_READ.findall(text)}
        if path in settings:
            names |= set(FIRST_ARG.findall(text))
        if re.search(r"EnvFilter::(try_)?from_default_env", text):
            names.add("RUST_LOG")  # tracing-subscriber reads RUST_LOG itself
        for name in names:
            found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def _call_args(text: str, start: int) -> list[str]:
    """Top-level comma-separated arguments of the call whose '(' is at text[start]."""
    depth, args, current, i, quoted = 0, [], "", start, False
    while i < len(text):
        c = text[i]
        if quoted:
            current += c
            if c == "\\":
                current += text[i + 1]
                i += 1
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted, current = True, current + c
        elif c in "([{":
            depth += 1
            if depth > 1:
                current += c
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                args.append(current.strip())
                return [a for a in args if a]
            current += c
        elif c == "," and depth == 1:
            args.append(current.strip())
            current = ""
        else:
            current += c
        i += 1
    return args


def _rust_value(expr: str, constants: dict[str, str]) -> Any:
    """A default written as a literal, a product of integers, a Duration or a &str constant
    (durations in milliseconds); None when it is anything else."""
    expr = expr.strip()
    if re.fullmatch(r'"(?:[^"\\]|\\.)*"', expr):
        return expr[1:-1].replace('\\"', '"')
    if expr in ("true", "false"):
        return expr == "true"
    if re.fullmatch(r"[0-9_]+(\s*\*\s*[0-9_]+)*", expr):
        product = 1
        for factor in expr.split("*"):
            product *= int(factor.replace("_", ""))
        return product
    duration = re.fullmatch(r"Duration::from_(secs|millis)\((.*)\)", expr, re.S)
    if duration:
        amount = _rust_value(duration.group(2), constants)
        return None if not isinstance(amount, int) else ("duration", amount * (1000 if duration.group(1) == "secs" else 1))
    return constants.get(expr)


def code_defaults() -> dict[str, Any]:
    """Defaults of the Reader calls with a literal default: NAME -> str, int, bool,
    ("duration", milliseconds) or ("durations", [milliseconds, ...])."""
    defaults: dict[str, Any] = {}
    for path in settings_files():
        text = rust_without_tests(path)
        constants = dict(re.findall(r'const ([A-Z_]+): &str = ("(?:[^"\\]|\\.)*");', text))
        constants = {k: v[1:-1] for k, v in constants.items()}
        # Local unit helpers, e.g. `let hours = |h: u64| Duration::from_secs(h * 3600);`:
        # their calls are read as the Duration they build.
        for helper, arg, unit, factor in re.findall(
                r"let (\w+) = \|(\w+): u64\| Duration::from_(secs|millis)\(\s*\2\s*\*\s*([0-9_]+)\s*\);", text):
            text = re.sub(rf"\b{helper}\(([^()]*)\)", rf"Duration::from_{unit}(\1 * {factor})", text)
        # `match r.optional("NAME") { None => vec![Duration::..., ...]`: a list of durations.
        for name, items in re.findall(r'r\.optional\(\s*"([A-Z][A-Z0-9_]+)"\s*\)\s*\{\s*None\s*=>\s*vec!\[(.*?)\]', text, re.S):
            values = [_rust_value(item, constants) for item in _call_args(f"({items})", 0)]
            if values and all(isinstance(v, tuple) for v in values):
                defaults[name] = ("durations", [v[1] for v in values])
        # `r.durations("NAME", &[Duration::..., ...])`: a list of durations.
        for match in re.finditer(r'\.durations\(\s*"([A-Z][A-Z0-9_]+)"', text):
            args = _call_args(text, text.index("(", match.start()))
            items = args[1].lstrip("&").strip() if len(args) == 2 else ""
            if items.startswith("[") and items.endswith("]"):
                values = [_rust_value(item, constants) for item in _call_args(f"({items[1:-1]})", 0)]
                if values and all(isinstance(v, tuple) for v in values):
                    defaults[match.group(1)] = ("durations", [v[1] for v in values])
        for match in re.finditer(r'\.(string|parse|duration|bool)\(\s*"([A-Z][A-Z0-9_]+)"', text):
            args = _call_args(text, match.end(1))
            if len(args) == 2:
                value = _rust_value(args[1], constants)
                if value is not None:
                    defaults[match.group(2)] = value
    return defaults


def duration_millis(value: Any) -> int | None:
    match = re.fullmatch(r"\s*([0-9]+)\s*(ms|s|m|min|h|d)?\s*", str(value))
    if not match:
        return None
    factor = {"ms": 1, "s": 1000, None: 1000, "m": 60_000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
    return int(match.group(1)) * factor[match.group(2)]


def same_setting(chart_value: Any, code_value: Any) -> bool:
    if isinstance(code_value, tuple) and code_value[0] == "durations":
        return [duration_millis(v) for v in str(chart_value).split(",")] == code_value[1]
    if isinstance(code_value, tuple):
        return duration_millis(chart_value) == code_value[1]
    if isinstance(code_value, bool):
        return str(chart_value).lower() in (("true", "1", "yes", "on") if code_value else ("false", "0", "no", "off"))
    if isinstance(code_value, int):
        return str(chart_value).strip() == str(code_value)
    return str(chart_value) == code_value


def secret_variables() -> set[str]:
    """Variables the code keeps in a `Secret` (never logged): they belong in the chart's Secret."""
    found = set()
    for path in settings_files():
        for body in re.split(r"\bfn ", rust_without_tests(path)):
            bound = {m.group(1): m.group(2) for m in re.finditer(
                r'let (?:Some\()?(\w+)\)?\s*(?::[^=]+)?=\s*r\s*\.\s*\w+\(\s*"([A-Z][A-Z0-9_]+)"', body)}
            for ident, name in bound.items():
                if re.search(rf"Secret::new\(\s*{ident}\s*\)|\b{ident}\s*\.map\(Secret::new\)", body):
                    found.add(name)
            found.update(re.findall(r'r\s*\.\s*\w+\(\s*"([A-Z][A-Z0-9_]+)"\s*\)\s*\.map\(Secret::new\)', body))
    return found


def conventions_rows() -> dict[str, tuple[str, str]]:
    """docs/CONVENTIONS.md's environment table: NAME -> (default, used by)."""
    section = (ROOT / "docs" / "CONVENTIONS.md").read_text().split("## Environment variables", 1)[1]
    rows = {}
    for first, default, used_by in re.findall(r"^\|([^|\n]*)\|([^|\n]*)\|([^|\n]*)\|", section, re.M):
        for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", first):
            rows[name] = (default.strip(), used_by.strip())
    return rows


def readme_variables() -> set[str]:
    """Variables of README.md's "Configuration" table."""
    text = (ROOT / "README.md").read_text()
    parts = re.split(r"^## Configuration\s*$", text, maxsplit=1, flags=re.M)
    if len(parts) < 2:
        return set()
    section = re.split(r"^## ", parts[1], maxsplit=1, flags=re.M)[0]
    return {name for row in re.findall(r"^\|([^|\n]*)\|", section, re.M)
            for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row)}


def _show_default(value: Any) -> str:
    if isinstance(value, tuple) and value[0] == "durations":
        return ",".join(f"{ms}ms" for ms in value[1])
    if isinstance(value, tuple):
        return f"{value[1]}ms"
    return repr(value)


def check_settings(chart: helm.Chart) -> None:
    R.section("settings: the code's variables vs the chart, CONVENTIONS.md and README.md")
    code = code_variables()
    read = set(code)
    config = set(chart.values["config"])
    secrets = set(chart.schema["properties"]["secrets"]["properties"])
    settable = config | secrets | PER_CONTAINER_ENV
    sim_only = {n for n, files in code.items() if all(f.startswith("bin/midtrans-sim/") for f in files)}
    not_exposed = {**NOT_EXPOSED, **{n: SIM_ONLY_REASON for n in sim_only}}
    print(f"  the code reads {len(read)} variables ({', '.join(SETTINGS_FILES)}; env::var in "
          f"{', '.join(SOURCE_DIRS)}); the chart: {len(config)} config keys, {len(secrets)} secret keys, "
          f"{len(PER_CONTAINER_ENV)} set per container, {len(not_exposed)} not exposed on purpose")
    for name, reason in sorted(not_exposed.items()):
        print(f"  not exposed: {name}: {reason}")
    missing = sorted(read - settable - set(not_exposed))
    R.check(not missing, "variables the code reads that the chart cannot set (add each to values.yaml `config` "
            "and values.schema.json, or to `secrets`, or to NOT_EXPOSED in scripts/check_deploy.py with a "
            "reason): " + "; ".join(f"{n} (read in {', '.join(sorted(code[n]))})" for n in missing))
    unknown = sorted(settable - read - PENDING_VARIABLES)
    R.check(not unknown, f"chart keys naming variables the code does not read: {unknown}")
    R.check(not config & secrets, f"variables that are both config and secrets keys: {sorted(config & secrets)}")
    R.check(not set(not_exposed) & settable,
            f"variables marked not exposed but settable in the chart: {sorted(set(not_exposed) & settable)}")
    stale = sorted(set(NOT_EXPOSED) - read)
    R.check(not stale, f"NOT_EXPOSED names variables the code no longer reads: {stale}")
    kept_secret = secret_variables()
    R.check(kept_secret <= secrets and not kept_secret & config,
            f"variables the code keeps in a Secret are chart secrets, never ConfigMap keys: not secrets "
            f"{sorted(kept_secret - secrets)}, in config {sorted(kept_secret & config)}")
    report_pending("PENDING_VARIABLES", PENDING_VARIABLES, read, "read by the code")

    defaults = code_defaults()
    differ = [f"{key}: chart {value!r}, code {_show_default(defaults[key])}"
              for key, value in sorted(chart.values["config"].items())
              if str(value) != "" and key not in CHART_CHOICES and key in defaults
              and not same_setting(value, defaults[key])]
    compared = sum(1 for k, v in chart.values["config"].items() if str(v) != "" and k in defaults)
    R.check(not differ, f"chart config defaults equal the code's ({compared} compared; "
            f"deliberate: {sorted(CHART_CHOICES)}): differ {differ}")
    R.check(set(CHART_CHOICES) <= config, f"CHART_CHOICES are config keys: {sorted(set(CHART_CHOICES) - config)}")

    documented = conventions_rows()
    undocumented = sorted(read - set(documented))
    R.check(not undocumented, f"docs/CONVENTIONS.md's environment table lacks rows for: {undocumented}")
    extra = sorted(set(documented) - read - PENDING_VARIABLES)
    R.check(not extra, f"docs/CONVENTIONS.md documents variables the code does not read: {extra}")
    R.check(settable <= set(documented),
            f"every chart key is in docs/CONVENTIONS.md: missing {sorted(settable - set(documented))}")

    R.section("README.md's configuration table (maintained by the lead: missing rows are listed, never written)")
    readme = readme_variables()
    absent = sorted(read - readme)
    if not R.check(not absent, f"README.md's configuration table has no row for {len(absent)} variable(s) "
                   f"the code reads: {', '.join(absent)}"):
        print("  rows to add (default and users from docs/CONVENTIONS.md; write the meaning):")
        for name in absent:
            default, used_by = documented.get(name, ("?", "?"))
            print(f"    | `{name}` | {default} | {used_by} |")
    extra = sorted(readme - read - PENDING_VARIABLES)
    R.check(not extra, f"README.md's configuration table names variables the code does not read: {extra}")


# ---------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------
def render(chart: helm.Chart, values: dict[str, Any]) -> list[dict[str, Any]]:
    """Render like `helm install`; returns the manifests (NOTES.txt excluded)."""
    rendered = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    docs = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                doc.setdefault("__source__", path)
                docs.append(doc)
    return docs


def strip_source(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "__source__"}


def validate_crd(doc: dict[str, Any]) -> list[str]:
    """Structural checks of the CRD objects kubernetes-validate has no schema for."""
    errors = []
    kind, spec = doc["kind"], doc.get("spec") or {}
    if not dig(doc, "metadata", "name"):
        errors.append("metadata.name missing")
    if kind == "ScaledObject":
        if not dig(spec, "scaleTargetRef", "name"):
            errors.append("spec.scaleTargetRef.name missing")
        for field in ("minReplicaCount", "maxReplicaCount", "pollingInterval", "cooldownPeriod"):
            if not isinstance(spec.get(field), int) or spec[field] < 0:
                errors.append(f"spec.{field} must be a non-negative integer")
        if isinstance(spec.get("minReplicaCount"), int) and isinstance(spec.get("maxReplicaCount"), int) \
                and spec["minReplicaCount"] > spec["maxReplicaCount"]:
            errors.append("minReplicaCount > maxReplicaCount")
        triggers = spec.get("triggers")
        if not isinstance(triggers, list) or not triggers:
            errors.append("spec.triggers must be a non-empty list")
        for trigger in triggers or []:
            if not trigger.get("type"):
                errors.append("trigger without type")
            metadata = trigger.get("metadata")
            if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
                errors.append(f"trigger {trigger.get('type')}: metadata values must all be strings")
            if not dig(trigger, "authenticationRef", "name"):
                errors.append(f"trigger {trigger.get('type')}: authenticationRef.name missing")
    elif kind == "TriggerAuthentication":
        refs = spec.get("secretTargetRef")
        if not isinstance(refs, list) or not refs:
            errors.append("spec.secretTargetRef must be a non-empty list")
        for ref in refs or []:
            if not all(isinstance(ref.get(k), str) and ref[k] for k in ("parameter", "name", "key")):
                errors.append(f"secretTargetRef entry needs parameter, name and key: {ref}")
    elif kind == "ServiceMonitor":
        if not isinstance(dig(spec, "selector", "matchLabels"), dict):
            errors.append("spec.selector.matchLabels missing")
        endpoints = spec.get("endpoints")
        if not isinstance(endpoints, list) or not endpoints:
            errors.append("spec.endpoints must be a non-empty list")
        for endpoint in endpoints or []:
            if not endpoint.get("port") or not str(endpoint.get("path", "")).startswith("/"):
                errors.append(f"endpoint needs a port name and an absolute path: {endpoint}")
            for field in ("interval", "scrapeTimeout"):
                if field in endpoint and not re.fullmatch(r"([0-9]+(ms|s|m|h))+", str(endpoint[field])):
                    errors.append(f"endpoint {field} is not a Prometheus duration: {endpoint[field]}")
    return errors


def validate_manifests(label: str, docs: list[dict[str, Any]]) -> tuple[int, int]:
    """Kubernetes schemas for core kinds, structural checks for CRDs. Returns (core, crd)."""
    core = crd = 0
    for doc in docs:
        what = f"[{label}] {doc.get('kind')}/{dig(doc, 'metadata', 'name')} ({doc['__source__']})"
        if (doc.get("apiVersion"), doc.get("kind")) in CRD_KINDS:
            crd += 1
            errors = validate_crd(doc)
            R.check(not errors, f"{what}: CRD structure: {'; '.join(errors)}")
            continue
        core += 1
        try:
            kubernetes_validate.validate(strip_source(doc), K8S_VERSION, strict=True)
            R.check(True, what)
        except (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError) as exc:
            R.check(False, f"{what}: {str(exc).splitlines()[0]}")
    return core, crd


# ---------------------------------------------------------------------------------------
# Expectations per values set
# ---------------------------------------------------------------------------------------
class Rendered:
    """Index of one render's objects."""

    def __init__(self, docs: list[dict[str, Any]]):
        self.docs = docs

    def of(self, kind: str, hooks: bool | None = None) -> dict[str, dict[str, Any]]:
        out = {}
        for doc in self.docs:
            if doc["kind"] != kind:
                continue
            is_hook = "helm.sh/hook" in (dig(doc, "metadata", "annotations") or {})
            if hooks is None or hooks == is_hook:
                out[doc["metadata"]["name"]] = doc
        return out

    def one(self, kind: str, name: str) -> dict[str, Any] | None:
        return self.of(kind).get(name)


def effective_workers(defaults: dict[str, Any], values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    final = merged(defaults, values)
    return {name: merged(final["workerDefaults"], override or {}) for name, override in final["workers"].items()}


def check_pod_spec(label: str, name: str, pod: dict[str, Any], image: str) -> None:
    spec = pod["spec"]
    R.check(dig(spec, "securityContext", "runAsNonRoot") is True
            and dig(spec, "securityContext", "seccompProfile", "type") == "RuntimeDefault",
            f"[{label}] {name}: pod securityContext runAsNonRoot + seccomp RuntimeDefault")
    for container in spec["containers"]:
        sc = container.get("securityContext") or {}
        R.check(sc.get("readOnlyRootFilesystem") is True and sc.get("allowPrivilegeEscalation") is False
                and dig(sc, "capabilities", "drop") == ["ALL"] and sc.get("runAsNonRoot") is True
                and dig(sc, "seccompProfile", "type") == "RuntimeDefault",
                f"[{label}] {name}: container securityContext is restricted")
        R.check(container.get("image") == image, f"[{label}] {name}: image is {image}")
        R.check(any(m.get("mountPath") == "/tmp" for m in container.get("volumeMounts", [])),
                f"[{label}] {name}: writable /tmp mounted")
        R.check(bool(dig(container, "resources", "requests")) and bool(dig(container, "resources", "limits")),
                f"[{label}] {name}: resources requests and limits")


def check_deployment(label: str, r: Rendered, name: str, args: list[str], port: int, chart_secret: bool,
                     secret_name: str, image: str, service_account: str) -> None:
    deploy = r.one("Deployment", name)
    if not R.check(deploy is not None, f"[{label}] Deployment {name} exists"):
        return
    pod = deploy["spec"]["template"]
    check_pod_spec(label, name, pod, image)
    container = pod["spec"]["containers"][0]
    R.check(container.get("args") == args and "command" not in container,
            f"[{label}] {name}: runs {args} through the image entrypoint")
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    probes = {kind: container.get(f"{kind}Probe") or {} for kind in ("liveness", "readiness", "startup")}
    expected_paths = {"liveness": "/health/live", "readiness": "/health/ready", "startup": "/health/live"}
    for kind, probe in probes.items():
        get = probe.get("httpGet") or {}
        R.check(get.get("path") == expected_paths[kind] and ports.get(get.get("port")) == port,
                f"[{label}] {name}: {kind} probe GET {expected_paths[kind]} on port {port}")
    annotations = pod["metadata"].get("annotations") or {}
    R.check("checksum/config" in annotations, f"[{label}] {name}: checksum/config annotation")
    R.check(("checksum/secret" in annotations) == chart_secret,
            f"[{label}] {name}: checksum/secret annotation {'present' if chart_secret else 'absent'}")
    refs = {next(iter(e)): next(iter(e.values()))["name"] for e in container.get("envFrom", [])}
    R.check(refs.get("configMapRef") == f"{FULLNAME}-config" and refs.get("secretRef") == secret_name,
            f"[{label}] {name}: envFrom {FULLNAME}-config + {secret_name}")
    R.check(pod["spec"].get("serviceAccountName") == service_account, f"[{label}] {name}: ServiceAccount {service_account}")


def env_string(value: Any) -> str:
    """A values entry as the chart renders it into the environment."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def settings_strings(settings: dict[str, Any] | None) -> dict[str, str]:
    """Non-empty entries of a settings map, as environment strings."""
    return {k: env_string(v) for k, v in (settings or {}).items() if env_string(v) != ""}


def container_env(deploy: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    if not deploy:
        return {}
    return {e["name"]: e for e in deploy["spec"]["template"]["spec"]["containers"][0].get("env", [])}


def check_environment(label: str, r: Rendered, final: dict[str, Any], workers: dict[str, dict[str, Any]],
                      enabled: list[str], secret_name: str) -> None:
    """Per-container variables: HOST/PORT/RUN_MIGRATIONS, TRUST_FORWARDED_FOR, REDIS_URL,
    api.config and workers.<name>.config overrides, the workers' required secret keys."""
    api = container_env(r.one("Deployment", f"{FULLNAME}-api"))
    values = {k: e.get("value") for k, e in api.items()}
    R.check(values.get("HOST") == "0.0.0.0" and values.get("PORT") == str(final["api"]["port"]),
            f"[{label}] api: HOST 0.0.0.0 and PORT {final['api']['port']}")
    overrides = settings_strings(final["api"].get("config"))
    trust = overrides.get("TRUST_FORWARDED_FOR") or env_string(final["config"].get("TRUST_FORWARDED_FOR"))
    want_trust = trust or env_string(bool(final["api"]["ingress"]["enabled"]))
    effective = values.get("TRUST_FORWARDED_FOR") or trust
    R.check(effective == want_trust,
            f"[{label}] api: TRUST_FORWARDED_FOR {want_trust} (set: {trust or 'no'}, Ingress: "
            f"{final['api']['ingress']['enabled']})")
    want_redis = f"redis://{FULLNAME}-redis:6379" if final["redis"]["enabled"] else None
    R.check(values.get("REDIS_URL") == want_redis, f"[{label}] api: REDIS_URL env {want_redis}")
    R.check(all(values.get(k) == v for k, v in overrides.items()), f"[{label}] api: api.config overrides {overrides}")
    for name in enabled:
        env = container_env(r.one("Deployment", f"{FULLNAME}-{name}"))
        R.check(dig(env, "METRICS_PORT", "value") == str(final["metrics"]["port"]),
                f"[{label}] {name}: METRICS_PORT {final['metrics']['port']}")
        overrides = settings_strings(workers[name].get("config"))
        R.check(all(dig(env, k, "value") == v for k, v in overrides.items()),
                f"[{label}] {name}: workers.{name}.config overrides {overrides}")
        required = WORKER_SECRETS.get(name)
        refs = {k for k, e in env.items() if dig(e, "valueFrom", "secretKeyRef")}
        if required:
            ref = dig(env, required, "valueFrom", "secretKeyRef") or {}
            R.check(ref.get("name") == secret_name and ref.get("key") == required and not ref.get("optional"),
                    f"[{label}] {name}: {required} from a non-optional secretKeyRef to {secret_name}")
        R.check(refs == ({required} if required else set()), f"[{label}] {name}: secretKeyRefs {sorted(refs)}")


def check_redis(label: str, r: Rendered, final: dict[str, Any]) -> None:
    """The optional in-chart Redis: hardened like toko's pods, reachable only from the API
    when NetworkPolicies are on, outside the release-wide selectors of toko pods."""
    name = f"{FULLNAME}-redis"
    deploy, service = r.one("Deployment", name), r.one("Service", name)
    if not final["redis"]["enabled"]:
        R.check(deploy is None and service is None, f"[{label}] no Redis when redis.enabled is false")
        return
    if not R.check(deploy is not None and service is not None, f"[{label}] Redis Deployment and Service exist"):
        return
    pod = deploy["spec"]["template"]
    image = f"{final['redis']['image']['repository']}:{final['redis']['image']['tag']}"
    check_pod_spec(label, name, pod, image)
    container = pod["spec"]["containers"][0]
    args = container.get("args", [])
    R.check(args[:1] == ["redis-server"] and ["--save", ""] == args[1:3] and "--maxmemory" in args,
            f"[{label}] {name}: redis-server without snapshots, with maxmemory")
    R.check(all(container.get(f"{k}Probe") for k in ("startup", "liveness", "readiness")), f"[{label}] {name}: probes")
    R.check(deploy["spec"].get("replicas") == 1 and dig(deploy, "spec", "strategy", "type") == "Recreate",
            f"[{label}] {name}: one replica, Recreate")
    labels = pod["metadata"]["labels"]
    R.check(labels.get("app.kubernetes.io/name") == "redis", f"[{label}] {name}: labelled as another application")
    if final["networkPolicy"]["enabled"]:
        policy = r.one("NetworkPolicy", name)
        api_labels = r.one("Deployment", f"{FULLNAME}-api")["spec"]["template"]["metadata"]["labels"]
        ok = policy is not None and policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
        peers = [p for rule in dig(policy, "spec", "ingress", default=[]) for p in rule.get("from", [])]
        ok = ok and bool(peers) and all(dig(p, "podSelector", "matchLabels", default={}).items() <= api_labels.items()
                                        and "namespaceSelector" not in p for p in peers)
        R.check(ok, f"[{label}] NetworkPolicy {name}: only the API pods reach Redis")
        for policy_name, policy in r.of("NetworkPolicy").items():
            if policy_name != name:
                R.check(not policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items(),
                        f"[{label}] NetworkPolicy {policy_name} does not select the Redis pod")


PRIVATE_V4 = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "127.0.0.0/8", "100.64.0.0/10"}


def check_webhook_egress(label: str, r: Rendered, final: dict[str, Any], workers: dict[str, dict[str, Any]],
                         enabled: list[str]) -> None:
    """With egress restricted, the webhook-dispatcher pods still reach merchants' endpoints:
    public addresses on 443 (and 80 when WEBHOOK_REQUIRE_HTTPS is false), and the networks
    of WEBHOOK_ALLOWED_NETWORKS."""
    name = f"{FULLNAME}-webhook-dispatcher-egress"
    policy = r.one("NetworkPolicy", name)
    restricted = bool(final["networkPolicy"]["enabled"] and final["networkPolicy"]["egress"])
    if not (restricted and "webhook-dispatcher" in enabled):
        R.check(policy is None, f"[{label}] no NetworkPolicy {name} unless egress is restricted and the dispatcher runs")
        return
    if not R.check(policy is not None, f"[{label}] NetworkPolicy {name} exists (egress is restricted)"):
        return
    pod_labels = r.one("Deployment", f"{FULLNAME}-webhook-dispatcher")["spec"]["template"]["metadata"]["labels"]
    selector = dig(policy, "spec", "podSelector", "matchLabels", default={})
    others = [r.one("Deployment", f"{FULLNAME}-{n}") for n in enabled if n != "webhook-dispatcher"]
    R.check(selector.items() <= pod_labels.items() and dig(policy, "spec", "policyTypes") == ["Egress"]
            and not any(selector.items() <= d["spec"]["template"]["metadata"]["labels"].items() for d in others),
            f"[{label}] NetworkPolicy {name}: egress of the webhook-dispatcher pods only")
    settings = {**settings_strings(final["config"]), **settings_strings(workers["webhook-dispatcher"].get("config"))}
    https = settings.get("WEBHOOK_REQUIRE_HTTPS", "true").strip().lower() not in ("false", "0", "no", "off")
    allowed = {n.strip() for n in settings.get("WEBHOOK_ALLOWED_NETWORKS", "").split(",") if n.strip()}
    rules = dig(policy, "spec", "egress", default=[])
    public = [rule for rule in rules
              if any(dig(peer, "ipBlock", "cidr") == "0.0.0.0/0" for peer in rule.get("to", []))]
    ports = {(p.get("port"), p.get("protocol", "TCP")) for rule in public for p in rule.get("ports", [])}
    excepted = {e for rule in public for peer in rule.get("to", [])
                if dig(peer, "ipBlock", "cidr") == "0.0.0.0/0" for e in dig(peer, "ipBlock", "except", default=[])}
    want = {(443, "TCP")} | (set() if https else {(80, "TCP")})
    R.check(len(public) == 1 and ports == want and PRIVATE_V4 <= excepted,
            f"[{label}] NetworkPolicy {name}: public addresses (private ranges excepted) on {sorted(want)} "
            f"(WEBHOOK_REQUIRE_HTTPS {https}; got {sorted(ports)}, except {sorted(excepted)})")
    reached = {dig(peer, "ipBlock", "cidr") for rule in rules if rule not in public for peer in rule.get("to", [])}
    R.check(reached == allowed, f"[{label}] NetworkPolicy {name}: WEBHOOK_ALLOWED_NETWORKS {sorted(allowed)} "
            f"reachable (got {sorted(c for c in reached if c)})")


def check_expectations(label: str, docs: list[dict[str, Any]], values: dict[str, Any],
                       defaults: dict[str, Any], worker_names: list[str]) -> None:
    r = Rendered(docs)
    final = merged(defaults, values)
    workers = effective_workers(defaults, values)
    keda = final["keda"]["enabled"]
    existing = final.get("existingSecret") or ""
    secret_name = existing or f"{FULLNAME}-secrets"
    image = f"{final['image']['repository']}:{final['image']['tag']}"

    # Labels on everything.
    for doc in docs:
        labels = dig(doc, "metadata", "labels") or {}
        R.check(all(k in labels for k in COMMON_LABELS),
                f"[{label}] {doc['kind']}/{doc['metadata']['name']}: common app.kubernetes.io/* labels")

    # Deployments: the API, each enabled worker and the optional Redis, nothing else.
    enabled = [n for n in worker_names if workers[n]["enabled"]]
    redis = bool(final["redis"]["enabled"])
    expected_deployments = {f"{FULLNAME}-api"} | {f"{FULLNAME}-{n}" for n in enabled} \
        | ({f"{FULLNAME}-redis"} if redis else set())
    R.check(set(r.of("Deployment")) == expected_deployments,
            f"[{label}] Deployments are {sorted(expected_deployments)} (got {sorted(r.of('Deployment'))})")
    account = (final["serviceAccount"].get("name") or FULLNAME) if final["serviceAccount"]["create"] \
        else (final["serviceAccount"].get("name") or "default")
    check_deployment(label, r, f"{FULLNAME}-api", ["toko-api"], API_PORT, not existing, secret_name, image, account)
    for name in enabled:
        check_deployment(label, r, f"{FULLNAME}-{name}", [name], METRICS_PORT, not existing, secret_name, image,
                         account)

    check_environment(label, r, final, workers, enabled, secret_name)
    check_redis(label, r, final)

    # Services select pods that exist, on ports those pods declare.
    pods = {name: d["spec"]["template"] for name, d in r.of("Deployment").items()}
    for name, svc in r.of("Service").items():
        selector = svc["spec"]["selector"]
        matches = [p for p in pods.values() if selector.items() <= p["metadata"]["labels"].items()]
        R.check(len(matches) == 1, f"[{label}] Service {name} selects exactly one Deployment's pods")
        for port in svc["spec"]["ports"]:
            declared = {p["name"] for m in matches for p in m["spec"]["containers"][0].get("ports", [])}
            R.check(port["targetPort"] in declared, f"[{label}] Service {name}: targetPort {port['targetPort']}")

    # Autoscaling: who scales what, and no fixed replicas where something scales.
    scaled_objects, hpas = r.of("ScaledObject"), r.of("HorizontalPodAutoscaler")
    targets: dict[str, str] = {}
    for kind, objects in (("ScaledObject", scaled_objects), ("HorizontalPodAutoscaler", hpas)):
        for name, obj in objects.items():
            target = obj["spec"]["scaleTargetRef"]["name"]
            R.check(target in pods, f"[{label}] {kind} {name} targets an existing Deployment")
            R.check(target not in targets, f"[{label}] {target} has a single autoscaler")
            targets[target] = kind
    for name, deploy in r.of("Deployment").items():
        R.check(("replicas" in deploy["spec"]) == (name not in targets),
                f"[{label}] {name}: spec.replicas set only when nothing autoscales it")
    api_scaled = final["api"]["autoscaling"]["enabled"]
    R.check((targets.get(f"{FULLNAME}-api") == "HorizontalPodAutoscaler") == api_scaled,
            f"[{label}] API CPU HPA {'present' if api_scaled else 'absent'}")
    for name in enabled:
        want = ("ScaledObject" if keda else "HorizontalPodAutoscaler") if workers[name]["autoscaling"]["enabled"] \
            else None
        R.check(targets.get(f"{FULLNAME}-{name}") == want, f"[{label}] {name} autoscaled by {want}")
    if not keda:
        R.check(not scaled_objects and not r.of("TriggerAuthentication"),
                f"[{label}] no KEDA objects when keda.enabled is false")
    auths = r.of("TriggerAuthentication")
    for name, obj in scaled_objects.items():
        worker = name[len(FULLNAME) + 1:]
        trigger = obj["spec"]["triggers"][0]
        auth = auths.get(dig(trigger, "authenticationRef", "name"))
        R.check(auth is not None, f"[{label}] ScaledObject {name}: its TriggerAuthentication exists")
        ref = dig(auth, "spec", "secretTargetRef", 0) or {}
        R.check(ref.get("name") == secret_name, f"[{label}] ScaledObject {name}: credentials from {secret_name}")
        if workers[worker]["scaler"] == "rabbitmq":
            R.check(trigger["type"] == "rabbitmq" and trigger["metadata"].get("queueName") == f"toko.{worker}"
                    and trigger["metadata"].get("mode") == "QueueLength"
                    and (ref.get("parameter"), ref.get("key")) == ("host", "RABBITMQ_URL"),
                    f"[{label}] ScaledObject {name}: queue length of toko.{worker}, host from RABBITMQ_URL")
        else:
            R.check(trigger["type"] == "postgresql" and trigger["metadata"].get("query") == OUTBOX_QUERY
                    and (ref.get("parameter"), ref.get("key")) == ("connection", "DATABASE_URL"),
                    f"[{label}] ScaledObject {name}: pending outbox rows, connection from DATABASE_URL")

    # Ingress only when enabled, routed to the API Service.
    ingresses = r.of("Ingress")
    if final["api"]["ingress"]["enabled"]:
        backends = [dig(p, "backend", "service") for ing in ingresses.values()
                    for rule in ing["spec"]["rules"] for p in rule["http"]["paths"]]
        R.check(bool(backends) and all(b == {"name": f"{FULLNAME}-api", "port": {"name": "http"}} for b in backends),
                f"[{label}] Ingress routes to {FULLNAME}-api:http")
    else:
        R.check(not ingresses, f"[{label}] no Ingress when api.ingress.enabled is false")

    # Secret and configuration.
    conventions_vars = conventions()[2]
    secrets = r.of("Secret", hooks=False)
    if existing:
        R.check(not r.of("Secret"), f"[{label}] no Secret rendered with existingSecret")
    else:
        secret = secrets.get(secret_name)
        R.check(secret is not None and set(REQUIRED_SECRETS) <= set(secret.get("data", {})),
                f"[{label}] Secret {secret_name} holds {', '.join(REQUIRED_SECRETS)}")
        R.check(set(dig(secret, "data", default={})) <= conventions_vars,
                f"[{label}] Secret keys are documented in CONVENTIONS.md")
    config = r.one("ConfigMap", f"{FULLNAME}-config") or {}
    data = config.get("data") or {}
    expected = settings_strings(final["config"])
    R.check(data == expected, f"[{label}] ConfigMap mirrors config (non-empty values)")
    R.check(set(data) <= conventions_vars, f"[{label}] ConfigMap keys are documented in CONVENTIONS.md")

    # Migration hook.
    jobs = r.of("Job")
    if final["migrations"]["enabled"]:
        job = jobs.get(f"{FULLNAME}-migrate")
        if R.check(job is not None, f"[{label}] migration Job exists"):
            ann = job["metadata"]["annotations"]
            R.check(set(ann.get("helm.sh/hook", "").split(",")) == {"pre-install", "pre-upgrade"}
                    and "helm.sh/hook-delete-policy" in ann and "helm.sh/hook-weight" in ann,
                    f"[{label}] migration Job is a weighted pre-install/pre-upgrade hook with a delete policy")
            pod = job["spec"]["template"]
            check_pod_spec(label, "migrate", pod, image)
            containers = pod["spec"]["containers"]
            container = containers[0]
            R.check(container.get("args") == ["tokoctl", "migrate"], f"[{label}] migration runs tokoctl migrate")
            # The RabbitMQ topology before any worker: a queue exists, and so a backlog KEDA can
            # see, even for a worker scaled to zero from the first install on.
            setup = [c for c in containers if c.get("args") == ["tokoctl", "messaging", "setup"]]
            scaled_to_zero = sorted(n for n, w in workers.items()
                                    if w["enabled"] and dig(w, "autoscaling", "minReplicas") == 0)
            R.check(len(setup) == 1 and setup[0].get("envFrom") == container.get("envFrom")
                    and setup[0].get("env") == container.get("env"),
                    f"[{label}] the hook Job also runs tokoctl messaging setup, with the same settings"
                    + (f" (workers at minReplicas 0: {scaled_to_zero})" if scaled_to_zero else ""))
            if not existing:
                hook_secret = r.of("Secret", hooks=True).get(f"{FULLNAME}-migrate") or {}
                R.check(set(hook_secret.get("data") or {}) == {"DATABASE_URL", "RABBITMQ_URL"},
                        f"[{label}] the hook Secret holds DATABASE_URL and RABBITMQ_URL only")
            # A hook runs before the release's ordinary objects exist: everything it uses must
            # be external (existingSecret, an existing ServiceAccount) or a lower-weight hook.
            refs = [e["secretRef"]["name"] for e in container.get("envFrom", []) if "secretRef" in e]
            refs += [dig(e, "valueFrom", "secretKeyRef", "name") for e in container.get("env", [])
                     if dig(e, "valueFrom", "secretKeyRef")]
            uses_config = any("configMapRef" in e for e in container.get("envFrom", []))
            R.check(not uses_config, f"[{label}] migration Job does not need the (not yet created) ConfigMap")
            R.check(pod["spec"].get("serviceAccountName", "default") != FULLNAME,
                    f"[{label}] migration Job does not need the (not yet created) ServiceAccount")
            hook_secrets = r.of("Secret", hooks=True)
            weight = int(ann.get("helm.sh/hook-weight", 0))
            for ref in refs:
                if existing and ref == existing:
                    R.check(True, f"[{label}] migration Job reads existingSecret {ref}")
                    continue
                hook = hook_secrets.get(ref)
                R.check(hook is not None
                        and int(hook["metadata"]["annotations"].get("helm.sh/hook-weight", 0)) < weight
                        and set(hook["metadata"]["annotations"]["helm.sh/hook"].split(","))
                        >= {"pre-install", "pre-upgrade"},
                        f"[{label}] migration Job's Secret {ref} is a hook created before it")
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            R.check(all(env.get(k) == v for k, v in expected.items()),
                    f"[{label}] migration Job gets the config inline")
    else:
        R.check(not jobs, f"[{label}] no migration Job when migrations.enabled is false")
        api_env = {e["name"]: e.get("value") for e in
                   r.one("Deployment", f"{FULLNAME}-api")["spec"]["template"]["spec"]["containers"][0]["env"]}
        R.check(api_env.get("RUN_MIGRATIONS") == "true", f"[{label}] the API migrates at startup instead")

    # Optional objects.
    for kind, flag in (("ServiceMonitor", final["metrics"]["serviceMonitor"]["enabled"]),
                       ("NetworkPolicy", final["networkPolicy"]["enabled"]),
                       ("PodDisruptionBudget", final["api"]["podDisruptionBudget"]["enabled"])):
        R.check(bool(r.of(kind)) == bool(flag), f"[{label}] {kind} {'present' if flag else 'absent'}")
    R.check(bool(r.of("ServiceAccount")) == final["serviceAccount"]["create"], f"[{label}] ServiceAccount")
    check_webhook_egress(label, r, final, workers, enabled)
    for name, monitor in r.of("ServiceMonitor").items():
        ports = {e["port"] for e in monitor["spec"]["endpoints"]}
        selector = monitor["spec"]["selector"]["matchLabels"]
        services = {n: svc for n, svc in r.of("Service").items()
                    if selector.items() <= svc["metadata"]["labels"].items()}
        R.check(set(services) == {f"{FULLNAME}-api"} | {f"{FULLNAME}-{n}" for n in enabled},
                f"[{label}] ServiceMonitor {name} selects the API and worker Services only ({sorted(services)})")
        R.check(all({p["name"] for p in svc["spec"]["ports"]} & ports for svc in services.values()),
                f"[{label}] ServiceMonitor {name} scrapes every Service it selects (API and workers)")


# ---------------------------------------------------------------------------------------
# Values sets, and values the schema must reject
# ---------------------------------------------------------------------------------------
VALUE_SETS: dict[str, dict[str, Any]] = {
    # Chart defaults plus the secrets an install with every worker must give.
    "defaults": SECRETS,
    # The three secrets only: no payments, no emails.
    "minimal": merged(MINIMAL_SECRETS, {"workers": {"payment-poller": {"enabled": False},
                                                    "notifier": {"enabled": False}}}),
    "keda-off": merged(SECRETS, {"keda": {"enabled": False}}),
    "ingress-on": merged(SECRETS, {"api": {"ingress": {
        "enabled": True, "className": "nginx",
        "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"},
        "hosts": [{"host": "shop.example.com", "paths": [{"path": "/api", "pathType": "Prefix"}]}],
        "tls": [{"secretName": "toko-tls", "hosts": ["shop.example.com"]}]}}}),
    "existing-secret": {"existingSecret": "toko-secrets"},
    "elasticsearch": merged(SECRETS, {"config": {
        "SEARCH_BACKEND": "elasticsearch", "ELASTICSEARCH_URL": "http://elasticsearch.search.svc:9200",
        "ELASTICSEARCH_USERNAME": "toko"}, "secrets": {"ELASTICSEARCH_PASSWORD": "pw"}}),
    "external-redis": merged(SECRETS, {"secrets": {
        "REDIS_URL": "redis://:pw@redis.cache.svc.cluster.local:6379",
        "RABBITMQ_MANAGEMENT_URL": "http://toko:pw@rabbitmq.mq.svc.cluster.local:15672"},
        "config": {"TRUST_FORWARDED_FOR": True, "RATE_LIMIT_ANONYMOUS_PER_MINUTE": 120, "RETRY_DELAYS": "5s,30s"}}),
    "all-features": merged(SECRETS, {
        "secrets": {"MIDTRANS_SERVER_KEY": "SB-Mid-server-x", "MIDTRANS_CLIENT_KEY": "SB-Mid-client-x",
                    "SMTP_URL": "smtp://mail:587"},
        "redis": {"enabled": True},
        "config": {"REQUEST_BODY_LIMIT": 2097152, "RATE_LIMIT_ENABLED": "on", "SHIPPING_METHODS": "std:Std:0"},
        "imagePullSecrets": [{"name": "regcred"}],
        "extraEnv": [{"name": "RUST_BACKTRACE", "value": "1"}],
        "podAnnotations": {"example.com/team": "shop"},
        "priorityClassName": "toko-high",
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "shop", "effect": "NoSchedule"}],
        "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/toko"}},
        "api": {"ingress": {"enabled": True,
                            "hosts": [{"host": "shop.example.com",
                                       "paths": [{"path": "/api", "pathType": "Prefix"}]}]},
                "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                               "whenUnsatisfiable": "ScheduleAnyway"}],
                "podDisruptionBudget": {"maxUnavailable": "25%"},
                "config": {"DATABASE_MAX_CONNECTIONS": 40, "TRUST_FORWARDED_FOR": False}},
        "terminationGracePeriodSeconds": 60,
        "workers": {"notifier": {"autoscaling": {"minReplicas": 0},
                                 "config": {"CONCURRENCY": 8, "DRAIN_TIMEOUT": "50s"}},
                    "search-indexer": {"podAnnotations": {"example.com/queue": "toko.search-indexer"}},
                    "webhook-dispatcher": {"config": {"WEBHOOK_REQUIRE_HTTPS": False,
                                                      "WEBHOOK_ALLOWED_NETWORKS": "10.20.0.0/16, 192.168.7.0/24"}}},
        "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}}},
        "networkPolicy": {
            "enabled": True,
            "apiIngressFrom": [{"namespaceSelector": {"matchLabels": {
                "kubernetes.io/metadata.name": "ingress-nginx"}}}],
            "metricsIngressFrom": [{"namespaceSelector": {"matchLabels": {
                "kubernetes.io/metadata.name": "monitoring"}}}],
            "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]},
    }),
    # Everything fixed: no autoscaling, migrations by the API, one worker off, no extras.
    "fixed-replicas": merged(SECRETS, {
        "config": {"APP_ENV": "development", "LOG_FORMAT": "text", "RUST_LOG": "info,toko=debug"},
        "api": {"replicaCount": 3, "autoscaling": {"enabled": False}, "podDisruptionBudget": {"enabled": False}},
        "workerDefaults": {"autoscaling": {"enabled": False}, "replicaCount": 2},
        "workers": {"payment-poller": {"enabled": False}, "notifier": {"replicaCount": 0}},
        "migrations": {"enabled": False},
        "serviceAccount": {"create": False},
        "tests": {"enabled": False},
    }),
}

SCHEMA_REJECTS: dict[str, dict[str, Any]] = {
    "negative API replica count": {"api": {"replicaCount": -1}},
    "negative worker replica count": {"workers": {"notifier": {"replicaCount": -2}}},
    "non-integer replica count": {"workerDefaults": {"replicaCount": 1.5}},
    "string where an integer is required (api.replicaCount)": {"api": {"replicaCount": "3"}},
    "string where an integer is required (maxReplicas)": {"workers": {"search-indexer": {
        "autoscaling": {"maxReplicas": "10"}}}},
    "empty image tag": {"image": {"tag": ""}},
    "image tag that is not a string": {"image": {"tag": 1.2}},
    "unknown search backend": {"config": {"SEARCH_BACKEND": "solr"}},
    "elasticsearch backend without ELASTICSEARCH_URL": {"config": {"SEARCH_BACKEND": "elasticsearch"}},
    "bad pullPolicy": {"image": {"pullPolicy": "Sometimes"}},
    "typo in a top-level key": {"replicaCont": 2},
    "typo in a nested key": {"api": {"autoscalling": {"enabled": False}}},
    "unknown worker name": {"workers": {"search-indexr": {}}},
    "unknown KEDA scaler": {"workers": {"notifier": {"scaler": "kafka"}}},
    "unknown APP_ENV": {"config": {"APP_ENV": "staging"}},
    "bad LOG_FORMAT": {"config": {"LOG_FORMAT": "xml"}},
    "CPU target above 100%": {"api": {"autoscaling": {"targetCPUUtilizationPercentage": 150}}},
    "port out of range": {"metrics": {"port": 70000}},
    "unknown secret key": {"secrets": {"DATABASE_PASSWORD": "x"}},
    "bad ingress pathType": {"api": {"ingress": {"hosts": [{"host": "a.b", "paths": [
        {"path": "/", "pathType": "Anything"}]}]}}},
    "unknown config key": {"config": {"RATE_LIMIT_PER_MINUTE": 10}},
    "unknown key in a worker's config": {"workers": {"notifier": {"config": {"CONCURENCY": 2}}}},
    "secret in a worker's config": {"workers": {"notifier": {"config": {"SMTP_URL": "smtp://x:25"}}}},
    "secret in config": {"config": {"REDIS_URL": "redis://r:6379"}},
    "bad type in api.config": {"api": {"config": {"DATABASE_MAX_CONNECTIONS": "many"}}},
    "shipping method without a fee": {"config": {"SHIPPING_METHODS": "standard:Standard"}},
    "zero retry delay": {"config": {"RETRY_DELAYS": "1s,0s"}},
    "zero webhook retry delay": {"config": {"WEBHOOK_RETRY_DELAYS": "5s,0s"}},
    "webhook network without a prefix length": {"config": {"WEBHOOK_ALLOWED_NETWORKS": "10.0.0.0/8,192.168.1.10"}},
    "zero webhook sweep interval": {"workers": {"webhook-dispatcher": {"config": {"WEBHOOK_SWEEP_INTERVAL": "0s"}}}},
    "PREFETCH above u16": {"config": {"PREFETCH": 70000}},
    "OUTBOX_BATCH_SIZE of 0": {"config": {"OUTBOX_BATCH_SIZE": 0}},
    "zero rate limit window": {"config": {"RATE_LIMIT_WINDOW": "0s"}},
    "bad duration unit": {"config": {"REQUEST_TIMEOUT": "30 seconds"}},
    "bad boolean": {"config": {"TRUST_FORWARDED_FOR": "maybe"}},
    "REDIS_URL that is not redis://": {"secrets": {"REDIS_URL": "http://redis:6379"}},
    "DATABASE_URL that is not postgres://": {"secrets": {"DATABASE_URL": "mysql://db/toko"}},
    "unknown redis key": {"redis": {"enable": True}},
}

TEMPLATE_REJECTS: dict[str, tuple[dict[str, Any], str]] = {
    "no secrets and no existingSecret": ({}, "secrets.DATABASE_URL is required"),
    "weak JWT_SECRET in production": (merged(SECRETS, {"secrets": {"JWT_SECRET": "short"}}), "at least 32 bytes"),
    "payment-poller without MIDTRANS_SERVER_KEY": (
        merged(MINIMAL_SECRETS, {"secrets": {"SMTP_URL": "smtp://mail:587"}}),
        "workers.payment-poller is enabled but secrets.MIDTRANS_SERVER_KEY is empty"),
    "notifier without SMTP_URL": (
        merged(MINIMAL_SECRETS, {"secrets": {"MIDTRANS_SERVER_KEY": "SB-x"}}),
        "workers.notifier is enabled but secrets.SMTP_URL is empty"),
    "in-chart Redis and secrets.REDIS_URL": (
        merged(SECRETS, {"redis": {"enabled": True}, "secrets": {"REDIS_URL": "redis://r:6379"}}),
        "redis.enabled and secrets.REDIS_URL are both set"),
    "DRAIN_TIMEOUT not below the grace period": (
        merged(SECRETS, {"config": {"DRAIN_TIMEOUT": "30s"}}), "must be shorter than terminationGracePeriodSeconds"),
    "one worker's DRAIN_TIMEOUT not below the grace period": (
        merged(SECRETS, {"workers": {"notifier": {"config": {"DRAIN_TIMEOUT": "1m"}}}}),
        "DRAIN_TIMEOUT of notifier (1m)"),
}


def check_rejections(chart: helm.Chart) -> None:
    R.section(f"values.schema.json rejects bad values ({len(SCHEMA_REJECTS)} cases; the render must fail)")
    for what, bad in SCHEMA_REJECTS.items():
        try:
            render(chart, merged(SECRETS, bad))
            R.check(False, f"schema accepted: {what}")
        except helm.HelmValuesError as exc:
            R.check(True, what)
            detail = str(exc).strip().splitlines()[-1].strip()
            print(f"  ok   rejected {what}: {detail}")
        except helm.HelmError as exc:
            R.check(False, f"{what}: failed outside the schema ({type(exc).__name__}: {exc})")
    R.section("templates refuse incomplete secrets")
    for what, (bad, message) in TEMPLATE_REJECTS.items():
        try:
            render(chart, bad)
            R.check(False, f"render accepted: {what}")
        except helm.HelmError as exc:
            if R.check(message in str(exc), f"{what}: error mentions '{message}' ({exc})"):
                print(f"  ok   rejected {what}")


# ---------------------------------------------------------------------------------------
# Chart, lint, k8s/, docs
# ---------------------------------------------------------------------------------------
def check_chart(chart: helm.Chart, worker_names: list[str]) -> dict[str, tuple[int, int]]:
    defaults = chart.values
    schema = chart.schema or {}
    R.section("chart metadata and values")
    R.check(schema.get("$schema", "").startswith("http://json-schema.org/draft-07/schema"),
            "values.schema.json declares draft-07")
    R.check(defaults["image"]["tag"] == chart.metadata.get("appVersion"), "image.tag defaults to appVersion")
    R.check(sorted(defaults["workers"]) == sorted(worker_names),
            f"values.workers are the worker binaries of CONVENTIONS.md: {sorted(worker_names)}")
    # config.* against the code and the docs: check_settings. Per-component overrides take
    # the same keys (they share the config schema).
    for where, node in (("api.config", dig(schema, "properties", "api", "properties", "config")),
                        ("workers.<name>.config", dig(schema, "definitions", "worker", "properties", "config"))):
        R.check(dig(schema, "definitions", "componentConfig", "$ref") == "#/properties/config"
                and node == {"$ref": "#/definitions/componentConfig"}, f"{where} uses the schema of config")
    undocumented = undocumented_values_keys((CHART / "values.yaml").read_text().splitlines())
    R.check(not undocumented, f"every key of values.yaml has a comment (undocumented: {undocumented[:5]})")

    counts: dict[str, tuple[int, int]] = {}
    for label, values in VALUE_SETS.items():
        R.section(f"values set '{label}'")
        try:
            docs = render(chart, values)
        except helm.HelmError as exc:
            R.check(False, f"[{label}] render failed: {exc}")
            continue
        counts[label] = validate_manifests(label, docs)
        check_expectations(label, docs, values, defaults, worker_names)
        report = helm.lint(CHART, values, strict=True, namespace=NAMESPACE, kube_version=f"v{K8S_VERSION}")
        problems = [m for m in report["messages"] if m["severity"] >= 2] + \
            [{"path": "", "error": e} for e in report["errors"]]
        R.check(not problems, f"[{label}] helm lint --strict: {problems}")
        core, crd = counts[label]
        print(f"  {core + crd} manifests: {core} valid against Kubernetes {K8S_VERSION} schemas (strict), "
              f"{crd} CRD objects checked structurally; lint clean")
    return counts


def _comment_above(lines: list[str], index: int) -> str:
    """The block of comment lines directly above lines[index]."""
    block = []
    for line in reversed(lines[:index]):
        if not line.strip().startswith("#"):
            break
        block.append(line.strip())
    return "\n".join(reversed(block))


def undocumented_values_keys(lines: list[str]) -> list[str]:
    """Keys of values.yaml with no comment of their own and no `# --` comment on an
    enclosing key (a `# --` comment documents its whole block, e.g. resources or probes)."""
    missing = []
    for index, line in enumerate(lines):
        match = re.match(r"^(\s*)([A-Za-z][\w.-]*):", line)
        if not match or _comment_above(lines, index):
            continue
        indent, covered = len(match.group(1)), False
        for j in range(index - 1, -1, -1):
            text = lines[j]
            if not text.strip() or text.strip().startswith("#"):
                continue
            depth = len(text) - len(text.lstrip())
            if depth < indent:
                indent = depth
                if "# --" in _comment_above(lines, j):
                    covered = True
                    break
                if depth == 0:
                    break
        if not covered:
            missing.append(line.strip())
    return missing


def check_k8s_dir(chart: helm.Chart) -> dict[str, Any]:
    R.section("k8s/ manifests")
    found: dict[str, Any] = {}
    for path in sorted((ROOT / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc:
                continue
            found[doc["kind"]] = doc
            try:
                kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
                R.check(True, path.name)
            except kubernetes_validate.ValidationError as exc:
                R.check(False, f"k8s/{path.name}: {str(exc).splitlines()[0]}")
    namespace, secret = found.get("Namespace"), found.get("Secret")
    if R.check(namespace is not None and secret is not None, "k8s/namespace.yaml and k8s/secret.yaml exist"):
        R.check(namespace["metadata"]["name"] == NAMESPACE == secret["metadata"].get("namespace"),
                f"namespace {NAMESPACE} used by both files")
        chart_keys = set(chart.schema["properties"]["secrets"]["properties"])
        keys = set(secret.get("stringData", {}))
        # The chart's defaults run every worker: their keys are required too.
        required = set(REQUIRED_SECRETS) | set(WORKER_SECRETS.values())
        R.check(required <= keys <= chart_keys,
                f"k8s/secret.yaml keys are the chart's secret keys (extra {sorted(keys - chart_keys)}, "
                f"missing required {sorted(required - keys)})")
        R.check(dig(namespace, "metadata", "labels", "pod-security.kubernetes.io/enforce") == "restricted",
                "namespace enforces the restricted Pod Security level")
    return found


def shell_commands(markdown: str) -> list[str]:
    """Commands of the ```bash blocks of a Markdown file, continuation lines joined."""
    commands = []
    for block in re.findall(r"```(?:bash|sh|shell)\n(.*?)```", markdown, re.S):
        for command in re.sub(r"\\\n\s*", " ", block).splitlines():
            command = command.strip()
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


def check_docs(chart: helm.Chart, k8s: dict[str, Any]) -> None:
    R.section("docs/DEPLOY.md commands match the chart")
    doc_path = ROOT / "docs" / "DEPLOY.md"
    if not R.check(doc_path.exists(), "docs/DEPLOY.md exists"):
        return
    text = doc_path.read_text()
    for heading in ("Docker", "docker compose", "Deploy to Kubernetes"):
        R.check(re.search(rf"^#+ {re.escape(heading)}\s*$", text, re.M | re.I) is not None,
                f"DEPLOY.md has a '{heading}' section")
    commands = shell_commands(text)
    applies = [c for c in commands if c.startswith("kubectl apply -f")]
    R.check("kubectl apply -f k8s/namespace.yaml" in applies and "kubectl apply -f k8s/secret.yaml" in applies,
            "DEPLOY.md applies k8s/namespace.yaml and k8s/secret.yaml")
    for command in applies:
        R.check((ROOT / command.split()[3]).exists(), f"`{command}`: the file exists")
    installs = [c for c in commands if re.match(r"helm (install|upgrade)\b", c) and "./helm/" in c]
    R.check(bool(installs), "DEPLOY.md has helm install commands")
    first_values: dict[str, Any] = {}
    for command in installs:
        # $(...) stands for a value the reader's shell computes, e.g. $(openssl rand -base64 48).
        args = shlex.split(re.sub(r"\$\([^)]*\)", "substituted-by-the-shell-0123456789abcdefghijkl", command))
        # --reuse-values: an upgrade starts from the values of the documented install.
        base = first_values if "--reuse-values" in args else {}
        positional, values, namespace, i = [], copy.deepcopy(base), None, 2
        # Helm applies every --set of one kind into the same map (list indices merge).
        sets: dict[str, list[str]] = {"--set": [], "--set-string": [], "--set-json": []}
        while i < len(args):
            arg = args[i]
            if arg in ("--namespace", "-n"):
                namespace, i = args[i + 1], i + 2
            elif arg in sets:
                sets[arg].append(args[i + 1])
                i += 2
            elif arg in ("-f", "--values"):
                values, i = merged(values, yaml.safe_load((ROOT / args[i + 1]).read_text()) or {}), i + 2
            elif arg.startswith("-"):
                i += 1
            else:
                positional.append(arg)
                i += 1
        for flag, parse in (("--set", helm.parse_set_string), ("--set-string", helm.parse_set_string_values),
                            ("--set-json", helm.parse_set_json)):
            if sets[flag]:
                values = merged(values, parse(",".join(sets[flag])))
        if not first_values:
            first_values = values
        what = f"`{command[:90]}...`"
        R.check(positional[-1:] == ["./helm/toko"], f"{what}: chart path ./helm/toko")
        R.check(namespace == NAMESPACE, f"{what}: --namespace {NAMESPACE}")
        if values.get("existingSecret"):
            R.check(values["existingSecret"] == dig(k8s, "Secret", "metadata", "name"),
                    f"{what}: existingSecret is the Secret of k8s/secret.yaml")
        try:
            docs = render(chart, values)
            R.check(bool(docs), f"{what}: renders")
        except helm.HelmError as exc:
            R.check(False, f"{what}: does not render: {exc}")
    for sub in ("list", "show", "replay", "purge"):
        R.check(f"tokoctl dlq {sub}" in text, f"DEPLOY.md explains `tokoctl dlq {sub}`")


# ---------------------------------------------------------------------------------------
# docker-compose.yml and Dockerfile
# ---------------------------------------------------------------------------------------
def check_compose(binaries: list[str], worker_names: list[str]) -> None:
    R.section("docker-compose.yml (docker-compose config)")
    tool = shutil.which("docker-compose")
    if not R.check(tool is not None, "docker-compose is installed"):
        return
    compose = ["docker-compose", "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yml")]
    quiet = subprocess.run([*compose, "config", "-q"], capture_output=True, text=True, cwd=ROOT)
    R.check(quiet.returncode == 0 and not quiet.stderr.strip(),
            f"docker-compose config -q: rc={quiet.returncode} {quiet.stderr.strip()}")
    full = subprocess.run([*compose, "config"], capture_output=True, text=True, cwd=ROOT)
    if not R.check(full.returncode == 0, "docker-compose config resolves the file"):
        return
    services = yaml.safe_load(full.stdout)["services"]
    infra = {"postgres", "rabbitmq", "elasticsearch", "mailpit", "redis"}
    relay_and_workers = ["outbox-relay", *[w for w in worker_names if w != "outbox-relay"]]
    one_shots = {"migrate", "messaging-setup"}
    toko = {"midtrans-sim", *one_shots, "api", *relay_and_workers}
    R.check(infra | toko <= set(services), f"services present: missing {sorted((infra | toko) - set(services))}")
    images = {services[s].get("image") for s in toko if s in services}
    R.check(len(images) == 1, f"every toko service runs the same image ({images})")
    R.check(sum("build" in services[s] for s in toko if s in services) == 1, "the image is built exactly once")
    expected_commands = {"midtrans-sim": ["midtrans-sim"], "migrate": ["tokoctl", "migrate"],
                         "messaging-setup": ["tokoctl", "messaging", "setup"],
                         "api": ["toko-api"], **{w: [w] for w in relay_and_workers}}
    for name, command in expected_commands.items():
        svc = services.get(name, {})
        R.check(svc.get("command") == command, f"{name}: command {command}")
        R.check(command[0] in binaries, f"{name}: {command[0]} is a binary of CONVENTIONS.md")
    for name in infra | toko - one_shots:
        R.check(bool(dig(services, name, "healthcheck", "test")), f"{name}: has a healthcheck")
    R.check(dig(services, "api", "healthcheck", "test") == ["CMD", "toko-healthcheck", "3000", "/health/ready"],
            "api healthcheck: GET /health/ready on 3000")
    for name in relay_and_workers:
        svc = services.get(name, {})
        R.check(dig(svc, "healthcheck", "test") == ["CMD", "toko-healthcheck", "9100", "/health/ready"],
                f"{name}: healthcheck GET /health/ready on 9100")
        R.check(dig(svc, "depends_on", "migrate", "condition") == "service_completed_successfully"
                and dig(svc, "depends_on", "messaging-setup", "condition") == "service_completed_successfully"
                and dig(svc, "depends_on", "rabbitmq", "condition") == "service_healthy"
                and dig(svc, "depends_on", "postgres", "condition") == "service_healthy",
                f"{name}: waits for migrate and messaging-setup (completed) and healthy postgres + rabbitmq")
    for name, svc in services.items():
        for dep, cond in (svc.get("depends_on") or {}).items():
            want = "service_completed_successfully" if dep in one_shots else "service_healthy"
            R.check(cond.get("condition") == want, f"{name} -> {dep}: condition {want}")
    env = dig(services, "api", "environment") or {}
    wanted = {"SEARCH_BACKEND": "elasticsearch", "ELASTICSEARCH_URL": "http://elasticsearch:9200",
              "SMTP_URL": "smtp://mailpit:1025", "MIDTRANS_SNAP_URL": "http://midtrans-sim:3900/snap/v1",
              "MIDTRANS_API_URL": "http://midtrans-sim:3900", "REDIS_URL": "redis://redis:6379",
              "RABBITMQ_MANAGEMENT_URL": "http://toko:toko@rabbitmq:15672", "APP_ENV": "development"}
    R.check(all(env.get(k) == v for k, v in wanted.items()), f"api env wiring: {wanted}")
    # Unset RUST_LOG keeps each binary's own filter (the workers' hides lapin's message bodies).
    R.check("RUST_LOG" in env and env["RUST_LOG"] in (None, ""),
            "RUST_LOG is passed through from the shell, not fixed (per-binary default filters)")
    read = set(code_variables()) | PENDING_VARIABLES
    for name in ("api", "midtrans-sim"):
        unknown = sorted(set(dig(services, name, "environment") or {}) - read)
        R.check(not unknown, f"{name}: every environment variable is one the code reads (unknown {unknown})")
    R.check(env.get("MIDTRANS_SERVER_KEY") and env.get("SMTP_URL"),
            "payment-poller and notifier get MIDTRANS_SERVER_KEY and SMTP_URL")
    R.check(len(env.get("JWT_SECRET", "")) >= 32, "JWT_SECRET placeholder has >= 32 characters")
    R.check(env.get("DATABASE_URL", "").startswith("postgres://") and "@postgres:5432/" in env["DATABASE_URL"]
            and env.get("RABBITMQ_URL", "").startswith("amqp://") and "@rabbitmq:5672/" in env["RABBITMQ_URL"],
            "DATABASE_URL and RABBITMQ_URL point at the compose services")
    for name in toko:
        if name != "midtrans-sim":
            R.check(services.get(name, {}).get("environment") == env, f"{name}: shares the x-toko-env environment")
    sim = dig(services, "midtrans-sim", "environment") or {}
    R.check(sim.get("SIM_NOTIFICATION_URL") == "http://api:3000/api/v1/payments/midtrans/notification"
            and sim.get("SIM_PUBLIC_URL") == "http://localhost:3900" and str(sim.get("PORT")) == "3900"
            and sim.get("HOST") == "0.0.0.0" and sim.get("MIDTRANS_SERVER_KEY") == env.get("MIDTRANS_SERVER_KEY"),
            "midtrans-sim env (notification URL, public URL, port, shared server key)")
    R.check(str(dig(services, "postgres", "image", default="")).startswith("postgres:16")
            and str(dig(services, "rabbitmq", "image", default="")).endswith("3-management")
            and ":8." in str(dig(services, "elasticsearch", "image", default="")),
            "images: postgres 16, rabbitmq 3-management, elasticsearch 8.x")
    es_env = dig(services, "elasticsearch", "environment") or {}
    R.check(es_env.get("discovery.type") == "single-node" and es_env.get("xpack.security.enabled") == "false"
            and "-Xmx" in es_env.get("ES_JAVA_OPTS", ""), "elasticsearch: single node, security off, small heap")
    R.check(container_ports(services, "mailpit") >= {"1025", "8025"} and "15672" in container_ports(services, "rabbitmq"),
            "mailpit SMTP 1025 / UI 8025, RabbitMQ UI 15672")
    text = (ROOT / "docker-compose.yml").read_text()
    R.check(re.search(r"^x-toko-env: &", text, re.M) is not None, "environment written once (x-toko-env anchor)")


def check_quickstart(worker_names: list[str]) -> None:
    R.section("scripts/quickstart.sh")
    text = (ROOT / "scripts" / "quickstart.sh").read_text()
    started = {w for group in re.findall(r"^\s*(?:\[\[[^\n]*&&\s*)?workers\+?=\(([^)]*)\)", text, re.M)
               for w in group.split()}
    R.check(started == set(worker_names), f"the quick start starts every worker of CONVENTIONS.md "
            f"(missing {sorted(set(worker_names) - started)}, unknown {sorted(started - set(worker_names))})")


def container_ports(services: dict[str, Any], name: str) -> set[str]:
    """Container-side ports of a compose service (short "ip:host:container" or long syntax)."""
    return {str(p["target"]) if isinstance(p, dict) else str(p).rsplit(":", 1)[-1].split("/")[0]
            for p in dig(services, name, "ports", default=[])}


def workspace_binaries() -> set[str]:
    """Binaries `cargo build --workspace --bins` produces: explicit [[bin]] targets, plus
    src/main.rs and src/bin/*.rs of members that keep Cargo's automatic discovery."""
    workspace = tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]
    members = sorted({p for pattern in workspace["members"] for p in ROOT.glob(pattern) if (p / "Cargo.toml").exists()})
    binaries: set[str] = set()
    for member in members:
        manifest = tomllib.loads((member / "Cargo.toml").read_text())
        binaries |= {b["name"] for b in manifest.get("bin", [])}
        if manifest["package"].get("autobins", True):
            explicit = {(member / b["path"]).resolve() for b in manifest.get("bin", []) if "path" in b}
            if (member / "src" / "main.rs").exists() and (member / "src" / "main.rs").resolve() not in explicit:
                binaries.add(manifest["package"]["name"])
            binaries |= {p.stem for p in (member / "src" / "bin").glob("*.rs") if p.resolve() not in explicit}
    return binaries


def check_dockerfile(binaries: list[str]) -> None:
    R.section("Dockerfile")
    text = (ROOT / "Dockerfile").read_text()
    loop = re.search(r"for bin in (.*?); do", text, re.S)
    shipped = loop.group(1).replace("\\", " ").split() if loop else []
    R.check(sorted(shipped) == sorted(binaries), f"ships every binary of CONVENTIONS.md ({sorted(shipped)})")
    built = workspace_binaries() - DEV_BINARIES.keys()
    R.check(set(shipped) == built | PENDING_BINARIES,
            f"ships exactly the binaries the workspace builds (built {sorted(built)}, pending from other "
            f"branches {sorted(PENDING_BINARIES - built)}; extra {sorted(set(shipped) - built - PENDING_BINARIES)}, "
            f"missing {sorted(built - set(shipped))})")
    report_pending("PENDING_BINARIES", PENDING_BINARIES, built, "built by the workspace")
    R.check("cargo build --release --locked --workspace --bins" in text, "builds with --locked --workspace --bins")
    R.check(re.search(r"^ARG RUST_VERSION=1\.95$", text, re.M) is not None, "Rust toolchain 1.95")
    stages = re.findall(r"^FROM (\S+)(?: AS (\w+))?", text, re.M)
    names = [name for _, name in stages]
    R.check(len(stages) >= 3 and names[-1] == "runtime" and "bookworm-slim" in stages[-1][0].replace(
        "${DEBIAN_SUITE}", "bookworm"), f"multi-stage, runtime on debian bookworm-slim ({stages})")
    cook, copy_all = text.find("cargo chef cook"), text.find("COPY . .", text.find("AS builder"))
    R.check(0 < cook < copy_all, "dependencies cooked (cargo-chef) in their own layer before the sources")
    R.check(re.search(r"apt-get install[^\n]*\bca-certificates\b[^\n]*\blibssl3\b", text) is not None,
            "runtime installs ca-certificates and libssl3")
    user = re.findall(r"^USER (\S+)", text, re.M)
    R.check(bool(user) and not user[-1].startswith(("root", "0")) and user[-1].split(":")[0].isdigit(),
            "runs as a numeric non-root user")
    R.check(text.count("org.opencontainers.image.") >= 4, "OCI labels")
    R.check(re.search(r'^CMD \["toko-api"\]', text, re.M) is not None, "default CMD runs toko-api")
    ignore = (ROOT / ".dockerignore").read_text().split()
    R.check(all(p in ignore for p in ("target/", ".git/", ".venv/")), ".dockerignore excludes target/, .git/, .venv/")


def main() -> int:
    started = time.monotonic()
    binaries, worker_names, _ = conventions()
    print(f"toko deployment checks (Kubernetes {K8S_VERSION} schemas; Helm SDK {helm.helm_sdk_version()}; "
          f"CONVENTIONS.md: {len(binaries)} binaries, {len(worker_names)} workers)")
    print("note: KEDA ScaledObject/TriggerAuthentication and ServiceMonitor are CRDs absent from the Kubernetes "
          "schemas; they are checked structurally (apiVersion, kind, required fields, value types).")
    with helm.Chart.load(CHART) as chart:
        check_settings(chart)
        counts = check_chart(chart, worker_names)
        check_rejections(chart)
        k8s = check_k8s_dir(chart)
        check_docs(chart, k8s)
    check_compose(binaries, worker_names)
    check_quickstart(worker_names)
    check_dockerfile(binaries)

    elapsed = time.monotonic() - started
    print("\n== summary")
    for label, (core, crd) in counts.items():
        print(f"  {label:<16} {core + crd:>3} manifests  ({core} Kubernetes {K8S_VERSION} schema, {crd} CRD structural)")
    print(f"  schema rejections: {len(SCHEMA_REJECTS)} bad values sets; elapsed {elapsed:.1f}s")
    if R.failures:
        print(f"\n{len(R.failures)} failure(s):")
        for failure in R.failures:
            print(f"  - {failure}")
    print(f"check-deploy: {R.passed} passed, {len(R.failures)} failed")
    return 1 if R.failures else 0


if __name__ == "__main__":
    sys.exit(main())
