"""Session fixtures for the deployment tests: the pinned kustomize and the rendered overlays."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.rendering import K8S, OVERLAYS, Doc, find_kustomize, render


@pytest.fixture(scope="session")
def kustomize() -> Path:
    path, why = find_kustomize()
    if path is None:
        pytest.fail(why, pytrace=False)
    return path


@pytest.fixture(scope="session")
def rendered(kustomize: Path) -> dict[str, list[Doc]]:
    """Every overlay, rendered once: {"dev": [...], "prod": [...], "topics": [...]}."""
    out = {name: render(kustomize, K8S / "overlays" / name) for name in OVERLAYS}
    out["topics"] = render(kustomize, K8S / "topics")
    return out


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def docs(overlay: str, rendered: dict[str, list[Doc]]) -> list[Doc]:
    return rendered[overlay]
