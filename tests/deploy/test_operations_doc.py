"""docs/operations.md stays true: every setting is documented, every path and module it names
exists, its shell blocks parse, its redrive script compiles, its Secrets are the ones the
manifests reference."""

from __future__ import annotations

import importlib
import importlib.util
import re
import subprocess

import pytest

from tests.deploy.rendering import REPO, SERVICES, Doc, by_kind, env_prefix, settings_env_names

DOC = REPO / "docs" / "operations.md"


@pytest.fixture(scope="module")
def text() -> str:
    return DOC.read_text()


def test_every_setting_is_in_the_configuration_reference(text: str) -> None:
    missing = []
    for svc in SERVICES:
        prefix = env_prefix(svc)
        names = settings_env_names(svc)
        for name in sorted(names):
            if any(other.startswith(name + "__") for other in names):
                continue  # a nested group (INGEST_KAFKA); its fields are listed
            shared = "<SVC>_" + name.removeprefix(prefix)
            if f"`{shared}`" not in text and f"`{name}`" not in text:
                missing.append(f"| `{name}` | | |")
    assert not missing, "add to docs/operations.md §3:\n" + "\n".join(missing)


def test_named_repository_paths_exist(text: str) -> None:
    paths = set(re.findall(r"`((?:deploy|scripts|services|docs|tests)/[\w./<>-]+)`", text))
    paths |= {"docker-compose.yml"} if "docker-compose.yml" in text else set()
    for raw in paths:
        candidates = [raw.replace("<svc>", s) for s in SERVICES] if "<svc>" in raw else [raw]
        for rel in candidates:
            assert (REPO / rel.rstrip("/")).exists(), f"docs/operations.md names {rel}, which does not exist"


def test_named_python_modules_exist(text: str) -> None:
    modules = set(re.findall(r"python -m ([\w.<>]+)", text))
    assert modules
    for raw in modules:
        for name in {raw.replace("<svc>", s) for s in SERVICES}:
            assert importlib.util.find_spec(name) is not None, name


def test_shell_blocks_parse(text: str) -> None:
    blocks = re.findall(r"```sh\n(.*?)```", text, re.DOTALL)
    assert len(blocks) >= 4
    for block in blocks:
        proc = subprocess.run(["bash", "-n"], input=block, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, f"{proc.stderr}\n{block}"


def test_dlq_headers_are_described(text: str) -> None:
    headers = set(
        re.findall(r'"(dlq_\w+)"', (REPO / "libs/common/src/carbon_common/bus/processing.py").read_text())
    )
    assert headers
    for header in headers:
        assert f"`{header}`" in text, f"DLQ header {header} is not described"


def test_every_documented_bureau_command_exists(text: str) -> None:
    """Each `bureau <group> <command>` the runbook shows answers --help (so it exists as written)."""
    from typer.testing import CliRunner

    from carbon_bureau import cli

    cli._attach()
    commands = set(re.findall(r"(?<![\w-])bureau ((?:[a-z]+)(?: [a-z][a-z-]*)?)", text))
    assert {"dlq redrive", "dlq inspect"} <= commands, commands
    runner = CliRunner()
    for command in sorted(commands):
        result = runner.invoke(cli.app, [*command.split(), "--help"])
        assert result.exit_code == 0, f"`bureau {command} --help` failed: {result.output}"


def test_secrets_table_matches_the_manifests(rendered: dict[str, list[Doc]], text: str) -> None:
    names: set[str] = set()
    for d in by_kind(rendered["prod"], "Deployment").values():
        pod = d["spec"]["template"]["spec"]
        for c in pod["containers"]:
            names |= {
                e["valueFrom"]["secretKeyRef"]["name"]
                for e in c.get("env", [])
                if "secretKeyRef" in e.get("valueFrom", {})
            }
        names |= {v["secret"]["secretName"] for v in pod.get("volumes", []) if "secret" in v}
    for name in names:
        generic = re.sub(rf"^({'|'.join(SERVICES)})-", "<svc>-", name)
        assert f"`{generic}`" in text, f"Secret {name} is not in docs/operations.md §4"
