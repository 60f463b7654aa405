"""Typed settings fragments shared by every service (pydantic-settings).

Each service composes these into its own ``Settings`` with its own env prefix, e.g.
``INGEST_KAFKA__BOOTSTRAP_SERVERS``. Secrets come only from the environment; outside the
``development``/``test`` environments a default or development secret refuses to start.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_MARKERS = ("changeme", "dev-", "development", "insecure")


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    STAGING = "staging"
    PRODUCTION = "production"

    @property
    def allows_dev_secrets(self) -> bool:
        return self in (Environment.DEVELOPMENT, Environment.TEST)


class KafkaSettings(BaseModel):
    """Kafka client settings. ``bootstrap_servers`` empty means: use the in-process bus."""

    bootstrap_servers: str = ""
    client_id: str = "carbon-bureau"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    #: consumer batch size for ``getmany`` and how long to wait for it to fill
    max_batch: int = 500
    poll_timeout_ms: int = 200
    #: how long a consumer lets a part-filled batch fill before handling it (``*_KAFKA__CONSUMER_LINGER_MS``).
    #: A consumer that keeps up would otherwise run one transaction per trickle of records, each
    #: publishing intermediate results downstream (an account restated per fact, a rating per
    #: account); measured in docs/benchmarks.md. Adds at most this much latency per hop; 0 = off.
    consumer_linger_ms: int = 100
    topic_partitions: int = 6
    #: a namespace for topics and consumer groups on a shared cluster (e.g. "staging." or a test
    #: run's id): applied at the Kafka boundary only, services keep using the plain names
    namespace: str = ""
    #: create missing topics at start (a cluster that forbids auto-creation still gets ours)
    create_topics: bool = True

    @property
    def enabled(self) -> bool:
        return bool(self.bootstrap_servers.strip())


class PostgresSettings(BaseModel):
    """One database per service. ``url`` is an SQLAlchemy async URL (postgresql+asyncpg://...)."""

    url: SecretStr = SecretStr("postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    pool_size: int = 10
    max_overflow: int = 10
    echo: bool = False


class TelemetrySettings(BaseModel):
    """OpenTelemetry is configured from the standard ``OTEL_*`` variables; these are our knobs."""

    service_name: str = "carbon-bureau"
    log_level: str = "INFO"
    log_json: bool = True
    #: export spans over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise traces stay local
    traces_enabled: bool = True


class AuthSettings(BaseModel):
    """Bearer JWT verification. Keys are public keys (PEM) or a JWKS URL/file."""

    enabled: bool = False
    issuer: str = "carbon-bureau-dev"
    audience: str = "carbon-bureau"
    public_key_file: str | None = None
    jwks_url: str | None = None
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "EdDSA"])
    #: the development key pair's fingerprint is refused outside development
    dev_key: bool = True


class ServiceSettings(BaseSettings):
    """Base for every service's settings: nested fragments via ``__``."""

    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="ignore")

    environment: Environment = Environment.DEVELOPMENT
    service_name: str = "carbon-bureau"
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    postgres: PostgresSettings = Field(default_factory=PostgresSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    #: run the outbox relay and the consumers inside the web process
    run_workers: bool = True
    #: the outbox relay is woken at most once per this many ms after commits (``<SVC>_RELAY_COALESCE_MS``;
    #: 0: after every commit), so the events of several commits are published in one relay round;
    #: events wait at most this much longer (docs/performance-notes.md)
    relay_coalesce_ms: int = Field(default=50, ge=0, le=5000)

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> ServiceSettings:
        if self.environment.allows_dev_secrets:
            return self
        problems: list[str] = []
        pg_url = self.postgres.url.get_secret_value()
        if "postgres@" in pg_url or ":postgres@" in pg_url:
            problems.append("postgres.url uses the default superuser without a password")
        if self.kafka.sasl_password is not None:
            pw = self.kafka.sasl_password.get_secret_value().lower()
            if any(m in pw for m in DEV_SECRET_MARKERS):
                problems.append("kafka.sasl_password is a development default")
        if not self.auth.enabled:
            problems.append("auth.enabled must be true outside development")
        if self.auth.dev_key:
            problems.append("auth.dev_key: the development signing key is refused outside development")
        if problems:
            raise ValueError(f"refusing to start in {self.environment.value}: " + "; ".join(problems))
        return self
