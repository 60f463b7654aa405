"""Settings refuse development secrets outside development."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from carbon_common.settings import ServiceSettings


def test_development_accepts_defaults() -> None:
    s = ServiceSettings()
    assert s.environment.value == "development" and not s.kafka.enabled


def test_production_refuses_default_database_user_and_dev_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(ValidationError) as err:
        ServiceSettings()
    text = str(err.value)
    assert "postgres.url" in text and "auth.enabled" in text and "auth.dev_key" in text


def test_production_starts_with_real_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("POSTGRES__URL", "postgresql+asyncpg://ingest:s3cr3t-from-vault@db:5432/carbon_ingest")
    monkeypatch.setenv("AUTH__ENABLED", "true")
    monkeypatch.setenv("AUTH__DEV_KEY", "false")
    monkeypatch.setenv("KAFKA__BOOTSTRAP_SERVERS", "kafka:9092")
    s = ServiceSettings()
    assert s.kafka.enabled and s.auth.enabled


def test_production_refuses_a_development_kafka_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("POSTGRES__URL", "postgresql+asyncpg://ingest:s3cr3t@db:5432/carbon_ingest")
    monkeypatch.setenv("AUTH__ENABLED", "true")
    monkeypatch.setenv("AUTH__DEV_KEY", "false")
    monkeypatch.setenv("KAFKA__SASL_PASSWORD", "changeme")
    with pytest.raises(ValidationError, match=r"kafka\.sasl_password"):
        ServiceSettings()
