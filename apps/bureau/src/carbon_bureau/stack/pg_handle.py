"""A handle on a PostgreSQL server: its URLs and idempotent database creation.

The same handle serves the server we start ourselves (:func:`.postgres.start_postgres`) and an
external one given as ``DATABASE_URL``, so callers never care which one they have.
URLs are SQLAlchemy async URLs (``postgresql+asyncpg://``) because that is what every service's
``PostgresSettings.url`` expects; :meth:`PgHandle.dsn` gives the plain libpq form for asyncpg.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from .procs import Deadline, StackError, run_sync, tail

ASYNC_SCHEME = "postgresql+asyncpg"
#: One database per service (DESIGN: no shared schema between services).
SERVICE_DATABASES = ("carbon_ingest", "carbon_accounting", "carbon_rating", "carbon_lending")


def quote_ident(name: str) -> str:
    """Quote an SQL identifier (database names cannot be bound as parameters)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class PgHandle:
    """Where a PostgreSQL server is and, if we manage it, where its files are.

    ``base_url`` is scheme + credentials + host + port, without a database, e.g.
    ``postgresql+asyncpg://postgres@127.0.0.1:55432`` (exported as ``PG_URL_BASE``).
    """

    base_url: str
    query: str = ""
    data_dir: Path | None = None
    system_user: str | None = None
    log_file: Path | None = None

    @classmethod
    def from_url(cls, url: str) -> PgHandle:
        """A handle on an external server from any ``postgres[ql][+driver]://`` URL."""
        parts = urlsplit(url)
        if not parts.scheme.startswith("postgres") or not parts.hostname:
            raise StackError(f"Not a PostgreSQL URL with a host: {url!r}")
        return cls(base_url=f"{ASYNC_SCHEME}://{parts.netloc}", query=parts.query)

    @property
    def managed(self) -> bool:
        """True when this process tree started the server (it has a data directory)."""
        return self.data_dir is not None

    @property
    def port(self) -> int:
        return urlsplit(self.base_url).port or 5432

    def url(self, db: str) -> str:
        """SQLAlchemy async URL of database ``db``."""
        return f"{self.base_url}/{db}" + (f"?{self.query}" if self.query else "")

    def dsn(self, db: str = "postgres") -> str:
        """Plain ``postgresql://`` DSN of ``db`` for asyncpg / psql."""
        return "postgresql" + self.url(db).removeprefix(ASYNC_SCHEME)

    # -- databases ----------------------------------------------------------------------------
    async def acreate_database(self, name: str) -> bool:
        """Create ``name`` unless it exists; True if it was created. Safe to race."""
        conn = await asyncpg.connect(self.dsn("postgres"))
        try:
            if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                return False
            try:
                await conn.execute(f"CREATE DATABASE {quote_ident(name)}")
            except asyncpg.DuplicateDatabaseError:
                return False
            return True
        finally:
            await conn.close()

    def create_database(self, name: str) -> bool:
        """Synchronous :meth:`acreate_database` (works inside a running event loop too)."""
        return run_sync(self.acreate_database(name))

    async def adrop_database(self, name: str) -> None:
        """Drop ``name`` if it exists, disconnecting its sessions (tests' throwaway databases)."""
        conn = await asyncpg.connect(self.dsn("postgres"))
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
        finally:
            await conn.close()

    def drop_database(self, name: str) -> None:
        run_sync(self.adrop_database(name))

    def stop(self) -> None:
        """Stop the server if we manage it; an external server (``DATABASE_URL``) is left alone."""
        if self.data_dir is not None:
            from .postgres import stop_postgres

            stop_postgres(self.data_dir, system_user=self.system_user)

    async def await_ready(self, within: float = 60.0, *, alive: Callable[[], bool] | None = None) -> None:
        """Retry a real connection until the server accepts it, or fail with its log tail.

        ``alive`` (a zero-argument callable) lets the caller fail fast if the server died.
        """
        deadline = Deadline(within)
        last: BaseException | None = None
        while not deadline.expired:
            if alive is not None and not alive():
                break
            try:
                conn = await asyncpg.connect(self.dsn("postgres"), timeout=min(5.0, deadline.remaining()))
            except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
                last = exc
                await asyncio.sleep(0.1)
                continue
            await conn.close()
            return
        log = f"\nLast lines of {self.log_file}:\n{tail(self.log_file)}" if self.log_file else ""
        raise StackError(f"PostgreSQL at {self.base_url} is not accepting connections ({last!r}).{log}")
