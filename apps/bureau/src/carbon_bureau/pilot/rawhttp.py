"""A lean HTTP/1.1 client for the bench's paced load: JSON POSTs over keep-alive connections.

The paced load sends ~320 small POSTs/s from the bench's own Python process, on the same two
cores as the system under test. Through httpx that process used 0.6 of a core in the paced phase
(docs/benchmarks.md), starving the services it measures and queueing the POSTs in the client
itself. This client does only what the load needs — ``Content-Length`` bodies, keep-alive, one
request per connection at a time — at a fraction of the CPU, as ``wrk`` does for the quote load.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit


class HttpError(Exception):
    """The connection failed or the answer was not a ``Content-Length`` HTTP/1.1 response."""


class RawHttpPool:
    """Up to ``size`` keep-alive connections to one ``http://host:port`` origin."""

    def __init__(self, base_url: str, size: int = 64, timeout: float = 300.0) -> None:
        u = urlsplit(base_url)
        if u.scheme != "http" or not u.hostname:
            raise ValueError(f"only http://host:port origins: {base_url!r}")
        self.host = u.hostname
        self.port = u.port or 80
        self.prefix = u.path.rstrip("/")
        self.timeout = timeout
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._slots = asyncio.Semaphore(size)
        self._host_header = f"{self.host}:{self.port}".encode()

    async def post_json(self, path: str, body: bytes) -> tuple[int, bytes]:
        """POST ``body`` (JSON bytes) to ``path``; returns (status, response body)."""
        head = (
            b"POST " + (self.prefix + path).encode() + b" HTTP/1.1\r\nHost: " + self._host_header
            + b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode()
            + b"\r\n\r\n"
        )  # fmt: skip
        async with self._slots:
            reused = bool(self._idle)
            conn = self._idle.pop() if reused else await self._open()
            try:
                status, payload, keep = await asyncio.wait_for(
                    self._exchange(conn, head + body), self.timeout
                )
            except HttpError:
                conn[1].close()
                if not reused:
                    raise
                # the server closed the idle connection (uvicorn: after 5 s of keep-alive): once
                # more on a new one (the bench's POSTs are idempotent: record ids are idempotency keys)
                conn = await self._open()
                try:
                    status, payload, keep = await asyncio.wait_for(
                        self._exchange(conn, head + body), self.timeout
                    )
                except BaseException:
                    conn[1].close()
                    raise
            except BaseException:
                conn[1].close()
                raise
            if keep:
                self._idle.append(conn)
            else:
                conn[1].close()
            return status, payload

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            return await asyncio.open_connection(self.host, self.port)
        except OSError as exc:
            raise HttpError(f"connect {self.host}:{self.port}: {exc}") from exc

    @staticmethod
    async def _exchange(
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], request: bytes
    ) -> tuple[int, bytes, bool]:
        reader, writer = conn
        try:
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            raise HttpError(f"no response: {exc!r}") from exc
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise HttpError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
        length: int | None = None
        keep = parts[0] == b"HTTP/1.1"
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"transfer-encoding":
                raise HttpError("chunked responses are not supported by this client")
            elif name == b"connection":
                keep = value.strip().lower() != b"close"
        try:
            body = await reader.readexactly(length) if length else b""
        except (OSError, asyncio.IncompleteReadError) as exc:
            raise HttpError(f"truncated body: {exc!r}") from exc
        return int(parts[1]), body, keep

    async def close(self) -> None:
        while self._idle:
            _, writer = self._idle.pop()
            writer.close()
