"""The local real stack: Apache Kafka (KRaft) and PostgreSQL as plain processes, no Docker.

Used by ``make up``/``make down`` (through ``scripts/stack.sh``), by ``make test`` and by
integration tests. The embedded demo uses :func:`start_postgres` directly.

Python API (all idempotent, state kept in ``var/stack/state.json``)::

    from carbon_bureau import stack
    bootstrap = stack.kafka_up()              # "127.0.0.1:9092", topics created
    pg = stack.postgres_up()                  # PgHandle; service databases created
    pg.create_database("test_x"); pg.url("test_x")  # postgresql+asyncpg://postgres@127.0.0.1:55432/test_x
    stack.restart_kafka(); stack.kafka_down(); stack.postgres_down()

    handle = stack.start_postgres(Path("var/demo/pg"), 55433)   # embedded demo mode
    handle.stop()
"""

from .api import (
    environment,
    kafka_down,
    kafka_up,
    postgres_down,
    postgres_handle,
    postgres_up,
    restart_kafka,
    topic_partitions,
)
from .pg_handle import SERVICE_DATABASES, PgHandle
from .postgres import start_postgres, stop_postgres
from .procs import StackError
from .settings import StackSettings

__all__ = [
    "SERVICE_DATABASES",
    "PgHandle",
    "StackError",
    "StackSettings",
    "environment",
    "kafka_down",
    "kafka_up",
    "postgres_down",
    "postgres_handle",
    "postgres_up",
    "restart_kafka",
    "start_postgres",
    "stop_postgres",
    "topic_partitions",
]
