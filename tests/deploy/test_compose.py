"""docker-compose.yml stays in step with the images and the settings: health checks everywhere,
ordered start-up by conditions, env names that the services actually read, the contract topics."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from carbon_common.events.topics import Topics
from carbon_common.settings import KafkaSettings
from tests.deploy.rendering import (
    APP_UID,
    REPO,
    SERVICES,
    env_prefix,
    load_settings,
    parse_dockerfile,
    settings_env_names,
)

COMPOSE = REPO / "docker-compose.yml"
INITDB = REPO / "deploy" / "compose" / "initdb.sql"
ONESHOT_CONDITION = "service_completed_successfully"
HEALTHY_CONDITION = "service_healthy"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


def _oneshot(spec: dict[str, Any]) -> bool:
    return spec.get("restart", "no") == "no"


def _env(spec: dict[str, Any]) -> dict[str, str]:
    env = spec.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def test_expected_services(services: dict[str, dict[str, Any]]) -> None:
    expected = {"kafka", "kafka-init", "postgres"} | set(SERVICES) | {f"{s}-migrate" for s in SERVICES}
    assert set(services) == expected


def test_long_running_services_have_health_checks(services: dict[str, dict[str, Any]]) -> None:
    for name, spec in services.items():
        if _oneshot(spec):
            continue
        check = spec.get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), f"{name}: no healthcheck"
        assert check["test"][0] in {"CMD", "CMD-SHELL"}, name
        assert {"interval", "timeout", "retries"} <= set(check), name


def test_builds_use_dockerfiles_that_exist(services: dict[str, dict[str, Any]]) -> None:
    for name, spec in services.items():
        if "build" not in spec:
            continue
        build = spec["build"]
        context = (COMPOSE.parent / build.get("context", ".")).resolve()
        dockerfile = context / build.get("dockerfile", "Dockerfile")
        assert dockerfile.is_file(), f"{name}: {dockerfile} missing"
        assert context == REPO, f"{name}: the build context is the repository root"
        svc = name.removesuffix("-migrate")
        assert dockerfile == REPO / "services" / svc / "Dockerfile", name
        assert spec["image"] == services[svc]["image"], f"{name}: migrations run the service image"


def test_depends_on_uses_conditions(services: dict[str, dict[str, Any]]) -> None:
    for name, spec in services.items():
        deps = spec.get("depends_on", {})
        assert isinstance(deps, dict), f"{name}: depends_on needs the long form with conditions"
        for dep, how in deps.items():
            assert dep in services, f"{name} depends on unknown {dep}"
            want = ONESHOT_CONDITION if _oneshot(services[dep]) else HEALTHY_CONDITION
            assert how.get("condition") == want, f"{name} -> {dep}: condition {want}"
    for svc in SERVICES:
        assert {"postgres", "kafka", "kafka-init", f"{svc}-migrate"} <= set(services[svc]["depends_on"])
        assert "postgres" in services[f"{svc}-migrate"]["depends_on"]


def test_service_env_follows_the_prefix_scheme(services: dict[str, dict[str, Any]]) -> None:
    for name, spec in services.items():
        svc = name.removesuffix("-migrate")
        if svc not in SERVICES:
            continue
        prefix = env_prefix(svc)
        env = _env(spec)
        for key in env:
            if key.startswith("OTEL_"):
                continue
            assert key in settings_env_names(svc), f"{name}: {key} is not a {prefix}* setting"
        assert env[f"{prefix}ENVIRONMENT"] == "development"
        assert env[f"{prefix}KAFKA__BOOTSTRAP_SERVERS"] == "kafka:9092"
        url = urlsplit(env[f"{prefix}POSTGRES__URL"])
        assert url.scheme == "postgresql+asyncpg" and url.hostname == "postgres"
        assert url.path == f"/carbon_{svc}" and url.username == f"carbon_{svc}"
        if not name.endswith("-migrate"):
            assert env["OTEL_SERVICE_NAME"] == f"carbon-{svc}"
        settings: Any = load_settings(svc, env)  # the service's own validation accepts it
        assert settings.kafka.enabled


def test_migrations_are_one_shot(services: dict[str, dict[str, Any]]) -> None:
    for svc in SERVICES:
        spec = services[f"{svc}-migrate"]
        assert _oneshot(spec)
        assert spec["command"] == ["python", "-m", f"carbon_{svc}.entrypoints.migrate"]


def test_containers_match_the_image_and_are_hardened(services: dict[str, dict[str, Any]]) -> None:
    for svc, port in SERVICES.items():
        _, stages = parse_dockerfile(REPO / "services" / svc / "Dockerfile")
        assert [i.args for i in stages[-1].of("EXPOSE")] == [str(port)]
        spec = services[svc]
        assert f"127.0.0.1:{port}:{port}" in spec["ports"]
        probe = " ".join(spec["healthcheck"]["test"])
        assert f"127.0.0.1:{port}/readyz" in probe, probe
        for name in (svc, f"{svc}-migrate"):
            s = services[name]
            assert s["user"] == f"{APP_UID}:{APP_UID}" and s["read_only"] is True, name
            assert "/tmp" in s["tmpfs"] and s["cap_drop"] == ["ALL"], name
            assert "no-new-privileges:true" in s["security_opt"], name
        argv = stages[-1].of("CMD")[-1].exec_form() or []
        graceful = int(argv[argv.index("--timeout-graceful-shutdown") + 1])
        assert int(spec["stop_grace_period"].rstrip("s")) > graceful, svc


def test_kafka_is_single_node_kraft(services: dict[str, dict[str, Any]]) -> None:
    kafka = services["kafka"]
    image, _, tag = kafka["image"].partition(":")
    assert image == "apache/kafka" and tag.split(".")[0] == "4", kafka["image"]
    env = _env(kafka)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false", "topics come from kafka-init only"
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert env["CLUSTER_ID"]
    assert services["kafka-init"]["image"] == kafka["image"]


def test_kafka_init_creates_the_contract_topics(services: dict[str, dict[str, Any]]) -> None:
    script = " ".join(services["kafka-init"]["command"])
    loop = re.search(r"for t in ([^;]+);", script)
    assert loop, "kafka-init loops over the topics"
    listed = loop.group(1).split()
    assert set(listed) == set(Topics.ALL)
    assert 'topic "$$t.dlq"' in script, "every topic gets its .dlq"
    assert f"--partitions {KafkaSettings().topic_partitions}" in script
    assert "--if-not-exists" in script
    assert re.search(
        rf'"\$\$t" = {re.escape(Topics.ENTERPRISES)} \]; then topic "\$\$t" --config cleanup.policy=compact',
        script,
    )


def test_postgres_creates_one_database_per_service(services: dict[str, dict[str, Any]]) -> None:
    pg = services["postgres"]
    assert pg["image"] == "postgres:16"
    mounts = [v.split(":") for v in pg["volumes"]]
    assert any(
        src == "./deploy/compose/initdb.sql" and dst.startswith("/docker-entrypoint-initdb.d/")
        for src, dst, *_ in mounts
    )
    sql = INITDB.read_text()
    for svc in SERVICES:
        env = _env(services[svc])
        url = urlsplit(env[f"{env_prefix(svc)}POSTGRES__URL"])
        assert f"CREATE ROLE {url.username} LOGIN PASSWORD '{url.password}';" in sql, svc
        assert f"CREATE DATABASE carbon_{svc} OWNER {url.username};" in sql, svc
        assert f"REVOKE ALL ON DATABASE carbon_{svc} FROM PUBLIC;" in sql, svc
