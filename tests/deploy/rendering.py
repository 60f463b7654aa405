"""Helpers for the deployment tests: render kustomize overlays, validate against the bundled
Kubernetes schemas, parse Dockerfiles and ``.dockerignore``, and name the settings env vars.

kustomize is never downloaded here: ``scripts/ensure-kustomize.sh`` builds the pinned version into
``${CARBON_CACHE:-~/.cache/carbon-bureau}/bin`` and the tests *fail* when it is missing.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml
from pydantic import BaseModel

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
#: "current" = the newest schema set kubernetes-validate bundles; "oldest" = the oldest minor we
#: support (PodDisruptionBudget.unhealthyPodEvictionPolicy and the preStop sleep action are GA/on).
K8S_VERSIONS = ("1.37.0", "1.31.0")
#: Custom resources have no bundled schema. Exactly these kinds skip schema validation (their
#: fields are checked by our own tests); any other kind without a schema is a failure.
NON_CORE_KINDS = frozenset({("kafka.strimzi.io/v1beta2", "KafkaTopic")})

SERVICES = {"ingest": 8001, "accounting": 8002, "rating": 8003, "lending": 8004}
HTTP_FACING = frozenset({"ingest", "rating", "lending"})
HPA_SERVICES = frozenset({"ingest", "lending"})
APP_UID = 10001
POD_GRACE_SECONDS = 30

Doc = dict[str, Any]


def env_prefix(svc: str) -> str:
    return f"{svc.upper()}_"


# --------------------------------------------------------------------------------- kustomize


def pinned_kustomize_version() -> str:
    script = (REPO / "scripts" / "ensure-kustomize.sh").read_text()
    match = re.search(r'KUSTOMIZE_VERSION="\$\{KUSTOMIZE_VERSION:-(v[0-9.]+)\}"', script)
    assert match, "scripts/ensure-kustomize.sh must pin KUSTOMIZE_VERSION"
    return match.group(1)


def find_kustomize() -> tuple[Path | None, str]:
    """The pinned kustomize binary, or None and the reason it is unusable."""
    want = pinned_kustomize_version()
    cache_dir = Path(os.environ.get("CARBON_CACHE") or Path.home() / ".cache" / "carbon-bureau")
    candidates = [
        os.environ.get("KUSTOMIZE"),
        str(cache_dir / "bin" / "kustomize"),
        shutil.which("kustomize"),
    ]
    seen: list[str] = []
    for candidate in filter(None, candidates):
        path = Path(candidate)
        if not path.is_file():
            continue
        got = subprocess.run(
            [str(path), "version"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if got == want:
            return path, ""
        seen.append(f"{path} is {got or 'unknown'}")
    why = f"kustomize {want} not found" + (f" ({'; '.join(seen)})" if seen else "")
    return None, f"{why}; run scripts/ensure-kustomize.sh (the Makefile does before the tests)"


def render(kustomize: Path, directory: Path) -> list[Doc]:
    proc = subprocess.run(
        [str(kustomize), "build", "--load-restrictor", "LoadRestrictionsRootOnly", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, f"kustomize build {directory} failed:\n{proc.stderr}"
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def schema_errors(docs: list[Doc], version: str) -> tuple[list[str], list[str]]:
    """``kubernetes-validate --strict`` on each document: (errors, skipped non-core kinds)."""
    errors: list[str] = []
    skipped: list[str] = []
    for doc in docs:
        ref = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            if (doc.get("apiVersion"), doc.get("kind")) in NON_CORE_KINDS:
                skipped.append(ref)
            else:
                errors.append(f"{ref}: no schema for {doc.get('apiVersion')} in Kubernetes {version}")
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            errors.append(f"{ref}: {path}: {exc.message}")
    return errors, skipped


def by_kind(docs: list[Doc], kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """matchLabels/matchExpressions (In, NotIn, Exists, DoesNotExist) against a label set."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


# ------------------------------------------------------------------------------ settings names


@cache
def settings_env_names(svc: str) -> frozenset[str]:
    """Every env var ``carbon_<svc>.settings.Settings`` reads (its prefix, ``__`` nesting)."""
    settings = importlib.import_module(f"carbon_{svc}.settings").Settings
    prefix = settings.model_config.get("env_prefix", "")
    assert prefix == env_prefix(svc), f"carbon_{svc} reads {prefix!r}, the manifests use {env_prefix(svc)!r}"
    names: set[str] = set()

    def walk(model: type[BaseModel], stem: str) -> None:
        for name, info in model.model_fields.items():
            key = f"{stem}{name.upper()}"
            names.add(key)
            ann = info.annotation
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                walk(ann, f"{key}__")

    walk(settings, prefix)
    return frozenset(names)


def load_settings(svc: str, env: dict[str, str]) -> BaseModel:
    """Build the service's Settings from exactly ``env`` (fail-fast validation included)."""
    settings = importlib.import_module(f"carbon_{svc}.settings").Settings
    saved = {k: v for k, v in os.environ.items() if k.startswith(env_prefix(svc))}
    for key in saved:
        del os.environ[key]
    os.environ.update(env)
    try:
        return settings(_env_file=None)  # type: ignore[no-any-return]
    finally:
        for key in env:
            os.environ.pop(key, None)
        os.environ.update(saved)


# -------------------------------------------------------------------------------- Dockerfiles


@dataclass
class Instruction:
    cmd: str
    args: str
    line: int

    def exec_form(self) -> list[str] | None:
        """The JSON-array argument of CMD/ENTRYPOINT/RUN/HEALTHCHECK CMD, or None (shell form)."""
        text = self.args
        if self.cmd == "HEALTHCHECK":
            text = re.sub(r"^(--\S+\s+)*CMD\s+", "", text)
        try:
            value = json.loads(text)
        except ValueError:
            return None
        return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def of(self, cmd: str) -> list[Instruction]:
        return [i for i in self.instructions if i.cmd == cmd]


def parse_dockerfile(path: Path) -> tuple[dict[str, str], list[Stage]]:
    """(global ARG defaults, stages). Handles continuations and comments; enough for lint tests."""
    lines = path.read_text().splitlines()
    logical: list[tuple[int, str]] = []
    buf, start = "", 0
    for number, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if buf and stripped.startswith("#"):
            continue
        if not buf:
            start = number
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        logical.append((start, buf + stripped))
        buf = ""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for number, text in logical:
        cmd, _, rest = text.partition(" ")
        cmd, rest = cmd.upper(), rest.strip()
        if cmd == "FROM":
            parts = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), parts[0])
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(base=base, name=name))
        elif not stages and cmd == "ARG":
            key, _, default = rest.partition("=")
            args[key] = default
        elif stages:
            stages[-1].instructions.append(Instruction(cmd, rest, number))
    return args, stages


# ------------------------------------------------------------------------------ .dockerignore


def _ignore_regex(pattern: str) -> re.Pattern[str]:
    """One .dockerignore pattern as Docker's pattern matcher reads it (``**`` spans dirs)."""
    pattern = os.path.normpath(pattern.strip().lstrip("/"))
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                i += 1
                out += "(.*/)?"
            else:
                out += ".*"
            continue
        ch = pattern[i]
        out += {"*": "[^/]*", "?": "[^/]"}.get(ch, re.escape(ch))
        i += 1
    return re.compile(f"^{out}$")


def build_context(root: Path = REPO) -> set[str]:
    """The repo-relative files Docker would send as the build context, per ``.dockerignore``."""
    rules: list[tuple[bool, re.Pattern[str]]] = []
    for raw in (root / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        rules.append((negate, _ignore_regex(line[1:] if negate else line)))

    def excluded(rel: str) -> bool:
        parts = rel.split("/")
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        verdict = False
        for negate, rx in rules:
            if any(rx.match(p) for p in prefixes):
                verdict = not negate
        return verdict

    files: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        dirnames[:] = [d for d in dirnames if d not in {".git", ".venv", ".tools", "node_modules"}]
        for name in filenames:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if not excluded(rel):
                files.add(rel)
    return files


def iter_repo_yaml(root: Path = REPO) -> Iterator[Path]:
    skip = {".git", ".venv", ".tools", "node_modules", ".stack", ".cache", "var"}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in skip]
        for name in filenames:
            if name.endswith((".yaml", ".yml")):
                yield Path(dirpath) / name
