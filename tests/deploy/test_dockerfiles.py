"""Dockerfile lint: multi-stage uv workspace build, non-root, exec-form uvicorn with a graceful
shutdown below the pod grace period, a health check, no build tools in the final image, and a
build context (``.dockerignore``) that holds every file the Dockerfiles copy."""

from __future__ import annotations

import re

import pytest

from tests.deploy.rendering import (
    APP_UID,
    POD_GRACE_SECONDS,
    REPO,
    SERVICES,
    Stage,
    build_context,
    parse_dockerfile,
)

BUILD_TOOLS = re.compile(r"\b(gcc|g\+\+|clang|make|build-essential|[\w.+-]+-dev|git|curl|wget)\b")
PRE_STOP_SECONDS = 5


def _stages(svc: str) -> tuple[dict[str, str], list[Stage]]:
    path = REPO / "services" / svc / "Dockerfile"
    assert path.is_file(), f"{path} missing"
    return parse_dockerfile(path)


@pytest.fixture(params=sorted(SERVICES))
def svc(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_multi_stage_from_pinned_python_slim(svc: str) -> None:
    _, stages = _stages(svc)
    assert len(stages) >= 2, "multi-stage build"
    final = stages[-1]
    assert final.base.startswith("python:3.11-slim"), final.base
    for stage in stages:
        assert ":" in stage.base and not stage.base.endswith(":latest"), f"unpinned base {stage.base}"
    builder = next(s for s in stages if s.name == "builder")
    assert builder.base == final.base, "builder and runtime must share the interpreter the venv points to"


def test_dependency_layer_is_cached_apart_from_the_code(svc: str) -> None:
    _, stages = _stages(svc)
    builder = next(s for s in stages if s.name == "builder")
    steps = [i for i in builder.instructions if i.cmd in {"COPY", "RUN"}]
    syncs = [n for n, i in enumerate(steps) if i.cmd == "RUN" and "uv sync" in i.args]
    assert len(syncs) == 2, "one sync for dependencies, one for the workspace packages"
    deps, code = (steps[n].args for n in syncs)
    for flag in ("--frozen", "--no-install-workspace", f"--package carbon-{svc}", "--no-dev"):
        assert flag in deps, f"dependency sync lacks {flag}"
    for flag in ("--frozen", f"--package carbon-{svc}", "--no-dev"):
        assert flag in code, f"package sync lacks {flag}"
    assert "--no-install-workspace" not in code
    before = [i.args for i in steps[: syncs[0]] if i.cmd == "COPY"]
    assert any("uv.lock" in a for a in before), "uv.lock is copied before the dependency sync"
    assert all(re.search(r"pyproject\.toml|uv\.lock|--from=", a) for a in before), (
        f"only manifests before the dependency layer: {before}"
    )
    between = [i.args for i in steps[syncs[0] : syncs[1]] if i.cmd == "COPY"]
    assert any(f"services/{svc}/" in a for a in between) and any("libs/common/" in a for a in between)


def test_final_stage_runs_uvicorn_as_non_root_with_graceful_shutdown(svc: str) -> None:
    _, stages = _stages(svc)
    final = stages[-1]
    users = final.of("USER")
    assert users, "USER in the final stage"
    user = users[-1].args.split(":")[0]
    assert user not in {"root", "0"} and user == str(APP_UID), user
    assert users[-1].line < final.of("CMD")[-1].line

    entry = final.of("ENTRYPOINT")
    cmd = final.of("CMD")
    for instr in entry + cmd:
        assert instr.exec_form() is not None, (
            f"line {instr.line}: shell form; SIGTERM would not reach uvicorn"
        )
    argv = (entry[-1].exec_form() if entry else []) + (cmd[-1].exec_form() if cmd else [])
    assert argv[:2] == ["uvicorn", f"carbon_{svc}.entrypoints.app:create_app"], argv
    assert "--factory" in argv
    assert argv[argv.index("--port") + 1] == str(SERVICES[svc])
    assert argv[argv.index("--host") + 1] == "0.0.0.0"
    graceful = int(argv[argv.index("--timeout-graceful-shutdown") + 1])
    assert graceful > 0 and graceful + PRE_STOP_SECONDS < POD_GRACE_SECONDS

    assert [i.args for i in final.of("EXPOSE")] == [str(SERVICES[svc])]
    health = final.of("HEALTHCHECK")
    assert health, "HEALTHCHECK"
    probe = health[-1].exec_form()
    assert probe and any(f"127.0.0.1:{SERVICES[svc]}/livez" in a for a in probe), probe


def test_final_stage_has_no_build_tooling(svc: str) -> None:
    _, stages = _stages(svc)
    final = stages[-1]
    for instr in final.of("RUN"):
        if "apt-get install" in instr.args:
            packages = instr.args.split("apt-get install", 1)[1].split("&&")[0]
            assert not BUILD_TOOLS.search(packages), f"line {instr.line}: build tools in the runtime image"
        assert "pip install" not in instr.args and "uv " not in instr.args
    copies = [i.args for i in final.of("COPY")]
    assert all("--from=builder" in a for a in copies), copies


def test_rating_image_ships_cjk_fonts() -> None:
    _, stages = _stages("rating")
    runs = " ".join(i.args for i in stages[-1].of("RUN"))
    assert "fonts-wqy-microhei" in runs and "--no-install-recommends" in runs and "/var/lib/apt/lists" in runs


def test_build_context_holds_what_the_dockerfiles_copy() -> None:
    context = build_context()
    for svc in SERVICES:
        _, stages = _stages(svc)
        for stage in stages:
            for instr in stage.of("COPY"):
                parts = [p for p in instr.args.split() if not p.startswith("--")]
                if "--from=" in instr.args:
                    continue
                for raw in parts[:-1]:
                    src = raw.rstrip("/")
                    present = src in context or any(f.startswith(src + "/") for f in context)
                    assert present, (
                        f"services/{svc}/Dockerfile line {instr.line}: {src} not in the build context"
                    )
    assert "uv.lock" in context and "pyproject.toml" in context
    assert not any("/tests/" in f or f.startswith(("tests/", ".git/", ".venv/")) for f in context)
    assert not any(f.endswith((".pyc", "/Dockerfile")) for f in context)
    for svc in SERVICES:
        assert any(f.startswith(f"services/{svc}/src/carbon_{svc}/") for f in context), svc


def test_build_context_holds_each_service_runtime_tree() -> None:
    """pyproject.toml and src/ (with the Alembic migrations in it) must reach the image."""
    context = build_context()
    for svc in SERVICES:
        root = REPO / "services" / svc
        wanted = [root / "pyproject.toml", root / "alembic.ini", *(root / "src").rglob("*")]
        for path in wanted:
            rel = path.relative_to(REPO).as_posix()
            if path.is_file() and not re.search(r"/__pycache__/|\.py[co]$", rel):
                assert rel in context, f"{rel} is excluded by .dockerignore"
